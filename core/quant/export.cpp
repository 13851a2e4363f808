#include "core/quant/export.h"

#include <fstream>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "core/error.h"
#include "core/file_io.h"
#include "core/nn/qlayers.h"
#include "core/nn/state_bn.h"
#include "core/quant/registry.h"

namespace lowbit {

using nlohmann::json;

namespace {
constexpr char kMagic[8] = {'L', 'O', 'W', 'B', 'I', 'T', '0', '1'};

void append(std::string& payload, const void* data, size_t n) {
  payload.append(static_cast<const char*>(data), n);
}
}  // namespace

std::vector<uint8_t> pack_bits(const std::vector<uint8_t>& codes, int bits) {
  std::vector<uint8_t> out((codes.size() * size_t(bits) + 7) / 8, 0);
  size_t bit = 0;
  for (uint8_t c : codes) {
    for (int k = 0; k < bits; ++k, ++bit)
      if (c >> k & 1) out[bit / 8] |= uint8_t(1u << (bit % 8));
  }
  return out;
}

std::vector<uint8_t> unpack_bits(const std::vector<uint8_t>& bytes, int bits, size_t n) {
  std::vector<uint8_t> out(n, 0);
  size_t bit = 0;
  for (size_t i = 0; i < n; ++i)
    for (int k = 0; k < bits; ++k, ++bit)
      if (bytes[bit / 8] >> (bit % 8) & 1) out[i] |= uint8_t(1u << k);
  return out;
}

namespace {

// The whole .lbt content in memory: header and payload, and what they hold.
struct PackedModel {
  std::string header, payload;
  ExportStats stats;
};

// Builds the .lbt content for `model`. Throws Error when a quantized layer cannot be packed.
PackedModel pack_model(Network& model, const RunConfig& cfg, const ModelSpec& spec,
                       BNState bn_state) {
  torch::NoGradGuard g;
  ExportStats st;
  json header = {{"format", 1},
                 {"config", to_json(cfg)},
                 {"bn_state", bn_state_name(bn_state)},
                 {"spec",
                  {{"channels", spec.channels},
                   {"height", spec.height},
                   {"width", spec.width},
                   {"classes", spec.classes}}}};
  header["packed"] = json::array();
  header["tensors"] = json::array();
  std::string payload;
  std::set<std::string> skip;  // names stored packed, or quantizer state not needed to run

  for (auto& l : quant_layers(model)) {
    auto& q = l.layer->quantizer();
    if (!q) continue;
    if (!q->supports_pack())
      throw Error("export: layer " + l.name + ": quantizer " + q->describe() + " cannot be packed");
    auto w = l.layer->weight.detach().cpu();
    PackedWeight p = q->pack(l.layer->weight.detach());
    auto bytes = pack_bits(p.codes, p.bits);
    json e = {
        {"name", l.name},       {"shape", w.sizes().vec()},         {"bits", p.bits},
        {"table", p.table},     {"channel_scale", p.channel_scale}, {"offset", payload.size()},
        {"bytes", bytes.size()}};
    append(payload, bytes.data(), bytes.size());
    header["packed"].push_back(e);
    skip.insert(l.name + ".weight");
    for (auto& qp : q->named_parameters(true)) skip.insert(l.name + ".quantizer." + qp.key());
    for (auto& qb : q->named_buffers(true)) skip.insert(l.name + ".quantizer." + qb.key());
    ++st.packed_layers;
    st.packed_weights += w.numel();
  }
  auto add_tensor = [&](const std::string& name, const torch::Tensor& t) {
    auto f = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    header["tensors"].push_back({{"name", name},
                                 {"shape", f.sizes().vec()},
                                 {"offset", payload.size()},
                                 {"bytes", f.numel() * 4}});
    append(payload, f.data_ptr<float>(), size_t(f.numel()) * 4);
  };
  for (auto& p : model.named_parameters(true)) {
    if (!skip.count(p.key())) add_tensor(p.key(), p.value());
  }
  for (auto& b : model.named_buffers(true)) {
    if (!skip.count(b.key())) add_tensor(b.key(), b.value());
  }
  for (auto& p : model.named_parameters(true))
    if (p.key().find(".quantizer.") == std::string::npos) st.float_bytes += p.value().numel() * 4;

  PackedModel pm{header.dump(), std::move(payload), st};
  pm.stats.packed_bytes = int64_t(16 + pm.header.size() + pm.payload.size());
  return pm;
}

}  // namespace

std::optional<int64_t> packed_model_bytes(Network& model, const RunConfig& cfg,
                                          const ModelSpec& spec, BNState bn_state) {
  for (auto& l : quant_layers(model))
    if (l.layer->quantizer() && !l.layer->quantizer()->supports_pack()) return std::nullopt;
  return pack_model(model, cfg, spec, bn_state).stats.packed_bytes;
}

ExportStats export_model(Network& model, const RunConfig& cfg, const ModelSpec& spec,
                         BNState bn_state, const std::string& path) {
  PackedModel pm = pack_model(model, cfg, spec, bn_state);
  const std::string& h = pm.header;
  const std::string& payload = pm.payload;
  uint64_t hlen = h.size();
  std::string bytes(kMagic, 8);
  bytes.append(reinterpret_cast<const char*>(&hlen), 8);
  bytes += h;
  bytes += payload;
  write_file_atomic(path, bytes);
  return pm.stats;
}

LoadedModel load_packed_model(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path + ": no such file (export one with lowbit export)");
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  const std::string hint = "; re-export it with lowbit export";
  if (bytes.size() < 16 || bytes.compare(0, 8, std::string(kMagic, 8)) != 0)
    throw DataError(path + ": not a lowbit packed model (bad magic)" + hint);
  uint64_t hlen;
  std::memcpy(&hlen, bytes.data() + 8, 8);
  if (16 + hlen > bytes.size()) throw DataError(path + ": truncated header" + hint);
  json header = json::parse(bytes.substr(16, hlen), nullptr, false);
  if (header.is_discarded()) throw DataError(path + ": corrupt header" + hint);
  const char* payload = bytes.data() + 16 + hlen;
  const size_t payload_size = bytes.size() - 16 - hlen;
  auto blob = [&](const json& e) {
    size_t off = e["offset"], n = e["bytes"];
    if (off + n > payload_size)
      throw DataError(path + ": truncated (blob of " + e["name"].get<std::string>() + ")" + hint);
    return payload + off;
  };

