#include <doctest/doctest.h>

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/util.h"
#include "reports/plots.h"
#include "reports/report.h"
#include "tracker/queries.h"
#include "tracker/report_data.h"
#include "tracker/store.h"
#include "tests/test_util.h"

using namespace lowbit;
using namespace lowbit::test;

namespace {

// Experiment "t": variant A (3 seeds: final test_acc 0.90, 0.92, 0.94) and variant B
// (3 seeds requested: 0.80, 0.84 done, the third failed). Two epochs each.
void build_db(const std::string& path) {
  Store s(path, Store::Open::kMigrate);
  int64_t e = s.upsert_experiment("t", "known values",
                                  R"({"name": "t", "variants": {"A": {}, "B": {}}, "seeds": 3})");
  std::vector<PlannedRun> runs;
  for (std::string v : {"A", "B"})
    for (int seed = 0; seed < 3; ++seed) {
      PlannedRun p;
      p.config.name = "t";
      p.config.seed = seed;
      p.config.optim.lr = v == "A" ? 0.1 : 0.2;
      p.hash = config_hash(p.config);
      p.variant = v;
      runs.push_back(p);
    }
  s.add_runs(e, runs);
  const double acc[2][3] = {{0.90, 0.92, 0.94}, {0.80, 0.84, -1}};
  while (auto c = s.claim(e, Provenance{"h", "x", "cpu", 1, 1})) {
    int v = c->config.optim.lr == 0.1 ? 0 : 1;
    double a = acc[v][c->config.seed];
    s.begin_run(c->id, 0);
    if (a < 0) {
      s.finish_run(c->id, "failed", "boom", {});
      continue;
    }
    s.write_epoch(
        c->id,
        {0, 2, {{"test_acc", a - 0.1}, {"act_sparsity_mean", 0.5}}, {{"conv2", "sparsity", 0.3}}});
    s.write_epoch(c->id, {1,
                          2,
                          {{"test_acc", a}, {"act_sparsity_mean", 0.4}},
                          {{"conv2", "sparsity", 0.25},
                           {"conv2", "macs", 1000},
                           {"conv2", "weights", 100},
                           {"conv2", "weight_bits", 2},
                           {"conv2", "weight_levels", 3},
                           {"conv2", "in_sparsity", 0.4}}});
    s.finish_run(c->id, "done", "",
                 {{"peak_rss_bytes", 1048576.0 * (100 + c->config.seed)},
                  {"packed_model_bytes", v ? 2048.0 : 4096.0}});
  }
}

// Options for the known-values database in `d`, writing to d/rep.
ReportOptions options(const TempDir& d) {
  ReportOptions o;
  o.db = d / "r.db";
  o.experiment = "t";
  o.out_dir = d / "rep";
  return o;
}

}  // namespace

