// Each kind of name has one table (core/config/names.h); the factories must cover exactly
// its names, and the config accepts exactly them.
#include <doctest/doctest.h>

#include "core/config/names.h"
#include "core/error.h"
#include "core/models/models.h"
#include "core/quant/registry.h"
#include "core/train/schedules.h"
#include "core/util.h"

using namespace lowbit;

namespace {
template <typename Registry>
std::vector<std::string> registry_names(const Registry& r) {
  std::vector<std::string> out;
  for (auto& e : r) out.push_back(e.name);
  return out;
}
// The allowed values of a config key, from its field's type ("one of a, b, c").
std::string field_type(const std::string& path) {
  for (auto& f : config_fields())
    if (f.path == path) return f.type;
  return "";
}
}  // namespace

TEST_CASE(
    "names: every factory registry covers exactly its names table, and the config accepts exactly "
    "them") {
  CHECK(registry_names(quantizer_registry()) == names_of(quantizer_names()));
  CHECK(registry_names(act_quantizer_registry()) == names_of(activation_quantizer_names()));
  CHECK(registry_names(model_registry()) == names_of(model_names()));
  CHECK(field_type("quant.method") == "one of " + join(names_of(quantizer_names()), ", "));
  CHECK(field_type("quant.act.method") ==
        "one of " + join(names_of(activation_quantizer_names()), ", "));
  CHECK(field_type("model") == "one of " + join(names_of(model_names()), ", "));
  CHECK(field_type("optim.schedule") == "one of " + join(names_of(lr_schedule_names()), ", "));
  CHECK(field_type("quant.temperature.schedule") ==
        "one of " + join(names_of(temperature_schedule_names()), ", "));
  CHECK(field_type("data.name") == "one of " + join(names_of(dataset_names()), ", "));
  // Every dataset has a shape without loading it; an unknown one is an error, not 1x28x28.
  for (auto& name : names_of(dataset_names())) {
    DataConfig d;
    d.name = name;
    CHECK_MESSAGE(data_shape(d).channels > 0, name);
  }
  DataConfig bad;
  bad.name = "cifar100";
  CHECK_THROWS_WITH_AS(data_shape(bad),
                       "data.name: unknown dataset 'cifar100', did you mean 'cifar10'?",
                       ConfigError);
  // Every activation quantizer name builds (or is ReLU).
  for (auto& name : names_of(activation_quantizer_names())) {
    QuantConfig q;
    q.act_method = name;
    CHECK_MESSAGE((make_act_quantizer(q) == nullptr) == (name == "none"), name);
  }
}
