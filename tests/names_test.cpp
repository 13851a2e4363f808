// Each kind of name has one table (core/config/names.h); the factories must cover exactly
// its names, and the config accepts exactly them.
#include <doctest/doctest.h>

#include "core/config/names.h"
#include "core/error.h"
#include "core/models/models.h"
#include "core/quant/registry.h"
#include "core/schedule/schedules.h"
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

// A schedule named in its table but not handled by the code would silently act as
// "constant": every other name must move its value somewhere in training.
TEST_CASE("names: every schedule name is implemented") {
  for (auto& name : names_of(temperature_schedule_names())) {
    QuantConfig q;
    q.temp_schedule = *parse_choice<TempSchedule>(name);
    q.temp_start = 0.0, q.temp_end = 1.0, q.temp_per_step = true;
    bool moved = false;
    for (double t = 0; t <= 10; t += 0.25) moved = moved || temperature_at(q, 10, t).value != q.temp_t0;
    CHECK_MESSAGE(moved == (name != "constant"), name);
  }
  for (auto& name : names_of(lr_schedule_names())) {
    OptimConfig o;
    o.schedule = *parse_choice<LrSchedule>(name);
    o.step_size = 2;
    o.milestones = {3};
    bool moved = false;
    for (double t = 0; t <= 10; t += 0.25) moved = moved || lr_at(o, 10, t) != o.lr;
    CHECK_MESSAGE(moved == (name != "constant"), name);
  }
}