TEST_CASE("report: the main table's markdown, CSV and LaTeX, exactly") {
  TempDir d;
  build_db(d / "r.db");
  ReportOptions o = options(d);
  o.table = "main";
  o.baseline = "A";
  o.plots = false;
  auto r = write_report(o);
  CHECK(slurp(d / "rep/main.md") ==
        "**t: test_acc (final), %** — mean ± standard deviation (n - 1) over seeds, (n) finished "
        "seeds; bold: best in its column where Welch's test against the runner-up, Holm-adjusted across "
        "the table's columns, gives p < 0.05; "
        "† fewer finished seeds than requested (not averaged silently: n shows it); * p < 0.05, ** "
        "p < 0.01 (Welch's t-test against A, Holm-adjusted across the table's tests).\n\n"
        "| variant | test_acc | weight sparsity, quantized layers |\n| --- | ---: | ---: |\n"
        "| A | 92.00 ± 2.00 (3) | 25.00 ± 0.00 (3) |\n"  // A vs B: Welch p 0.066, not decided
        "| B | 82.00 ± 2.83 (2)† | 25.00 ± 0.00 (2)† |\n");
  std::string csv = slurp(d / "rep/main.csv");
  CHECK(csv.rfind("variant,column,mean,std,n,requested,ci_low,ci_high,p_value,p_holm,incomplete,na,best\n",
                  0) == 0);
  std::istringstream lines(csv);
  std::string header, a, a_sparsity, b;
  std::getline(lines, header), std::getline(lines, a), std::getline(lines, a_sparsity),
      std::getline(lines, b);
  // In the units the labels state, as the markdown: percentages as percentages.
  CHECK(a_sparsity.rfind("A,\"weight sparsity, quantized layers\",25,0,3,3,", 0) == 0);
  CHECK(a.rfind("A,test_acc,9", 0) == 0);
  CHECK(std::stod(a.substr(11)) == doctest::Approx(92).epsilon(1e-12));
  CHECK(a.substr(a.size() - 6) == ",0,0,0");  // complete, applies, not bold (p 0.066 vs B)
  CHECK(b.rfind("B,test_acc,8", 0) == 0);
  CHECK(std::stod(b.substr(11)) == doctest::Approx(82).epsilon(1e-12));
  CHECK(b.find(",2,3,") != std::string::npos);       // n = 2 of 3 requested
  CHECK(b.find(",0.0664960") != std::string::npos);  // Welch p against A
  CHECK(b.substr(b.size() - 6) == ",1,0,0");  // incomplete, applies, not best
  CHECK(slurp(d / "rep/main.tex") ==
        "% lowbit table; needs \\usepackage{booktabs} (\\toprule, \\midrule, \\bottomrule)\n"
        "\\begin{table}[t]\n\\centering\n\\caption{t: test\\_acc (final), \\%: mean $\\pm$ "
        "standard deviation (n - 1) over seeds, "
        "(n) finished seeds; bold: best in its column where Welch's test against the runner-up, "
        "Holm-adjusted across the table's columns, gives p $<$ 0.05; $^\\dagger$ fewer finished seeds than "
        "requested (not averaged silently: n shows it); "
        "* p $<$ 0.05, ** p $<$ 0.01 (Welch's t-test against "
        "A, Holm-adjusted across the table's tests).}\n\\label{tab:main}\n\\begin{tabular}{lrr}\n\\toprule\n"
        "variant & test\\_acc & weight sparsity, quantized layers \\\\\n\\midrule\n"
        "A & $92.00 \\pm 2.00$ (3) & $25.00 \\pm 0.00$ (3) \\\\\n"
        "B & $82.00 \\pm 2.83$ (2)$^\\dagger$ & $25.00 \\pm 0.00$ (2)$^\\dagger$ \\\\\n"
        "\\bottomrule\n\\end{tabular}\n\\end{table}\n");
  // With --ci the caption says "95% confidence": the % is escaped, or TeX would comment out
  // the rest of the line, the caption's closing brace included.
  o.ci = 95;
  o.out_dir = d / "ci";
  write_report(o);
  const std::string tex = slurp(d / "ci/main.tex");
  CHECK(tex.find("95\\% confidence half-width") != std::string::npos);
  CHECK(tex.find("95% ") == std::string::npos);
  std::string md = slurp(r.report_md);
  CHECK(md.find("### Provenance") != std::string::npos);
  CHECK(md.find("sha256 `") != std::string::npos);
  CHECK(md.find("SELECT run_id, epoch, value FROM metrics") != std::string::npos);
}

TEST_CASE("report: 95% CI uses Student's t; best epoch and last-k-mean metrics") {
  TempDir d;
  build_db(d / "r.db");
  ReportOptions o = options(d);
  o.table = "main";
  o.ci = 95;
  o.plots = false;
  o.formats = {"md"};
  write_report(o);
  // A: 4.3027 * 0.02 / sqrt(3) = 0.0497 -> 4.97 points.
  CHECK(slurp(d / "rep/main.md").find("| A | 92.00 ± 4.97 (3) |") != std::string::npos);
  o.metric = "test_acc:last-2-mean";
  write_report(o);
  CHECK(slurp(d / "rep/main.md").find("| A | 87.00 ± 4.97 (3) |") != std::string::npos);
  o.metric = "peak_rss_bytes";
  o.ci = 0;
  write_report(o);
  // A per-run summary: A's seeds 100, 101, 102 MiB; B's 100, 101 MiB. Memory depends on the
  // machine: never tested, never bold.
  CHECK(slurp(d / "rep/main.md").find("| A | 105906176 ± 1048576 (3) |") != std::string::npos);
  CHECK(slurp(d / "rep/main.md").find("| B | 105381888 ± 741455 (2)† |") != std::string::npos);
}

