// Energy per inference (docs/ENERGY.md), from each layer's own measured weight and input
// sparsity: the network table (dense, zero weights skipped, zero inputs skipped, both) and the
// same model layer by layer.
#include <map>

#include "reports/energy.h"
#include "reports/report_registry.h"
#include "core/train/keys.h"

namespace lowbit {

namespace {

using nlohmann::json;

// The bits of a layer's inputs for a run recorded before layer_stats held in_bits:
// what the activation quantizer of its config gives (the first layer sees the 32-bit image).
double legacy_in_bits(const RunData& r, bool first) {
  if (first) return 32;
  const json& act = r.config()["quant"]["act"];
  const std::string act_method = act["method"].get<std::string>();
  return act_method == "none" ? 32 : act_method == "sign" ? 1 : double(act["bits"].get<int64_t>());
}

// The energy model's inputs for one run, from its last epoch's layer statistics; nullopt
// when a quantized layer lacks its weight levels or weight sparsity or (measured) a layer its
// input sparsity, as in databases written before they were recorded. Without `measured` the
// input sparsity is 0 (the dense and zero-weight energies need no input statistics).
std::optional<std::vector<LayerEnergyInput>> energy_inputs(const RunData& r,
                                                           const LayerSeries& layers,
                                                           bool measured) {
  auto it = layers.find(r.id);
  if (it == layers.end()) return std::nullopt;
  std::vector<LayerEnergyInput> in;
  for (auto& [name, keys] : it->second) {
    if (!keys.count(key::kMacs)) continue;
    auto last = [&](const char* k) { return keys.at(k).back().second; };
    LayerEnergyInput l;
    l.name = name;
    l.macs = last(key::kMacs);
    l.weight_bits = keys.count(key::kWeightBits) ? last(key::kWeightBits) : 32;
    if (l.weight_bits < 32) {
      if (!keys.count(key::kWeightLevels) || !keys.count(key::kSparsity)) return std::nullopt;
      l.weight_levels = last(key::kWeightLevels);
      l.weight_sparsity = last(key::kSparsity);
    }
    l.in_bits = keys.count(key::kInBits) ? last(key::kInBits)
                                         : legacy_in_bits(r, keys.count(key::kFirst) && last(key::kFirst) > 0);
    if (measured) {
      if (!keys.count(key::kInSparsity)) return std::nullopt;
      l.in_sparsity = last(key::kInSparsity);
    }
    in.push_back(l);
  }
  if (in.empty()) return std::nullopt;
  return in;
}

using Value = std::function<std::optional<double>(const RunData&)>;

// A column; `invariant`: cannot vary with the seed; `best`: bold the best.
ColumnSpec col(const std::string& label, Value v, bool percent, bool invariant, bool best) {
  return ColumnSpec{label, std::move(v), {}, percent, true, 1.0, invariant, best};
}

// Each run's energy, computed once per run and mode: the per-layer table asks for every
// (layer, column) of a run.
class EnergyCache {
 public:
  explicit EnergyCache(const LayerSeries& layers) : layers_(layers) {}
  std::optional<EnergyResult> operator()(const RunData& r, bool measured) {
    auto [it, fresh] = computed_.try_emplace({r.id, measured});
    if (fresh)
      if (auto in = energy_inputs(r, layers_, measured)) it->second = inference_energy(*in);
    return it->second;
  }

