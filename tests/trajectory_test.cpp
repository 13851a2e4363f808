// Schedules checked before launch (core/schedule/trajectory.h): values computed by hand from
// the schedule formulas in core/schedule/schedules.h; tolerance 1e-9 relative unless stated.
#include <doctest/doctest.h>

#include <cmath>

#include "core/schedule/schedules.h"
#include "core/schedule/trajectory.h"
#include "core/util.h"
#include "tests/test_util.h"

using namespace lowbit;

namespace {
// The paper twin's temperature arms: 500 epochs, T from 1 to 30 across [0, 0.9], per step.
RunConfig slb_arm(TempSchedule s) {
  RunConfig c;
  c.epochs = 500;
  c.quant.method = "slb";
  c.quant.bits = 1;
  c.quant.temp_schedule = s;
  c.quant.temp_t0 = 1, c.quant.temp_t1 = 30;
  c.quant.temp_start = 0, c.quant.temp_end = 0.9, c.quant.temp_per_step = true;
  return c;
}
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
}  // namespace

TEST_CASE("trajectory: exp with a pinned factor copied from a 4-epoch run overflows, and is refused") {
  RunConfig c = slb_arm(TempSchedule::kExp);
  c.quant.temp_gamma = 2.5727;  // 30^(1/3.6): right for 4 epochs, not for 500
  const ScheduleProblems p = check_schedules(c);
  REQUIRE(p.errors.size() == 1);
  // 2.5727^e passes 1e30 at e = 30 ln 10 / ln 2.5727 = 73.1 and 3.4e38 at 88.7 / 0.945 = 93.9.
  CHECK_MESSAGE(contains(p.errors[0], "at epoch 73.1"), p.errors[0]);
  CHECK_MESSAGE(contains(p.errors[0], "infinite in float32 from epoch 93.9"), p.errors[0]);
  // The fix names the factor that reaches 30 at the window's end: 30^(1/450) = 1.0075867.
  CHECK_MESSAGE(contains(p.errors[0], "gamma to null"), p.errors[0]);
  CHECK_MESSAGE(contains(p.errors[0], "1.00759 per epoch"), p.errors[0]);
}

TEST_CASE("trajectory: exp with gamma null goes from t0 to t1 across the window, whatever the epochs") {
  for (int64_t epochs : {4, 500}) {
    RunConfig c = slb_arm(TempSchedule::kExp);
    c.epochs = epochs;
    c.quant.temp_gamma.reset();
    const double window = 0.9 * double(epochs);
    CHECK(endpoint_gamma(c.quant, epochs) == doctest::Approx(std::pow(30.0, 1.0 / window)).epsilon(1e-12));
    CHECK(temperature_at(c.quant, epochs, window / 2).value == doctest::Approx(std::sqrt(30.0)).epsilon(1e-9));
    CHECK(temperature_at(c.quant, epochs, window).value == doctest::Approx(30.0).epsilon(1e-9));
    const ScheduleProblems p = check_schedules(c);
    CHECK(p.errors.empty());
    CHECK(p.warnings.empty());
    const ScheduleSummary s = summarize_schedules(c);
    CHECK(s.t_end.value == doctest::Approx(30.0).epsilon(1e-9));
    REQUIRE(s.hard_from);
    CHECK(*s.hard_from == doctest::Approx(window).epsilon(1e-9));
  }
  // The port's window: s = int(0.2 E), f = int(0.6 E); the factor spans f - s epochs.
  RunConfig c = slb_arm(TempSchedule::kExp);
  c.quant.temp_window = TempWindow::kPort, c.quant.temp_per_step = false;
  c.quant.temp_start = 0.2, c.quant.temp_end = 0.6, c.quant.temp_gamma.reset();
  CHECK(endpoint_gamma(c.quant, 500) == doctest::Approx(std::pow(30.0, 1.0 / 200)).epsilon(1e-12));
  CHECK(temperature_at(c.quant, 500, 299.5).value == doctest::Approx(30.0).epsilon(1e-9));  // epoch 300 = f
}

TEST_CASE("trajectory: SGDR cycles that do not tile the window are refused with the periods that do") {
  RunConfig c = slb_arm(TempSchedule::kSgdr);
  c.quant.temp_period = 0.25, c.quant.temp_period_mult = 2;  // 0.25 + 0.5 = 0.75, then cut at 0.9
  const ScheduleProblems p = check_schedules(c);
  REQUIRE(p.errors.size() == 1);
  // The third cycle (1.0 of training from 0.75) is cut at 15%: T = 1 + 29 (1 - cos 0.15 pi) / 2 = 2.580.
  CHECK_MESSAGE(contains(p.errors[0], "cycle 3 is cut at 15%"), p.errors[0]);
  CHECK_MESSAGE(contains(p.errors[0], "T = 2.58,"), p.errors[0]);
  CHECK_MESSAGE(contains(p.errors[0], "period 0.3 (2 cycles) or 0.128571 (3 cycles)"), p.errors[0]);
  c.quant.temp_period = 0.3;
  const ScheduleProblems ok = check_schedules(c);
  CHECK(ok.errors.empty());
  CHECK(ok.warnings.empty());
  CHECK(summarize_schedules(c).last_soft.value == doctest::Approx(30.0).epsilon(1e-6));
  // Cycles [0, 150) and [150, 450) epochs: a restart at 150, none at the window's end.
  CHECK(temperature_at(c.quant, 500, 150).value == doctest::Approx(1.0));
  CHECK(temperature_at(c.quant, 500, 300).value == doctest::Approx(15.5));
  CHECK(temperature_at(c.quant, 500, 450).value == doctest::Approx(30.0));
  CHECK(temperature_at(c.quant, 500, 480).value == doctest::Approx(30.0));  // hard, at T1
}