TEST_CASE("report: cost, layers and energy tables") {
  TempDir d;
  build_db(d / "r.db");
  ReportOptions o = options(d);
  o.plots = false;
  o.formats = {"md", "csv"};
  write_report(o);
  std::string cost = slurp(d / "rep/cost.md");
  // Peak RSS, MiB: A 100, 101, 102; B 100, 101 (lower, so B is marked best).
  CHECK(cost.find("| A | 101.0 ± 1.00 (3) |") != std::string::npos);
  CHECK(cost.find("| B | 100.5 ± 0.707 (2)† |") != std::string::npos);
  std::string layers = slurp(d / "rep/layers.md");
  // Per-layer statistics: no bold; statistics a layer does not record read n/a.
  CHECK(
      layers.find("| A | conv2 | 25.00 ± 0.00 (3) | n/a | n/a | n/a | n/a | n/a | n/a | 40.00 ± 0.00 (3) |") !=
      std::string::npos);
  // Energy: 1000 MACs at 0.9 pJ (ternary weights, 3 levels, float input) = 900 pJ dense;
  // conv2's zero weights (sparsity 0.25) skipped: 1000 x 0.75 x 0.9 = 675 pJ; its zero inputs
  // (measured input sparsity 0.4) skipped: 1000 x 0.6 x 0.9 = 540 pJ; both: 1000 x 0.75 x 0.6
  // x 0.9 = 405 pJ.
  std::string energy = slurp(d / "rep/energy.csv");
  CHECK(energy.find("A,\"energy, dense (µJ)\",0.0009,0,3,") != std::string::npos);
  CHECK(energy.find("A,\"energy, zero weights skipped (µJ)\",0.00067") != std::string::npos);  // 0.000675, to its last bit
  CHECK(energy.find("A,\"energy, zero inputs skipped (µJ)\",0.00054,") != std::string::npos);
  CHECK(energy.find("A,\"energy, both skipped (µJ)\",0.000405,") != std::string::npos);
  CHECK(energy.find("A,\"weight sparsity, MAC-weighted\",25,") != std::string::npos);
  // A statistic conv2 does not record: in the CSV no value, not incomplete, na = 1.
  CHECK(slurp(d / "rep/layers.csv").find("A,conv2,") != std::string::npos);
  CHECK(slurp(d / "rep/layers.csv").find(",,,0,3,,,,,0,1,0\n") != std::string::npos);
  std::string energy_layers = slurp(d / "rep/energy_layers.csv");
  CHECK(energy_layers.find("A,conv2,input sparsity,40,0,3,") != std::string::npos);
  CHECK(energy_layers.find("A,conv2,pJ / MAC,0.9,") != std::string::npos);
  CHECK(energy_layers.find("A,conv2,weight sparsity,25,0,3,") != std::string::npos);
  CHECK(energy_layers.find("A,conv2,\"energy, both skipped (nJ)\",0.405,") != std::string::npos);
}

TEST_CASE("report: plots are written as valid SVG and PNG") {
  REQUIRE_MESSAGE(gnuplot_available(), "gnuplot is missing: run scripts/install-deps.sh");
  TempDir d;
  build_db(d / "r.db");
  ReportOptions o = options(d);
  auto r = write_report(o);
  for (const char* name : {"test_acc", "act_sparsity", "weight_sparsity", "pareto"}) {
    std::string svg = slurp(d / "rep/" + name + ".svg"), png = slurp(d / "rep/" + name + ".png");
    CHECK_MESSAGE(svg.find("<svg") != std::string::npos, name);
    CHECK_MESSAGE(svg.find("</svg>") != std::string::npos, name);
    CHECK_MESSAGE(png.rfind("\x89PNG\r\n\x1a\n", 0) == 0, name);
  }
  CHECK(slurp(r.report_md).find("![Test accuracy (mean ± std over seeds)](test_acc.png)") !=
        std::string::npos);
  CHECK_FALSE(is_file(d / "rep/schedule.svg"));  // no SLB run: no scheduled temperature
  CHECK_FALSE(is_file(d / "rep/metric.svg"));  // --metric test_acc: its curve is test_acc.svg
  // --metric names another per-epoch metric: the plots draw it too.
  ReportOptions om = options(d);
  om.metric = "act_sparsity_mean";
  om.out_dir = d / "rep_metric";
  write_report(om);
  CHECK(slurp(d / "rep_metric/metric.svg").find("</svg>") != std::string::npos);
  CHECK(slurp(d / "rep_metric/metric.dat").find("# A\n1 50 0\n2 40 0\n") != std::string::npos);  // in %
  // Accuracy is drawn in %, as the tables show it: A's epochs 1 and 2, mean and std over seeds.
  CHECK_MESSAGE(slurp(d / "rep/test_acc.dat").find("# A\n1 82 2\n2 92 2\n") != std::string::npos,
                slurp(d / "rep/test_acc.dat"));
}

