#include "core/quant/registry.h"
#include "core/quant/slb.h"

#include <fmt/format.h>

#include "core/error.h"
#include "core/quant/absmean.h"
#include "core/quant/act.h"
#include "core/quant/bop.h"
#include "core/quant/lsq.h"
#include "core/quant/ste.h"
#include "core/quant/ttq.h"
#include "core/quant/twn.h"
#include "core/util.h"

namespace lowbit {

const std::vector<QuantizerEntry>& quantizer_registry() {
  // One factory per name of quantizer_names() (core/config/names.h), which holds the
  // descriptions; a test checks that the two lists are the same.
  static const std::vector<QuantizerEntry> registry = {
      {"fp", nullptr},
      {"ttq",
       [](const QuantConfig& q, const LayerQuantSettings& s) {
         TTQOptions o;
         o.threshold = s.threshold;
         o.target_sparsity = s.target_sparsity;
         o.normalize_latent = q.normalize_latent;
         o.scale_init = q.scale_init;
         o.freeze_scales = q.ttq_freeze_scales;
         return std::make_shared<TTQImpl>(o);
       }},
      {"twn",
       [](const QuantConfig&, const LayerQuantSettings&) { return std::make_shared<TWNImpl>(); }},
      {"absmean",
       [](const QuantConfig&, const LayerQuantSettings&) { return std::make_shared<AbsMeanImpl>(); }},
      {"sign", [](const QuantConfig& q,
                  const LayerQuantSettings&) { return std::make_shared<SignImpl>(q.scaling); }},
      {"dorefa",
       [](const QuantConfig& q, const LayerQuantSettings&) {
         return std::make_shared<DoReFaImpl>(int(q.bits), q.dorefa_grad_through_max);
       }},
      {"bop",
       [](const QuantConfig& q, const LayerQuantSettings&) {
         return std::make_shared<BopImpl>(q.bop_gamma, q.bop_tau);
       }},
      {"slb", [](const QuantConfig& q,
                 const LayerQuantSettings&) { return std::make_shared<SLBImpl>(q); }},
      {"lsq",
       [](const QuantConfig& q, const LayerQuantSettings&) {
         return std::make_shared<LsqImpl>(int(q.bits), q.scaling == Scaling::kChannel);
       }},
  };
  return registry;
}

const std::vector<ActQuantizerEntry>& act_quantizer_registry() {
  // One factory per name of activation_quantizer_names(); "none" is ReLU (nullptr).
  static const std::vector<ActQuantizerEntry> registry = {
      {"none", nullptr},
      {"sign", [](const QuantConfig&) { return std::make_shared<SignActImpl>(); }},
      {"dorefa",
       [](const QuantConfig& q) { return std::make_shared<DoReFaActImpl>(int(q.act_bits)); }},
      {"pact",
       [](const QuantConfig& q) {
         return std::make_shared<PACTImpl>(int(q.act_bits), q.act_clip);
       }},
      {"lsq",
       [](const QuantConfig& q) { return std::make_shared<LsqActImpl>(int(q.act_bits), q.act_lsq_grad_count); }},
  };
  return registry;
}

std::shared_ptr<ActQuantizer> make_act_quantizer(const QuantConfig& q) {
  std::vector<std::string> names;
  for (const auto& e : act_quantizer_registry()) {
    if (e.name == q.act_method) return e.make ? e.make(q) : nullptr;
    names.push_back(e.name);
  }
  throw ConfigError("quant.act.method: unknown activation quantizer '" + q.act_method + "'" +
                    did_you_mean(q.act_method, names));
}

namespace {

bool matches(const std::string& pattern, const LayerRef& l) {
  if (pattern == "first") return l.first;
  if (pattern == "last") return l.last;
  return glob_match(pattern, l.name);
}

// How specific a matching pattern is: an exact name beats any glob; among globs, the one
// with more literal characters wins ("layer3.0.*" beats "layer3.*" beats "*").
size_t specificity(const std::string& pattern, const LayerRef& l) {
  if (pattern == l.name) return SIZE_MAX;
  return size_t(std::count_if(pattern.begin(), pattern.end(),
                              [](char c) { return c != '*' && c != '?'; })) +
         1;
}

// Resolves a per-layer number: a plain number for all layers, or the most specific
// matching entry of a {pattern: number} map (JSON objects have no order to rely on).
double per_layer_value(const nlohmann::json& v, const LayerRef& l, double fallback) {
  if (v.is_null()) return fallback;
  if (v.is_number()) return v.get<double>();
  double out = fallback;
  size_t best = 0;
  for (const auto& [pattern, x] : v.items()) {
    if (!matches(pattern, l)) continue;
    size_t s = specificity(pattern, l);
    if (s > best) best = s, out = x.get<double>();
  }
  return out;
}

}  // namespace

std::vector<LayerRef> attach_quantizers(torch::nn::Module& model, const QuantConfig& q) {
  auto layers = quant_layers(model);
  std::vector<std::string> names;
  for (const auto& l : layers) names.push_back(l.name);

  // quant.skip: every entry must name a layer.
  for (const auto& s : q.skip) {
    bool hit =
        std::any_of(layers.begin(), layers.end(), [&](const LayerRef& l) { return matches(s, l); });
    if (!hit)
      throw ConfigError("quant.skip: '" + s + "' matches no layer" + did_you_mean(s, names) +
                        " (layers: " + join(names, ", ") + "; or first, last)");
  }
  std::vector<LayerRef> quantized;
  for (const auto& l : layers) {
    bool skip = std::any_of(q.skip.begin(), q.skip.end(),
                            [&](const std::string& s) { return matches(s, l); });
    if (!skip) quantized.push_back(l);
  }
  std::vector<std::string> qnames;
  for (const auto& l : quantized) qnames.push_back(l.name);

  // Per-layer maps: every glob must match a quantized layer.
  for (const auto& [key, v] :
       {std::pair<std::string, const nlohmann::json*>{"quant.threshold", &q.threshold},
        {"quant.target_sparsity", &q.target_sparsity}}) {
    if (!v->is_object()) continue;
    for (const auto& [glob, x] : v->items()) {
      bool hit = std::any_of(quantized.begin(), quantized.end(),
                             [&](const LayerRef& l) { return matches(glob, l); });
      if (!hit)
        throw ConfigError(key + "." + glob + ": matches no quantized layer" +
                          did_you_mean(glob, qnames) + " (quantized: " + join(qnames, ", ") + ")");
    }
  }

  const QuantizerEntry* entry = nullptr;
  std::vector<std::string> methods;
  for (const auto& e : quantizer_registry()) {
    methods.push_back(e.name);
    if (e.name == q.method) entry = &e;
  }
  if (!entry)
    throw ConfigError("quant.method: unknown quantizer '" + q.method + "'" +
                      did_you_mean(q.method, methods));

  if (entry->make) {
    for (auto& l : quantized) {
      LayerQuantSettings s;
      s.threshold = per_layer_value(q.threshold, l, 0.05);
      s.target_sparsity = per_layer_value(q.target_sparsity, l, -1);
      l.layer->set_quantizer(entry->make(q, s));
    }
  } else {
    quantized.clear();
  }
  for (auto& [name, a] : act_layers(model)) a->set_quantizer(make_act_quantizer(q));
  return quantized;
}

}  // namespace lowbit