TEST_CASE("trajectory: a per-epoch window that closes inside an epoch never runs soft at t1: a warning") {
  RunConfig c = slb_arm(TempSchedule::kLinear);
  c.epochs = 4, c.quant.temp_start = 0.2, c.quant.temp_end = 0.6, c.quant.temp_per_step = false;
  // Window [0.8, 2.4]; per epoch e = floor(t): soft at e = 0, 1, 2, hard from epoch 3. At e = 2,
  // T = 1 + 29 (2 - 0.8) / 1.6 = 22.75.
  const ScheduleProblems p = check_schedules(c);
  CHECK(p.errors.empty());
  REQUIRE(p.warnings.size() == 1);
  CHECK_MESSAGE(contains(p.warnings[0], "T = 22.75, not t1 = 30"), p.warnings[0]);
  CHECK_MESSAGE(contains(p.warnings[0], "hard from epoch 3"), p.warnings[0]);
}

TEST_CASE("trajectory: the port's defaults (exp pinned at 1.2 over [0.2, 0.6]) pass without a word") {
  RunConfig c;
  c.quant.method = "slb";
  c.quant.temp_window = TempWindow::kPort;
  c.epochs = 500;
  const ScheduleProblems p = check_schedules(c);
  CHECK(p.errors.empty());
  CHECK(p.warnings.empty());
  const ScheduleSummary s = summarize_schedules(c);
  REQUIRE(s.exp_gamma);
  CHECK(*s.exp_gamma == 1.2);
  // 1.2^(300 - 100) = 6.9e15 at the window's end: large, but far inside float32.
  CHECK(s.t_end.value == doctest::Approx(std::pow(1.2, 200)).epsilon(1e-9));
}

TEST_CASE("trajectory: learning-rate milestones past the run are said") {
  RunConfig c;
  c.epochs = 100;
  c.optim.schedule = LrSchedule::kMultistep;
  c.optim.milestones = {50, 150};
  const ScheduleProblems p = check_schedules(c);
  REQUIRE(p.warnings.size() == 1);
  CHECK(contains(p.warnings[0], "optim.milestones: 150"));
  const ScheduleSummary s = summarize_schedules(c);
  CHECK(s.lr_start.value == doctest::Approx(0.1));
  CHECK(s.lr_end.value == doctest::Approx(0.01));
  CHECK_FALSE(s.slb);
}

// From the command line: lowbit train and lowbit grid refuse before anything is written,
// naming the file (and the variant); --dry-run shows each variant's trajectory.
TEST_CASE("trajectory: lowbit train and lowbit grid refuse an overflowing schedule; --dry-run shows it") {
  lowbit::test::TempDir d;
  lowbit::test::write_file(d / "run.json", R"({"quant": {"method": "slb", "temperature": {"schedule": "exp",
      "gamma": 2.5727, "start": 0, "end": 0.9}}, "epochs": 500, "data": {"name": "synthetic"}})");
  auto r = lowbit::test::run_lowbit("train --config " + d / "run.json" + " --out " + d / "out");
  CHECK(r.code != 0);
  CHECK_MESSAGE(contains(r.out, d / "run.json: quant.temperature: T reaches"), r.out);
  CHECK(!is_dir(d / "out"));
  lowbit::test::write_tiny_experiment(d / "grid.json", "g", 64, 500,
                                      R"("variants": {"exp": {"quant.method": "slb", "quant.temperature": {"schedule":
                                      "exp", "gamma": 2.5727, "start": 0, "end": 0.9}}, "cos": {"quant.method": "slb",
                                      "quant.temperature": {"schedule": "cos", "t1": 30}}})");
  r = lowbit::test::run_lowbit("grid " + d / "grid.json" + " --db " + d / "g.db");
  CHECK(r.code != 0);
  CHECK_MESSAGE(contains(r.out, d / "grid.json: variants.exp: quant.temperature: T reaches"), r.out);
  CHECK(!is_file(d / "g.db"));
  r = lowbit::test::run_lowbit("grid " + d / "grid.json" + " --dry-run");
  CHECK(r.code != 0);
  CHECK_MESSAGE(contains(r.out, "cos: lr 0.1 -> 0; T 1 (epoch 100) -> 15.5 (epoch 200) -> 30 (epoch 300)"), r.out);
  // A grid that passes: --plot draws its schedules, and belongs to --dry-run.
  lowbit::test::write_tiny_experiment(d / "ok.json", "ok", 64, 4,
                                      R"("variants": {"cos": {"quant.method": "slb", "quant.temperature": {"schedule":
                                      "cos", "t1": 30, "start": 0, "end": 0.5, "per_step": true}}})");
  r = lowbit::test::run_lowbit("grid " + d / "ok.json" + " --dry-run --plot " + d / "plots");
  CHECK_MESSAGE(r.code == 0, r.out);
  CHECK(contains(lowbit::test::slurp(d / "plots/ok-temperature.svg"), "</svg>"));
  CHECK(contains(lowbit::test::slurp(d / "plots/ok-lr.svg"), "</svg>"));
  r = lowbit::test::run_lowbit("grid " + d / "ok.json" + " --db " + d / "ok.db --plot " + d / "plots");
  CHECK(r.code != 0);
  CHECK_MESSAGE(contains(r.out, "add --dry-run"), r.out);
}