// An experiment with SLB runs: its report draws the temperature each variant's config schedules.
TEST_CASE("report: an experiment with SLB runs shows the temperature as scheduled") {
  REQUIRE_MESSAGE(gnuplot_available(), "gnuplot is missing: run scripts/install-deps.sh");
  TempDir d;
  {
    Store s(d / "r.db", Store::Open::kMigrate);
    int64_t e = s.upsert_experiment("t", "slb", R"({"name": "t", "variants": {"fp": {}, "slb": {}}, "seeds": 1})");
    std::vector<PlannedRun> runs(2);
    runs[0].variant = "fp", runs[1].variant = "slb";
    runs[1].config.quant.method = "slb";
    for (auto& p : runs) p.config.name = "t", p.hash = config_hash(p.config);
    s.add_runs(e, runs);
    while (auto c = s.claim(e, Provenance{"h", "x", "cpu", 1, 1})) {
      s.begin_run(c->id, 0);
      s.write_epoch(c->id, {0, 1, {{"test_acc", 0.5}}, {}});
      s.finish_run(c->id, "done", "", {{"final_test_acc", 0.5}});
    }
  }
  ReportOptions o = options(d);
  auto r = write_report(o);
  CHECK(slurp(d / "rep/schedule.svg").find("</svg>") != std::string::npos);
  CHECK(slurp(r.report_md).find("![SLB inverse temperature as scheduled (dashed: hard forward)](schedule.png)") !=
        std::string::npos);
  // One curve, the slb variant's: the fp run schedules no temperature.
  CHECK(slurp(d / "rep/schedule.dat").find("# slb") != std::string::npos);
  CHECK(slurp(d / "rep/schedule.dat").find("# fp") == std::string::npos);
  // A group keeps its colour from plot to plot: slb, the second group, is the palette's second
  // colour (#d62728) in the accuracy plot and in the schedule plot, where it is the only curve.
  for (const char* plot : {"test_acc", "schedule"})
    CHECK_MESSAGE(slurp(d / (std::string("rep/") + plot + ".svg")).find("rgb(214,  39,  40)") != std::string::npos, plot);
}

// lowbit report --tables cost into a folder that holds a full report: the earlier report's
// files that this one does not write are removed, the user's own files stay, and the count of
// files written is the folder's report.
TEST_CASE("report: written again with fewer tables, the folder holds only the new report") {
  TempDir d;
  build_db(d / "r.db");
  ReportOptions o = options(d);
  o.plots = false;
  o.formats = {"md", "csv", "html"};
  write_report(o);
  REQUIRE(is_file(d / "rep/main.md"));
  lowbit::test::write_file(d / "rep/my-notes.txt", "mine");
  o.table = "cost";
  const auto r = write_report(o);
  CHECK(is_file(d / "rep/cost.md"));
  CHECK(is_file(d / "rep/cost.csv"));
  CHECK_FALSE(is_file(d / "rep/main.md"));
  CHECK_FALSE(is_file(d / "rep/main.csv"));
  CHECK_FALSE(is_file(d / "rep/layers.md"));
  CHECK(slurp(d / "rep/my-notes.txt") == "mine");
  const auto names = list_dir(d / "rep").value();
  CHECK(names.size() == r.files.size() + 2);  // the manifest and my-notes.txt
}

TEST_CASE("report: bad input names what exists") {
  TempDir d;
  build_db(d / "r.db");
  ReportOptions o = options(d);
  o.experiment = "tt";
  CHECK_THROWS_WITH_AS(
      write_report(o),
      ("no experiment 'tt' in " + d / "r.db" + ", did you mean 't'? (experiments: t)").c_str(),
      StoreError);
  o.experiment = "t";
  o.metric = "test_accc";
  CHECK_THROWS_WITH_AS(write_report(o),
                       "--metric: no metric 'test_accc' in t, did you mean 'test_acc'? (per-epoch: "
                       "act_sparsity_mean, test_acc; "
                       "per-run: packed_model_bytes, peak_rss_bytes)",
                       ConfigError);
  o.metric = "test_acc";
  o.out_dir = "/proc/lowbit_cannot_write";
  CHECK_THROWS_AS(write_report(o), ConfigError);
  {
    Store s(d / "empty.db", Store::Open::kMigrate);
    s.upsert_experiment("empty", "", "{}");
  }
  o.db = d / "empty.db";
  o.experiment = "empty";
  o.out_dir = d / "rep2";
  CHECK_THROWS_WITH_AS(
      write_report(o),
      ("experiment 'empty' has no finished runs yet (0 runs; see lowbit status --db " +
       d / "empty.db" + ")")
          .c_str(),
      StoreError);
}

