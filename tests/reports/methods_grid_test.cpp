// Every weight quantizer through the command line on one tiny grid: each trains, reports its
// flip rate per layer (every method packs), and the energy table has its four ways; SLB adds
// the soft-hard gap and, asked, the soft network's accuracy and per-step flips.
#include <doctest/doctest.h>

#include <sstream>

#include "core/config/names.h"
#include "core/util.h"
#include "tests/test_util.h"

using namespace lowbit;
using namespace lowbit::test;

namespace {
// The CSV's rows whose first two fields are `variant,layer` and third `column`: their mean field.
std::vector<std::string> csv_means(const std::string& csv, const std::string& prefix) {
  std::vector<std::string> out;
  std::istringstream in(csv);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(prefix, 0) == 0) {
      const std::string rest = line.substr(prefix.size());
      out.push_back(rest.substr(0, rest.find(',')));
    }
  return out;
}
}  // namespace

TEST_CASE("methods: every quantizer on a tiny grid, with flip rates, the four energies and SLB's gap") {
  TempDir d;
  std::string variants;
  for (const auto& m : names_of(quantizer_names())) {
    std::string v = "\"" + m + "\": {\"quant.method\": \"" + m + "\"";
    if (m == "slb") v += ", \"quant.bits\": 1, \"diag\": {\"soft_eval\": true, \"step_flips\": true}";
    variants += (variants.empty() ? "" : ", ") + v + "}";
  }
  variants += ", \"ttq_frozen\": {\"quant.method\": \"ttq\", \"quant.ttq.freeze_scales\": true}";
  write_tiny_experiment(d / "m.json", "m", 64, 2, "\"variants\": {" + variants + "}, \"seeds\": 1");
  auto g = run_lowbit("grid " + d / "m.json" + " --db " + d / "r.db" + " --workers 2 --threads-per-worker 1");
  REQUIRE_MESSAGE(g.code == 0, g.out);
  auto r = run_lowbit("report --db " + d / "r.db" + " -e m --out " + d / "rep --tables main,layers,energy --format csv,md");  // plots come with the main table
  REQUIRE_MESSAGE(r.code == 0, r.out);
  const std::string layers = slurp(d / "rep/layers.csv"), energy = slurp(d / "rep/energy.csv");
  for (const auto& m : names_of(quantizer_names())) {
    CAPTURE(m);
    // small_cnn's quantized layers conv2 and conv3 (first and last kept in full precision).
    auto flips = csv_means(layers, m + ",conv2,flip rate,");
    REQUIRE(flips.size() == 1);
    CHECK_MESSAGE((m == "fp") == flips[0].empty(), flips[0]);  // a number for every quantizer
    for (const char* col : {"energy, dense (µJ)", "energy, zero weights skipped (µJ)",
                            "energy, zero inputs skipped (µJ)", "energy, both skipped (µJ)"}) {
      auto v = csv_means(energy, m + ",\"" + col + "\",");
      REQUIRE_MESSAGE(v.size() == 1, col);
      CHECK_MESSAGE(!v[0].empty(), col);
    }
  }
  CHECK(csv_means(layers, "slb,conv2,flip rate per step,").at(0) != "");
  CHECK(csv_means(layers, "ttq,conv2,flip rate per step,").at(0) == "");  // not asked
  CHECK(csv_means(layers, "ttq_frozen,conv2,Wp / alpha,").at(0) == "1");  // frozen scales stay at 1
  for (const char* plot : {"soft_hard_gap", "soft_hard_acc", "flip_rate", "flip_rate_step"})
    CHECK_MESSAGE(slurp(d / "rep/report.md").find(std::string(plot) + ".png") != std::string::npos, plot);
}
