// Per-layer statistics at the last epoch: weight layers (sparsity, scales, gradient norms of
// the latent weights and of SLB's logits, input sparsity) and activation layers (output
// sparsity) as two tables, so that no row is mostly empty. Each layer is tested against the
// same layer of the baseline; no bold: "best" means nothing here.
#include "reports/report_registry.h"
#include "core/train/keys.h"

namespace lowbit {

std::vector<AggTable> layer_tables(ReportContext& c) {
  const LayerSeries& layers = c.layers();
  auto stat = [&](const std::string& key) {
    return [&layers, key](const RunData& r) {
      return layer_last(layers, r.id, r.row_keys.at("layer"), key);
    };
  };
  auto col = [](const std::string& label, std::function<std::optional<double>(const RunData&)> v,
                bool percent) {
    return ColumnSpec{label, std::move(v), {}, percent, false, 1.0, false, /*mark_best=*/false};
  };
  TableOptions opt = c.topt;
  opt.baseline_match = {"layer"};
  auto rows = c.rows;
  rows.push_back("layer");

  std::vector<ColumnSpec> wcols = {col("weight sparsity", stat(key::kSparsity), true),
                                   col(
                                       "Wp / alpha",
                                       [stat](const RunData& r) {
                                         auto v = stat(key::kWp)(r);
                                         return v ? v : stat(key::kAlpha)(r);
                                       },
                                       false),
                                   col("Wn", stat(key::kWn), false),
                                   col("flip rate", stat(key::kFlipRate), true),
                                   col("flip rate per step", stat(key::kFlipRateStep), true),
                                   col("latent grad norm", stat(key::kGradNorm), false),
                                   col("SLB logits grad norm", stat(key::kGradNormLogits), false),
                                   col("input sparsity", stat(key::kInSparsity), true)};
  auto weights = aggregate("layers", c.e.name + ": weight layers at the last epoch",
                           expand_by_layer(c.e, layers, false), rows, wcols, opt);
  drop_empty_rows(weights);
  auto acts = aggregate(
      "activations",
      c.e.name + ": activation layers (ReLU / activation quantizer outputs) at the last epoch",
      expand_by_layer(c.e, layers, true), rows,
      {col("activation sparsity", stat(key::kActSparsity), true)}, opt);
  drop_empty_rows(acts);
  return {weights, acts};
}

}  // namespace lowbit
