// Claims in a definition: validation, and the verdicts a report gives on known values. The
// p-values were computed with scipy 1.14.1 and statsmodels 0.15.0 (ttest_rel, ttost_paired,
// multipletests(method="holm")) from the values below in percent; tolerance 1e-6 relative.
#include <doctest/doctest.h>

#include "core/error.h"
#include "core/util.h"
#include "experiments/spec.h"
#include "reports/claims.h"
#include "reports/report.h"
#include "reports/report_registry.h"
#include "tracker/queries.h"
#include "tracker/store.h"
#include "tests/test_util.h"

using namespace lowbit;
using namespace lowbit::test;
using doctest::Approx;

namespace {

// Experiment "c": variants A, B, C, 3 seeds each, same model and data (so paired by seed).
// Final test_acc: A 0.90 0.92 0.94; B 0.80 0.84 0.82; C 0.905 0.915 0.935.
const char* kDefinition = R"({"name": "c", "variants": {"A": {}, "B": {"optim.lr": 0.2}, "C": {"optim.lr": 0.3}},
  "seeds": 3, "claims": [
  {"name": "a_beats_b", "a": "A", "b": "B", "kind": "greater", "source": "A is better than B."},
  {"name": "a_like_c", "a": "A", "b": "C", "kind": "equivalent", "margin": 2, "source": "A and C are alike."},
  {"name": "b_beats_a", "a": "B", "b": "A", "kind": "greater", "source": "B is better than A."},
  {"name": "c_beats_a", "a": "C", "b": "A", "kind": "greater", "margin": 0.5, "source": "C is better than A."}]})";

void build_db(const std::string& path) {
  Store s(path, Store::Open::kMigrate);
  const int64_t e = s.upsert_experiment("c", "claims", kDefinition);
  std::vector<PlannedRun> runs;
  const std::map<std::string, double> lr = {{"A", 0.05}, {"B", 0.2}, {"C", 0.3}};
  for (auto& [v, rate] : lr)
    for (int seed = 0; seed < 3; ++seed) {
      PlannedRun p;
      p.config.name = "c";
      p.config.seed = seed;
      p.config.optim.lr = rate;
      p.hash = config_hash(p.config);
      p.variant = v;
      runs.push_back(p);
    }
  s.add_runs(e, runs);
  const std::map<double, std::vector<double>> acc = {
      {0.05, {0.90, 0.92, 0.94}}, {0.2, {0.80, 0.84, 0.82}}, {0.3, {0.905, 0.915, 0.935}}};
  while (auto c = s.claim(e, Provenance{"h", "x", "cpu", 1, 1})) {
    s.begin_run(c->id, 0);
    s.write_epoch(c->id, {0, 1, {{"test_acc", acc.at(c->config.optim.lr)[size_t(c->config.seed)]}}, {}});
    s.finish_run(c->id, "done", "", {{"wall_seconds", 60.0}});
  }
}

std::string claim_error(const std::string& claims) {
  const std::string text = R"({"name": "x", "variants": {"fp": {}, "slb": {"quant.method": "slb", "axes": {"quant.bits": [1, 2]}}},
    "claims": [)" + claims + "]}";
  return error_message<ConfigError>([&] { expand_experiment(text, "x.json"); });
}

}  // namespace

