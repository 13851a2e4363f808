// Golden identities: a run's hash may change only on purpose. tests/golden/hashes.json pins the
// hash and the hashed object (identity_json) of fixed configs, and the hash of every run of
// frozen copies of shipped definitions (tests/golden/definitions/), with the hash each had
// under hash format 1 (lowbit before schema 7). A config whose observation keys sit at their
// frozen values must keep its format-1 hash for ever (core/config/run_config.h, ConfigField).
// After an intended change, regenerate with LOWBIT_GOLDEN_WRITE=1 and say why in the commit.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "core/config/names.h"
#include "core/config/run_config.h"
#include "experiments/spec.h"

using namespace lowbit;
using nlohmann::json;

namespace {

const std::string kGolden = std::string(LOWBIT_SOURCE_DIR) + "/tests/golden/hashes.json";

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// "a.b (old -> new)" for every leaf where two identity objects differ.
void moved_keys(const json& was, const json& now, const std::string& prefix, std::string& out) {
  if (was.is_object() && now.is_object()) {
    std::set<std::string> keys;
    for (auto& [k, v] : was.items()) keys.insert(k);
    for (auto& [k, v] : now.items()) keys.insert(k);
    for (auto& k : keys)
      moved_keys(was.value(k, json()), now.value(k, json()), prefix.empty() ? k : prefix + "." + k, out);
  } else if (was != now) {
    out += (out.empty() ? "" : ", ") + prefix + " (" + (was.is_null() ? "absent" : was.dump()) +
           " -> " + (now.is_null() ? "absent" : now.dump()) + ")";
  }
}

// Whether every observation key of `cfg` is at its frozen format-1 value.
bool observations_frozen(const RunConfig& cfg) {
  for (const auto& f : config_fields())
    if (f.role == KeyRole::kObservation && f.format1 && f.get(cfg) != f.hashed_value) return false;
  return true;
}

std::string run_key(const PlannedRun& r) {
  return r.variant + " " + r.varying.dump() + " seed " + std::to_string(r.config.seed);
}

}  // namespace

TEST_CASE("golden: run identities do not move; the key that moved is named") {
  json golden = json::parse(read_text(kGolden));
  const bool write = std::getenv("LOWBIT_GOLDEN_WRITE") != nullptr;
  for (auto& entry : golden["configs"]) {
    const std::string name = entry["name"];
    const RunConfig cfg = config_from_json(entry["config"], "golden config " + name);
    const json identity = identity_json(cfg);
    const std::string hash = config_hash(cfg);
    if (write) entry["hash"] = hash, entry["identity"] = identity;
    std::string moved;
    moved_keys(entry["identity"], identity, "", moved);
    CHECK_MESSAGE(hash == entry["hash"].get<std::string>(),
                  "golden config '" << name << "': hash " << entry["hash"].get<std::string>()
                                    << " -> " << hash << "; "
                                    << (moved.empty() ? "the identity object is the same, so the "
                                                        "canonical text or the hash function changed"
                                                      : "keys that moved: " + moved));
    if (observations_frozen(cfg))
      CHECK_MESSAGE(hash == entry["format1_hash"].get<std::string>(),
                    "golden config '" << name << "' must keep its format-1 hash");
  }
  size_t runs = 0;
  for (auto& def : golden["definitions"]) {
    const std::string file = std::string(LOWBIT_SOURCE_DIR) + "/" + def["file"].get<std::string>();
    auto spec = expand_experiment(read_text(file), file, 100000);
    REQUIRE_MESSAGE(spec.runs.size() == def["runs"].size(), file << ": the frozen copy expands differently");
    for (size_t i = 0; i < spec.runs.size(); ++i, ++runs) {
      auto& row = def["runs"][i];
      if (write) row["hash"] = spec.runs[i].hash;
      CHECK_MESSAGE(row["run"].get<std::string>() == run_key(spec.runs[i]), file);
      CHECK_MESSAGE(spec.runs[i].hash == row["hash"].get<std::string>(),
                    file << ": " << run_key(spec.runs[i]) << ": hash " << row["hash"].get<std::string>()
                         << " -> " << spec.runs[i].hash
                         << " (the golden configs above name the key when one moved)");
      if (observations_frozen(spec.runs[i].config))
        CHECK_MESSAGE(spec.runs[i].hash == row["format1_hash"].get<std::string>(),
                      file << ": " << run_key(spec.runs[i]) << " must keep its format-1 hash");
    }
  }
  CHECK(runs == 86);
  CHECK(golden["configs"].size() == 8);
  if (write) std::ofstream(kGolden) << golden.dump(1) << "\n";
}

// A config the key applies to: the default one, or the first alternative of its scope.
RunConfig where_it_applies(const ConfigField& f) {
  RunConfig c;
  if (!f.applies(c))
    for (const auto& t : f.scope.any.at(0)) find_field(t.key)->set(c, t.values.at(0));
  REQUIRE_MESSAGE(f.applies(c), f.path);
  return c;
}

// The rule itself, on keys declared in the table: an observation key never moves the hash, an
// identity key always does where it applies and never elsewhere, and `name` counts for the
// config hash only.
TEST_CASE("golden: observation keys leave the hash alone, identity keys move it") {
  size_t tried = 0;
  for (const auto& f : config_fields()) {
    if (!f.format1 && !f.scope.everywhere() && f.get(RunConfig()).is_boolean()) {  // elsewhere, not hashed
      const RunConfig fp;
      RunConfig c = fp;
      f.set(c, !f.get(fp).get<bool>());
      CHECK_MESSAGE(config_hash(c) == config_hash(fp), f.path);
    }
    const RunConfig base = where_it_applies(f);
    RunConfig c = base;
    json v = f.get(base);
    if (v.is_boolean())
      v = !v.get<bool>();
    else if (v.is_number_integer())
      v = v.get<int64_t>() + 1;
    else if (v.is_number())  // stays inside every key's range
      v = v.get<double>() == 0 ? 0.001 : v.get<double>() * 1.0001;
    else if (v.is_string() && f.type == "string")  // free text, not a choice
      v = v.get<std::string>() + "x";
    else
      continue;  // choices and structured values: covered by the golden configs
    f.set(c, v);
    ++tried;
    if (f.role == KeyRole::kObservation) {
      CHECK_MESSAGE(config_hash(c) == config_hash(base), f.path);
      CHECK_MESSAGE(training_hash(c) == training_hash(base), f.path);
    } else {
      CHECK_MESSAGE(config_hash(c) != config_hash(base), f.path);
      CHECK_MESSAGE((training_hash(c) != training_hash(base)) == (f.path != "name"), f.path);
    }
  }
  CHECK(tried >= 50);  // every scalar key: booleans, integers, numbers, free text
}

// A stored config from before a key existed is read with the key's neutral value (what the run
// did then), not this version's default: diag.before_calib was always on before schema 7.
TEST_CASE("golden: a stored config without a later key reads it at its neutral value") {
  const RunConfig old = config_from_json(json::parse(R"({"quant": {"method": "slb"}})"), "stored");
  CHECK(old.diag.before_calib);
  CHECK(!RunConfig().diag.before_calib);  // the default now
  const RunConfig now = config_from_json(json::parse(R"({"diag": {"before_calib": false}})"), "stored");
  CHECK(!now.diag.before_calib);
  CHECK(config_hash(old) == config_hash(config_from_json(json::parse(R"({"quant": {"method": "slb"}, "diag": {"before_calib": false}})"), "")));
}