namespace {
// Experiment "p": variants fp (the baseline) and ttq, 3 seeds each, all done.
// test_acc: fp 0.9 x3, ttq 0.8 x3 (zero variance on both sides: no p-value).
// Weight sparsity: fp conv1 0.55/0.60/0.65, conv2 0 x3; ttq conv1 0.1 x3, conv2 0.5/0.6/0.7.
// Wp: ttq only. Packed bytes: fp 4096, ttq 1024 for every seed (cannot vary with the seed).
void build_paired_db(const std::string& path) {
  Store s(path, Store::Open::kMigrate);
  int64_t e = s.upsert_experiment(
      "p", "", R"({"name": "p", "variants": {"fp": {}, "ttq": {}}, "seeds": 3})");
  std::vector<PlannedRun> runs;
  for (std::string v : {"fp", "ttq"})
    for (int seed = 0; seed < 3; ++seed) {
      PlannedRun p;
      p.config.seed = seed;
      p.config.quant.method = v;
      p.hash = config_hash(p.config);
      p.variant = v;
      runs.push_back(p);
    }
  s.add_runs(e, runs);
  while (auto c = s.claim(e, Provenance{"h", "x", "cpu", 1, 1})) {
    const bool fp = c->config.quant.method == "fp";
    const int k = int(c->config.seed);
    s.begin_run(c->id, 0);
    std::vector<LayerStat> ls = {{"conv1", "sparsity", fp ? 0.55 + 0.05 * k : 0.1},
                                 {"conv2", "sparsity", fp ? 0.0 : 0.5 + 0.1 * k},
                                 {"act1", "act_sparsity", 0.5}};
    if (!fp) ls.push_back({"conv2", "wp", 1.0 + 0.2 * k});
    s.write_epoch(c->id, {0, 1, {{"test_acc", fp ? 0.9 : 0.8}}, ls});
    s.finish_run(
        c->id, "done", "",
        {{"packed_model_bytes", fp ? 4096.0 : 1024.0}, {"peak_rss_bytes", 1048576.0 * (100 + k)}});
  }
}
}  // namespace

TEST_CASE(
    "report: honest statistics: same-layer baseline, no star without variance, n/a, seed-invariant "
    "columns") {
  TempDir d;
  build_paired_db(d / "p.db");
  ReportOptions o;
  o.db = d / "p.db";
  o.experiment = "p";
  o.out_dir = d / "rep";
  o.baseline = "fp";
  o.plots = false;
  o.formats = {"md"};
  write_report(o);
  // Both groups constant: Welch's t is undefined, so no star although the means differ.
  CHECK(slurp(d / "rep/main.md")
            .find("| variant | test_acc |\n| --- | ---: |\n| fp | 90.00 ± 0.00 (3) |\n| ttq | "
                  "80.00 ± 0.00 (3) |\n") != std::string::npos);
  // Each layer is tested against the same layer of fp: ttq conv2 (0.6 ± 0.1) vs fp conv2
  // (0 ± 0): t = 10.39, df = 2, p = 0.0091 (**); against fp conv1 it would be p = 1.
  // ttq conv1 (0.1 ± 0) vs fp conv1 (0.6 ± 0.05): t = -17.3, df = 2, p = 0.0033 (**).
  CHECK(slurp(d / "rep/layers.md") ==
        "**p: weight layers at the last epoch** — mean ± standard deviation (n - 1) over seeds, "
        "(n) finished seeds; "
        "† fewer finished seeds than requested (not averaged silently: n shows it); n/a: the "
        "metric does not apply to that row; "
        "* p < 0.05, ** p < 0.01 (Welch's t-test against fp, Holm-adjusted across the table's tests).\n\n"
        "| variant | layer | weight sparsity | Wp / alpha | Wn | flip rate | flip rate per step | latent grad norm | SLB logits "
        "grad norm | input sparsity |\n"
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
        "| fp | conv1 | 60.00 ± 5.00 (3) | n/a | n/a | n/a | n/a | n/a | n/a | n/a |\n"
        "| ttq | conv1 | 10.00 ± 0.00 (3)** | n/a | n/a | n/a | n/a | n/a | n/a | n/a |\n"
        "| fp | conv2 | 0.00 ± 0.00 (3) | n/a | n/a | n/a | n/a | n/a | n/a | n/a |\n"
        "| ttq | conv2 | 60.00 ± 10.00 (3)** | 1.20 ± 0.2 (3) | n/a | n/a | n/a | n/a | n/a | n/a |\n");
  // Activation layers are their own table: no row of empty weight columns.
  CHECK(slurp(d / "rep/activations.md")
            .find("| fp | act1 | 50.00 ± 0.00 (3) |\n| ttq | act1 | 50.00 ± 0.00 (3) |\n") !=
        std::string::npos);
  // Packed bytes cannot vary with the seed: no spread, no test; smaller is bold.
  std::string cost = slurp(d / "rep/cost.md");
  CHECK(cost.find("values that cannot vary with the seed have no spread") != std::string::npos);
  // Peak RSS ties in every row (100/101/102 MiB in both): no best, no bold. The fixture
  // records no parameter bytes or times: n/a.
  CHECK(cost.find("| fp | 101.0 ± 1.00 (3) | n/a | 4.00 (3) | n/a | n/a | n/a |\n") !=
        std::string::npos);
  CHECK(cost.find("| ttq | 101.0 ± 1.00 (3) | n/a | **1.00** (3) | n/a | n/a | n/a |\n") !=
        std::string::npos);
}