TEST_CASE("claims: a report decides each claim: paired tests, Holm, verdicts, power") {
  TempDir d;
  build_db(d / "r.db");
  auto db = open_readonly(d / "r.db");
  ExperimentData e = load_experiment_data(*db, "c");
  const auto r = evaluate_claims(*db, e);
  REQUIRE(r.size() == 4);
  for (auto& c : r) CHECK_MESSAGE(c.diff.paired, c.claim.name);  // same model, data and batch size
  // A > B: ttest_rel(A, B, alternative="greater") 0.0065362287801732566; Holm (4 claims) 0.026144915120693026
  CHECK(r[0].p.p_for == Approx(0.0065362287801732566).epsilon(1e-6));
  CHECK(r[0].adjusted.p_for == Approx(0.026144915120693026).epsilon(1e-6));
  CHECK(r[0].verdict == Verdict::kSupported);
  CHECK(r[0].diff.estimate == Approx(10.0));  // percentage points
  // |A - C| < 2: ttost_paired(A, C, -2, 2) 0.0157520015209069; Holm 0.047256004562720694
  CHECK(r[1].p.p_for == Approx(0.0157520015209069).epsilon(1e-6));
  CHECK(r[1].adjusted.p_for == Approx(0.047256004562720694).epsilon(1e-6));
  CHECK(r[1].verdict == Verdict::kSupported);
  // B > A is contradicted: its negation B < A has p 0.0065362..., Holm 0.026144915120693026
  CHECK(r[2].adjusted.p_against == Approx(0.026144915120693026).epsilon(1e-6));
  CHECK(r[2].verdict == Verdict::kContradicted);
  // C > A: inconclusive (p 0.6667, against 0.3333); 80% power at n = 3 needs 1.3268819173784463
  // pp, and the margin 0.5 pp needs 10 seeds (t-quantile formula, scipy t.ppf)
  CHECK(r[3].verdict == Verdict::kInconclusive);
  CHECK(r[3].p.p_for == Approx(0.6666666666666667).epsilon(1e-6));
  CHECK(r[3].mde == Approx(1.3268819173784463).epsilon(1e-6));
  CHECK(r[3].seeds_for_margin == 10);

  ReportOptions o;
  o.db = d / "r.db";
  o.experiment = "c";
  o.out_dir = d / "rep";
  o.formats = {"md", "csv", "tex", "html"};
  write_report(o);
  const std::string md = slurp(d / "rep/report.md");
  CHECK(md.find("## Claims") < md.find("test_acc"));  // the claims lead the report
  CHECK(md.find("| a_beats_b | A > B |") != std::string::npos);
  CHECK(md.find("**contradicted**") != std::string::npos);
  CHECK(md.find("10 seeds per cell for the margin 0.50 pp") != std::string::npos);
  CHECK(md.find("- `b_beats_a`: B is better than A.") != std::string::npos);
  const std::string csv = slurp(d / "rep/claims.csv");
  CHECK(csv.find("\"a_like_c\",equivalent,2,") != std::string::npos);
  CHECK(csv.find(",supported,") != std::string::npos);
  CHECK(slurp(d / "rep/claims.tex").find("\\textbf{inconclusive}") != std::string::npos);
  // The LaTeX table compiles as a paper would \input it (pdflatex and booktabs).
  REQUIRE_MESSAGE(std::system("command -v pdflatex > /dev/null") == 0,
                  "pdflatex is missing: run scripts/install-deps.sh (texlive-latex-base, texlive-latex-recommended)");
  auto latex = compile_latex_table(d / "doc.tex", d / "rep/claims.tex");
  CHECK_MESSAGE(latex.code == 0, latex.out.substr(0, 3000));
  CHECK(slurp(d / "rep/report.html").find("id=\"table-claims\"") != std::string::npos);

  // Power before launch: from the database's spread, and the cost of the missing runs.
  auto plan = claim_power_plan(parse_claims(nlohmann::json::parse(kDefinition)["claims"], "c"), "c", 3, d / "r.db");
  REQUIRE(plan.size() == 4);
  CHECK(plan[0].find("no margin") != std::string::npos);
  CHECK(plan[3].find("10 seeds per cell detect the margin") != std::string::npos);
  CHECK(plan[3].find("14 more runs, about 0.2 h at the 60 s per run") != std::string::npos);
  // No database: the prior, or a request for one.
  auto prior = claim_power_plan(parse_claims(nlohmann::json::parse(
                                                 R"([{"name": "n", "a": "A", "b": "B", "kind": "noninferior",
                                                      "margin": 1, "source": "s", "prior_sd": 0.8}])"),
                                             "c"),
                                "c", 3, d / "none.db");
  CHECK(prior[0].find("prior_sd 0.8") != std::string::npos);
}