  LoadedModel lm;
  apply_json(lm.config, header["config"], path);
  auto& s = header["spec"];
  lm.spec = {s["channels"], s["height"], s["width"], s["classes"]};
  lm.model = make_model(lm.config.model, lm.spec);
  attach_quantizers(*lm.model, lm.config.quant);  // activation quantizers as trained
  torch::NoGradGuard g;
  std::map<std::string, std::shared_ptr<QLayerImpl>> layers;
  for (auto& l : quant_layers(*lm.model)) layers[l.name] = l.layer;
  for (auto& e : header["packed"]) {
    auto it = layers.find(e["name"]);
    if (it == layers.end())
      throw DataError(path + ": packed layer " + e["name"].get<std::string>() +
                      " not in the model" + hint);
    auto& layer = it->second;
    layer->set_quantizer(nullptr);
    int bits = e["bits"];
    size_t n = size_t(layer->weight.numel());
    const char* p = blob(e);
    std::vector<uint8_t> packed(p, p + size_t(e["bytes"]));
    auto codes = unpack_bits(packed, bits, n);
    std::vector<float> table = e["table"], cs = e["channel_scale"];
    std::vector<float> w(n);
    for (size_t i = 0; i < n; ++i) {
      if (codes[i] >= table.size())
        throw DataError(path + ": corrupt codes in " + e["name"].get<std::string>() + hint);
      w[i] = table[codes[i]];
    }
    auto t = torch::from_blob(w.data(), layer->weight.sizes(), torch::kFloat32).clone();
    if (!cs.empty()) {
      std::vector<int64_t> shape(t.dim(), 1);
      shape[0] = t.size(0);
      t = t *
          torch::from_blob(cs.data(), {int64_t(cs.size())}, torch::kFloat32).clone().view(shape);
    }
    layer->weight.copy_(t);
  }
  std::map<std::string, torch::Tensor> targets;
  for (auto& p : lm.model->named_parameters(true)) targets[p.key()] = p.value();
  for (auto& b : lm.model->named_buffers(true)) targets[b.key()] = b.value();
  for (auto& e : header["tensors"]) {
    auto it = targets.find(e["name"]);
    if (it == targets.end()) continue;  // quantizer state of a packed layer
    std::vector<int64_t> shape = e["shape"];
    auto t = torch::from_blob(const_cast<char*>(blob(e)), shape, torch::kFloat32).clone();
    if (t.sizes() != it->second.sizes())
      throw DataError(path + ": shape mismatch for " + it->first + hint);
    it->second.copy_(t.to(it->second.dtype()));
  }
  set_bn_state(*lm.model, bn_state_from_name(header.value("bn_state", "continuous"), path));
  return lm;
}

}  // namespace lowbit