 private:
  const LayerSeries& layers_;
  std::map<std::pair<int64_t, bool>, std::optional<EnergyResult>> computed_;
};

// The network: MACs, energy with dense and with measured inputs, and the sparsities behind it.
AggTable network_table(ReportContext& c, EnergyCache& energy) {
  const LayerSeries& layers = c.layers();
  const RunSeries& act_mean = c.act_mean();
  auto network = [&energy](bool measured, double scale, auto pick) -> Value {
    return [=, &energy](const RunData& r) -> std::optional<double> {
      auto en = energy(r, measured);
      return en ? std::optional<double>(pick(*en) * scale) : std::nullopt;
    };
  };
  // A sparsity averaged over the layers with their MACs as weights.
  auto mac_weighted = [&layers](bool measured, double LayerEnergyInput::*sparsity) -> Value {
    return [&layers, measured, sparsity](const RunData& r) -> std::optional<double> {
      auto in = energy_inputs(r, layers, measured);
      double m = 0, z = 0;
      if (in)
        for (auto& l : *in) m += l.macs, z += l.macs * (l.*sparsity);
      return m > 0 ? std::optional<double>(z / m) : std::nullopt;
    };
  };
  auto act_sparsity = [&act_mean](const RunData& r) -> std::optional<double> {
    auto a = act_mean.find(r.id);
    return a == act_mean.end() || a->second.empty() ? std::nullopt
                                                    : std::optional<double>(a->second.back().second);
  };
  using E = EnergyResult;
  std::vector<ColumnSpec> cols = {
      col("MMACs / inference", network(false, 1e-6, [](const E& e) { return e.macs; }), false, true, false),
      col("energy, dense (µJ)", network(false, 1e-6, [](const E& e) { return e.dense_pj; }), false, true, true),
      col("energy, zero weights skipped (µJ)", network(false, 1e-6, [](const E& e) { return e.weight_sparse_pj; }),
          false, false, true),
      col("energy, zero inputs skipped (µJ)", network(true, 1e-6, [](const E& e) { return e.input_sparse_pj; }),
          false, false, true),
      col("energy, both skipped (µJ)", network(true, 1e-6, [](const E& e) { return e.both_sparse_pj; }), false,
          false, true),
      col("weight sparsity, MAC-weighted", mac_weighted(false, &LayerEnergyInput::weight_sparsity), true, false,
          false),
      col("input sparsity, MAC-weighted", mac_weighted(true, &LayerEnergyInput::in_sparsity), true, false, false),
      col("activation sparsity, network mean", act_sparsity, true, false, false)};
  return aggregate("energy", c.e.name + ": energy per inference (Horowitz 2014, 45 nm; see docs/ENERGY.md)", c.e,
                   c.rows, cols, c.topt);
}

// Per layer: the same model, layer by layer.
AggTable layer_table(ReportContext& c, EnergyCache& energy) {
  const LayerSeries& layers = c.layers();
  auto per_layer = [&energy](bool measured, auto pick) -> Value {
    return [=, &energy](const RunData& r) -> std::optional<double> {
      auto en = energy(r, measured);
      if (en)
        for (auto& l : en->layers)
          if (l.name == r.row_keys.at("layer")) return pick(l);
      return std::nullopt;
    };
  };
  auto macs = [&layers](const RunData& r) -> std::optional<double> {
    auto v = layer_last(layers, r.id, r.row_keys.at("layer"), key::kMacs);
    return v ? std::optional<double>(*v * 1e-6) : std::nullopt;
  };
  auto layer_in = [&layers](const RunData& r) {
    return layer_last(layers, r.id, r.row_keys.at("layer"), key::kInSparsity);
  };
  auto layer_w = [&layers](const RunData& r) {
    return layer_last(layers, r.id, r.row_keys.at("layer"), key::kSparsity);
  };
  auto nj = [](double pj) { return pj * 1e-3; };
  std::vector<ColumnSpec> lcols = {
      col("MMACs", macs, false, true, false),
      col("pJ / MAC", per_layer(false, [](const LayerEnergy& l) { return l.mac_pj; }), false, true, false),
      col("weight sparsity", layer_w, true, false, false),
      col("input sparsity", layer_in, true, false, false),
      col("energy, dense (nJ)", per_layer(false, [nj](const LayerEnergy& l) { return nj(l.dense_pj); }), false,
          true, false),
      col("energy, zero weights skipped (nJ)",
          per_layer(false, [nj](const LayerEnergy& l) { return nj(l.weight_sparse_pj); }), false, false, false),
      col("energy, zero inputs skipped (nJ)",
          per_layer(true, [nj](const LayerEnergy& l) { return nj(l.input_sparse_pj); }), false, false, false),
      col("energy, both skipped (nJ)",
          per_layer(true, [nj](const LayerEnergy& l) { return nj(l.both_sparse_pj); }), false, false, false)};
  TableOptions opt = c.topt;
  opt.baseline_match = {"layer"};
  auto rows = c.rows;
  rows.push_back("layer");
  auto lt = aggregate("energy_layers",
                      c.e.name + ": energy per layer and inference, from each layer's own weight and input sparsity",
                      expand_by_layer(c.e, layers, false), rows, lcols, opt);
  drop_empty_rows(lt);
  return lt;
}

}  // namespace

std::vector<AggTable> energy_tables(ReportContext& c) {
  EnergyCache energy(c.layers());
  AggTable net = network_table(c, energy);
  return {net, layer_table(c, energy)};
}

}  // namespace lowbit