TEST_CASE("claims: the definition is checked, naming the claim and the field") {
  CHECK(claim_error(R"({"name": "k", "a": "slb:quant.bits=1", "b": "fp", "kind": "greater", "source": "s"})") ==
        "(no error)");
  CHECK(claim_error(R"({"name": "k", "a": "slbb:quant.bits=1", "b": "fp", "kind": "greater", "source": "s"})") ==
        "x.json: claims[0] (k): a: no variant 'slbb', did you mean 'slb'? (variants: fp, slb)");
  CHECK(claim_error(R"({"name": "k", "a": "slb", "b": "fp", "kind": "greater", "source": "s"})") ==
        "x.json: claims[0] (k): a: \"slb\" spans 2 cells; pin quant.bits with :key=value");
  CHECK(claim_error(R"({"name": "k", "a": "slb:quant.bits=3", "b": "fp", "kind": "greater", "source": "s"})") ==
        "x.json: claims[0] (k): a: no run of slb has quant.bits=3 (check the values against the axes)");
  CHECK(claim_error(R"({"name": "k", "a": "slb:quant.bit=1", "b": "fp", "kind": "greater", "source": "s"})") ==
        "x.json: claims[0] (k): a: 'quant.bit' is not an axis of variant slb, did you mean 'quant.bits'? "
        "(axes: quant.bits)");
  CHECK(claim_error(R"({"name": "k", "a": "fp", "b": "slb:quant.bits=1", "kind": "equivalent", "source": "s"})") ==
        "x.json: claims[0] (k): margin: required for equivalent: the largest difference that still counts as "
        "equal, in the metric's table units");
  CHECK(claim_error(R"({"name": "k", "a": "fp", "b": "slb:quant.bits=1", "kind": "greatr", "source": "s"})") ==
        "x.json: claims[0] (k): kind: unknown kind 'greatr', did you mean 'greater'? (greater, noninferior, "
        "equivalent)");
  CHECK(claim_error(R"({"name": "k", "a": "fp", "b": "slb:quant.bits=1", "kind": "greater", "sorce": "s"})") ==
        "x.json: claims[0] (k): unknown field 'sorce', did you mean 'source'? (name, a, b, metric, kind, "
        "margin, source, prior_sd)");
  CHECK(claim_error(R"({"name": "k", "a": "fp", "b": "slb:quant.bits=1", "kind": "greater", "source": "s",
                        "metric": "wall_seconds"})") ==
        "x.json: claims[0] (k): metric: wall_seconds depends on the machine and its load, not only on the run: "
        "no test decides a claim on it (compare it in a table instead)");
  CHECK(claim_error(R"({"name": "k", "a": "fp", "b": "slb:quant.bits=1", "kind": "greater", "source": "s",
                        "metric": "test_ac"})") ==
        "x.json: claims[0] (k): metric: no output key 'test_ac', did you mean 'test_acc'? (docs/OUTPUTS.md lists "
        "them)");
  CHECK(claim_error(R"({"name": "k", "a": "fp", "b": "fp", "kind": "greater", "source": "s"})") ==
        "x.json: claims[0] (k): b: names the same cell as a (\"fp\")");
  CHECK(claim_error(R"({"name": "k", "a": "fp", "b": "slb:quant.bits=1", "kind": "greater", "source": "s"},
                       {"name": "k", "a": "fp", "b": "slb:quant.bits=2", "kind": "greater", "source": "s"})") ==
        "x.json: claims[1] (k): name: 'k' names an earlier claim too (names must be unique)");
}

TEST_CASE("claims: paired seeds that differ by the same amount each give no test, and say so") {
  ExperimentData e;
  e.name = "x";
  int64_t id = 0;
  for (const char* v : {"sign", "dorefa"})
    for (int64_t seed = 0; seed < 3; ++seed) {
      RunData r;
      r.id = ++id, r.seed = seed, r.variant = v, r.status = RunStatus::kDone, r.config_json = "{}";
      r.summary["final_test_acc"] = 0.8 + 0.01 * double(seed);  // the same value run for run
      e.runs.push_back(r);
    }
  ClaimSpec c = parse_claims(nlohmann::json::parse(R"([{"name": "same", "a": "sign", "b": "dorefa",
      "metric": "final_test_acc", "kind": "equivalent", "margin": 0.1, "source": "s"}])"), "x")[0];
  auto value = [](const RunData& r) -> std::optional<double> { return r.summary.at("final_test_acc"); };
  const ClaimResult r = test_claim(e, c, claim_side(e, c.a, value, 100), claim_side(e, c.b, value, 100), true, "m");
  CHECK(r.diff.paired);
  CHECK(r.test == "none: the 3 paired seeds differ by the same 0 each");
  CHECK(std::isnan(r.p.p_for));
}

