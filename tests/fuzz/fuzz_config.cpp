// libFuzzer target: a run config and a --set. The first line is the --set assignment, the
// rest the JSON config; both go through apply_json / apply_set / validate as in lowbit train.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/config/run_config.h"
#include "core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const size_t nl = text.find('\n');
  const std::string set = text.substr(0, nl), json = nl == std::string::npos ? "{}" : text.substr(nl + 1);
  lowbit::RunConfig cfg;
  try {
    lowbit::apply_json(cfg, lowbit::parse_json_text(json, "fuzz.json"), "fuzz.json");
  } catch (const lowbit::Error&) {
  }
  try {
    lowbit::apply_set(cfg, set);
    lowbit::validate(cfg, "fuzz.json");
    (void)lowbit::config_hash(cfg);
  } catch (const lowbit::Error&) {
  }
  return 0;
}
