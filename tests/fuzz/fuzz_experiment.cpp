// libFuzzer target: an experiment definition, through parsing, validation and expansion.
// Any lowbit::Error is a correct answer to bad input; anything else (another exception, a
// crash, a sanitizer report, a hang) is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "experiments/spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    lowbit::expand_experiment(std::string(reinterpret_cast<const char*>(data), size), "fuzz.json",
                              /*max_runs=*/2000);
  } catch (const lowbit::Error&) {
  }
  return 0;
}