TEST_CASE(
    "report: a best epoch is chosen on the validation split, and labelled optimistic when chosen "
    "on test") {
  TempDir d;
  build_db(d / "r.db");  // no val_acc: the best test_acc is selected on the test set
  ReportOptions o = options(d);
  o.table = "main";
  o.plots = false;
  o.formats = {"md"};
  o.metric = "test_acc:best";
  write_report(o);
  CHECK(slurp(d / "rep/main.md")
            .rfind("**t: test_acc (best epoch, selected on the test set: optimistic), %**", 0) ==
        0);
  {
    // Every run gets a validation series whose best epoch (0) is not test_acc's best (1).
    Store s(d / "r.db", Store::Open::kMigrate);
    for (int64_t run = 1; run <= 6; ++run) {
      s.write_epoch(run, {0, 2, {{"val_acc", 0.9}}, {}});
      s.write_epoch(run, {1, 2, {{"val_acc", 0.5}}, {}});
    }
  }
  write_report(o);
  std::string md = slurp(d / "rep/main.md");
  CHECK(md.rfind("**t: test_acc (at the epoch of the best val_acc), %**", 0) == 0);
  // Epoch 0's test_acc: A 0.80, 0.82, 0.84 -> 82.00 ± 2.00.
  CHECK(md.find("| A | 82.00 ± 2.00 (3) |") != std::string::npos);
}

TEST_CASE("report: runs that failed, diverged or stopped are listed with their reason") {
  TempDir d;
  build_db(d / "r.db");  // B's seed 2 failed with "boom"
  ReportOptions o = options(d);
  o.table = "main";
  o.plots = false;
  o.formats = {"md"};
  auto r = write_report(o);
  CHECK(slurp(r.report_md).find("## Excluded runs\n\nNot in any table above (each cell's n counts only finished runs).\n\n"
                                "| run | variant | seed | status | why |\n| ---: | --- | ---: | --- | --- |\n"
                                "| 6 | B | 2 | failed | boom |\n") != std::string::npos);
}

TEST_CASE("report: the budget plot draws the final metric against an 'epochs' axis, mean ± std per budget") {
  REQUIRE_MESSAGE(gnuplot_available(), "gnuplot is missing: run scripts/install-deps.sh");
  TempDir d;
  {
    Store s(d / "b.db", Store::Open::kMigrate);
    int64_t e = s.upsert_experiment("b", "", R"({"name": "b", "axes": {"epochs": [1, 3]}, "seeds": 2})");
    std::vector<PlannedRun> runs;
    for (int epochs : {1, 3})
      for (int seed = 0; seed < 2; ++seed) {
        PlannedRun p;
        p.config.epochs = epochs;
        p.config.seed = seed;
        p.hash = config_hash(p.config);
        p.variant = "slb";
        p.varying = {{"epochs", epochs}};
        runs.push_back(p);
      }
    s.add_runs(e, runs);
    // Final test_acc: 1 epoch: 0.5, 0.6; 3 epochs: 0.8, 0.8.
    while (auto c = s.claim(e, Provenance{"h", "x", "cpu", 1, 1})) {
      double a = c->config.epochs == 1 ? 0.5 + 0.1 * c->config.seed : 0.8;
      s.begin_run(c->id, 0);
      s.write_epoch(c->id, {c->config.epochs - 1, c->config.epochs, {{"test_acc", a}}, {}});
      s.finish_run(c->id, "done", "", {});
    }
  }
  ReportOptions o;
  o.db = d / "b.db";
  o.experiment = "b";
  o.out_dir = d / "rep";
  o.rows = {"variant"};
  o.cols = {"epochs"};
  o.formats = {"md"};
  write_report(o);
  // One series (slb): x = budget, mean and std of the final accuracy in %.
  std::string dat = slurp(d / "rep/budget.dat");
  CHECK(dat.find("# slb\n1 55 7.07107\n3 80 0\n") != std::string::npos);
  CHECK(slurp(d / "rep/report.md").find("against the epoch budget") != std::string::npos);
}