TEST_CASE("claims: a network-level metric derived from the layer statistics, weighted by weight count") {
  // Two layers: conv (100 weights) and fc (300 weights). A's sparsity 0.5 and 0.1 -> 0.2 of the
  // network; B's 0.1 and 0.1 -> 0.1. Flip rates at epoch 2: A 0.04 and 0.0 -> 0.01; B 0.
  TempDir d;
  const std::string db = d / "n.db";
  const char* def = R"({"name": "n", "variants": {"A": {}, "B": {"optim.lr": 0.2}}, "seeds": 2, "claims": [
    {"name": "a_sparser", "a": "A", "b": "B", "metric": "net_weight_sparsity", "kind": "greater", "margin": 5,
     "source": "s"},
    {"name": "a_flips", "a": "A", "b": "B", "metric": "net_flip_rate:last-1-mean", "kind": "greater", "source": "s"}]})";
  {
    Store s(db, Store::Open::kMigrate);
    const int64_t e = s.upsert_experiment("n", "net", def);
    std::vector<PlannedRun> runs;
    for (const std::string v : {"A", "B"})
      for (int seed = 0; seed < 2; ++seed) {
        PlannedRun p;
        p.config.name = "n";
        p.config.seed = seed;
        p.config.optim.lr = v == "A" ? 0.05 : 0.2;
        p.hash = config_hash(p.config);
        p.variant = v;
        runs.push_back(p);
      }
    s.add_runs(e, runs);
    while (auto c = s.claim(e, Provenance{"h", "x", "cpu", 1, 1})) {
      const bool a = c->config.optim.lr < 0.1;
      const double jitter = 0.001 * double(c->config.seed);  // a spread, so that a test exists
      s.begin_run(c->id, 0);
      s.write_epoch(c->id, {0, 2, {{"test_acc", 0.5}},
                            {{"conv", "weights", 100}, {"fc", "weights", 300}, {"conv", "sparsity", 0.9},
                             {"fc", "sparsity", 0.9}}});
      s.write_epoch(c->id, {1, 2, {{"test_acc", 0.5}},
                            {{"conv", "weights", 100}, {"fc", "weights", 300},
                             {"conv", "sparsity", (a ? 0.5 : 0.1) + jitter}, {"fc", "sparsity", 0.1},
                             {"conv", "flip_rate", (a ? 0.04 : 0.0) + jitter}, {"fc", "flip_rate", 0.0}}});
      s.finish_run(c->id, "done", "", {{"wall_seconds", 60.0}});
    }
  }
  auto h = open_readonly(db);
  ExperimentData e = load_experiment_data(*h, "n");
  ReportMetric m = resolve_metric(*h, e, "net_weight_sparsity");
  std::map<std::string, std::vector<double>> got;
  for (auto& r : e.runs) got[r.variant].push_back(*m.value(r));
  CHECK(got["A"][0] == Approx(0.2).epsilon(1e-12));                   // (0.5 * 100 + 0.1 * 300) / 400
  CHECK(got["A"][1] == Approx(0.20025).epsilon(1e-12));               // conv 0.501
  CHECK(got["B"][0] == Approx(0.1).epsilon(1e-12));
  ReportMetric f = resolve_metric(*h, e, "net_flip_rate:last-1-mean");
  CHECK(*f.value(e.runs[0]) == Approx(0.01).epsilon(1e-12));           // 0.04 * 100 / 400
  const auto results = evaluate_claims(*h, e);
  REQUIRE(results.size() == 2);
  CHECK(results[0].percent);
  CHECK(results[0].a.values[0] == Approx(20.0));
  CHECK(results[0].verdict == Verdict::kSupported);
  CHECK(results[1].verdict == Verdict::kSupported);
}

TEST_CASE("claims: settle_max_seeds caps --settle per question, and is checked") {
  auto err = [](const std::string& extra) {
    const std::string text = R"({"name": "x", "variants": {"fp": {}, "slb": {"quant.method": "slb"}}, "seeds": 3,)" +
                             extra + "}";
    return error_message<ConfigError>([&] { expand_experiment(text, "x.json"); });
  };
  const std::string claim = R"("claims": [{"name": "k", "a": "slb", "b": "fp", "kind": "greater", "source": "s"}])";
  CHECK(err(claim + R"(, "settle_max_seeds": 6)") == "(no error)");
  CHECK(expand_experiment(R"({"name": "x", "variants": {"fp": {}, "slb": {"quant.method": "slb"}}, "seeds": 3, )" +
                              claim + R"(, "settle_max_seeds": 6})",
                          "x.json")
            .settle_max_seeds == 6);
  CHECK(err(claim + R"(, "settle_max_seeds": 2)") ==
        "x.json: settle_max_seeds: expected a whole number from the definition's 3 seeds to 1000, got 2");
  CHECK(err(claim + R"(, "settle_max_seeds": "5")") ==
        "x.json: settle_max_seeds: expected a whole number from the definition's 3 seeds to 1000, got \"5\"");
  CHECK(err(R"("settle_max_seeds": 5)") ==
        "x.json: settle_max_seeds: the definition has no claims for --settle to decide; drop it");
}