TEST_CASE("report: network weight sparsity is weighted by each layer's weights; bytes per weight") {
  TempDir d;
  {
    Store s(d / "w.db", Store::Open::kMigrate);
    int64_t e = s.upsert_experiment("w", "", R"({"name": "w", "variants": {"ttq": {}}, "seeds": 2})");
    std::vector<PlannedRun> runs;
    for (int seed = 0; seed < 2; ++seed) {
      PlannedRun p;
      p.config.seed = seed;
      p.hash = config_hash(p.config);
      p.variant = "ttq";
      runs.push_back(p);
    }
    s.add_runs(e, runs);
    while (auto c = s.claim(e, Provenance{"h", "x", "cpu", 1, 1})) {
      s.begin_run(c->id, 0);
      // Epoch 0's values are overwritten by the last epoch's. conv1: 100 weights, 10% zeros;
      // conv2: 300 weights, 50% (seed 0) or 30% (seed 1); fc: 50 weights, no sparsity (full
      // precision). Network: (10 + 150) / 400 = 40% and (10 + 90) / 400 = 25%.
      s.write_epoch(c->id, {0, 2, {{"test_acc", 0.5}}, {{"conv2", "sparsity", 0.9}}});
      s.write_epoch(c->id, {1,
                            2,
                            {{"test_acc", 0.8}},
                            {{"conv1", "sparsity", 0.1},
                             {"conv1", "weights", 100},
                             {"conv2", "sparsity", c->config.seed == 0 ? 0.5 : 0.3},
                             {"conv2", "weights", 300},
                             {"fc", "weights", 50}}});
      s.finish_run(c->id, "done", "", {{"param_bytes", 1800.0}});
    }
  }
  ReportOptions o;
  o.db = d / "w.db";
  o.experiment = "w";
  o.out_dir = d / "rep";
  o.plots = false;
  o.formats = {"md"};
  write_report(o);
  // (40 + 25) / 2 = 32.5; std of {40, 25} = 10.61.
  CHECK(slurp(d / "rep/main.md").find("| ttq | 80.00 ± 0.00 (2) | 32.50 ± 10.61 (2) |") !=
        std::string::npos);
  // 1800 trainable bytes over 450 conv and linear weights.
  CHECK(slurp(d / "rep/cost.md").find(" | 4.00 (2) | ") != std::string::npos);
}

TEST_CASE("report: config values read typed from run_config print as the JSON does") {
  // A report that needs only its row keys reads them from run_config (load_config_text)
  // instead of parsing every config. For every config key of three runs (defaults, and two
  // with non-default values of every kind: booleans, integers, integral and fractional
  // floats, strings, lists, an object, null), the text must equal config_value_text of the
  // value in the stored JSON.
  TempDir d;
  const std::string db_path = d / "k.db";
  {
    Store s(db_path, Store::Open::kMigrate);
    int64_t e = s.upsert_experiment("k", "", R"({"name": "k"})");
    std::vector<PlannedRun> runs;
    const char* changes[] = {
        "{}",
        R"({"data": {"augment": false, "val_fraction": 0.1}, "optim": {"lr": 1, "nesterov": true,
            "milestones": [3, 5], "schedule": "multistep"}, "quant": {"method": "ttq",
            "threshold": {"conv*": 0.1, "fc": 0.2}, "target_sparsity": 0.5,
            "skip": ["first"], "normalize_latent": true}, "epochs": 7})",
        R"({"optim": {"lr": 0.0125, "name": "adam"}, "quant": {"method": "slb", "bits": 2,
            "value_set": [-1, 0, 0.5, 1], "temperature": {"per_step": true}},
            "health": {"ttq_scales": false}, "batch_size": 64})"};
    int seed = 0;
    for (const char* c : changes) {
      PlannedRun p;
      apply_json(p.config, nlohmann::json::parse(c), "test");
      p.config.name = "k";
      p.config.seed = seed++;
      p.hash = config_hash(p.config);
      runs.push_back(p);
    }
    s.add_runs(e, runs);
  }
  auto db = open_readonly(db_path);
  ExperimentData e = load_experiment_data(*db, "k", /*parse_configs=*/false);
  REQUIRE(e.runs.size() == 3);
  load_config_text(*db, e, config_paths());
  int compared = 0;
  for (const auto& r : e.runs) {
    CHECK(!r.config_tree);  // nothing parsed so far
    for (const auto& key : config_paths()) {
      CAPTURE(key);
      const auto ptr = config_pointer(key);
      const auto it = r.config_text.find(key);
      if (!r.config().contains(ptr)) {
        CHECK(it == r.config_text.end());
        continue;
      }
      REQUIRE(it != r.config_text.end());
      CHECK(it->second == config_value_text(r.config()[ptr]));
      ++compared;
    }
  }
  CHECK(compared >= 3 * 70);
  // The texts a table shows for a few of them, by hand.
  CHECK(e.runs[1].config_text.at("data.augment") == "false");
  CHECK(e.runs[1].config_text.at("optim.lr") == "1");
  CHECK(e.runs[1].config_text.at("optim.milestones") == "[3,5]");
  CHECK(e.runs[1].config_text.at("quant.threshold") == R"({"conv*":0.1,"fc":0.2})");
  CHECK(e.runs[0].config_text.at("quant.target_sparsity") == "null");
  CHECK(e.runs[2].config_text.at("optim.lr") == "0.0125");
  CHECK(e.runs[2].config_text.at("quant.method") == "slb");
}

namespace {
// The report of experiment "fixture" of a committed fixture database (copied into d), with a
// 95% interval and no plots, written to d/rep.
ReportResult fixture_report(const TempDir& d, const std::string& fixture) {
  REQUIRE(std::system(("cp '" + std::string(LOWBIT_SOURCE_DIR) + "/tests/fixtures/" + fixture + "' '" + d / "r.db" + "'").c_str()) == 0);
  ReportOptions o;
  o.db = d / "r.db";
  o.experiment = "fixture";
  o.out_dir = d / "rep";
  o.ci = 95;
  o.plots = false;
  return write_report(o);
}
}  // namespace

// The .tex tables are checked by their real reader: each table of a report of the fixture
// database (every table kind, failed and excluded runs, a 95% interval in the caption) compiles
// with pdflatex and booktabs, as a paper would \input it.
TEST_CASE("report: every LaTeX table compiles with pdflatex") {
  REQUIRE_MESSAGE(std::system("command -v pdflatex > /dev/null") == 0,
                  "pdflatex is missing: run scripts/install-deps.sh (texlive-latex-base, texlive-latex-recommended)");
  TempDir d;
  auto r = fixture_report(d, "fixture-v7.db");
  int tables = 0;
  for (auto& f : r.files) {
    if (f.size() < 4 || f.substr(f.size() - 4) != ".tex") continue;
    ++tables;
    auto latex = compile_latex_table(d / ("doc" + std::to_string(tables) + ".tex"), f);
    CHECK_MESSAGE(latex.code == 0, f << ": pdflatex failed:\n" << latex.out.substr(0, 3000));
  }
  CHECK(tables >= 5);  // main, cost, layers, activations, energy (and its per-layer table)
}

// The CSVs are checked by their real reader too: pandas reads every table of the fixture's
// report, and each mean, rounded as the markdown prints it, is the markdown's number (the two
// formats in the same units). tests/reports/check_csv.py; fails on a CSV in other units.
TEST_CASE("report: every CSV table reads with pandas, in the markdown's units") {
  REQUIRE_MESSAGE(std::system("/usr/bin/python3 -c 'import pandas' 2> /dev/null") == 0,
                  "pandas is missing: run scripts/install-deps.sh (python3-pandas)");
  TempDir d;
  fixture_report(d, "fixture-v8.db");
  const std::string script = std::string(LOWBIT_SOURCE_DIR) + "/tests/reports/check_csv.py";
  auto r = run_shell("/usr/bin/python3 '" + script + "' '" + d / "rep" + "'");
  CHECK_MESSAGE(r.code == 0, r.out);
  CHECK(r.out.find("in 6 tables") != std::string::npos);
  // A CSV in other units than its markdown (fractions beside percentages) is caught.
  std::string csv = slurp(d / "rep/main.csv");
  const size_t line = csv.find('\n') + 1, mean = csv.find(',', csv.find(',', line) + 1) + 1;
  csv.replace(mean, csv.find(',', mean) - mean, "0.47");
  write_file(d / "rep/main.csv", csv);
  auto bad = run_shell("/usr/bin/python3 '" + script + "' '" + d / "rep" + "'");
  CHECK(bad.code == 1);
  CHECK(bad.out.find("a unit differs between the two?") != std::string::npos);
}

// The per-epoch dynamics a run records reach the report: flip_rate as a per-layer column and
// curve, SLB's soft-hard gap as a curve (both read with the other layer statistics).
TEST_CASE("report: flip rate and the soft-hard gap reach the per-layer table and curves") {
  TempDir d;
  {
    Store s(d / "r.db", Store::Open::kMigrate);
    const int64_t e = s.upsert_experiment("dyn", "", R"({"name": "dyn", "variants": {"slb": {}}})");
    PlannedRun p;
    p.config.name = "dyn";
    p.config.quant.method = "slb";
    p.hash = config_hash(p.config);
    p.variant = "slb";
    s.add_runs(e, {p});
    auto c = s.claim(e, Provenance{"h", "x", "cpu", 1, 1});
    REQUIRE(c);
    s.begin_run(c->id, 0);
    for (int64_t ep = 0; ep < 2; ++ep)
      s.write_epoch(c->id, {ep, 2, {{"test_acc", 0.5}},
                            {{"conv2", "sparsity", 0.0}, {"conv2", "flip_rate", ep ? 0.25 : 0.5},
                             {"conv2", "soft_hard_gap", 0.7 - 0.2 * double(ep)}}});
    s.finish_run(c->id, "done", "", {});
  }
  ReportOptions o;
  o.db = d / "r.db";
  o.experiment = "dyn";
  o.out_dir = d / "rep";
  write_report(o);
  CHECK(slurp(d / "rep/layers.md").find("| slb | conv2 | 0.00 (1) | n/a | n/a | 25.00 (1) |") != std::string::npos);
  REQUIRE_MESSAGE(gnuplot_available(), "gnuplot is missing: run scripts/install-deps.sh");
  CHECK(is_file(d / "rep/flip_rate.svg"));
  CHECK(is_file(d / "rep/soft_hard_gap.svg"));
}
