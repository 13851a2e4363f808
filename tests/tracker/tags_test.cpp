// lowbit tag and lowbit note through the binary: selection by a condition (tracker/filter.h),
// add and remove, query shows and filters them, reports print them; bad input refused.
#include <doctest/doctest.h>

#include <fstream>

#include "tracker/queries.h"
#include "tests/test_util.h"

using namespace lowbit;
using namespace lowbit::test;

TEST_CASE("tags and notes: tag by condition, query and filter, report footnotes, bad input") {
  TempDir d;
  const std::string g = d / "t.json", db = d / "r.db";
  write_tiny_experiment(g, "t", 64, 1, R"("variants": {"fp": {}, "ttq": {"quant.method": "ttq"}}, "seeds": 2)");
  REQUIRE(run_lowbit("grid " + g + " --db " + db + " --threads-per-worker 1").code == 0);
  auto count = [&](const std::string& sql) {
    auto c = open_readonly(db);
    return std::get<int64_t>(run_sql(*c, sql).rows.at(0).at(0));
  };

  auto t = run_lowbit("tag --db " + db + " --where \"quant_method = 'ttq'\" +ternary +check");
  CHECK(t.code == 0);
  CHECK(t.out == "2 runs matched; 4 tags added, 0 removed\n");
  CHECK(run_lowbit("tag --db " + db + " --where \"quant_method = 'ttq'\" +ternary").out ==
        "2 runs matched; 0 tags added, 0 removed\n");  // idempotent
  t = run_lowbit("tag --db " + db + " --where \"run_id = 3\" -check");
  CHECK(t.out == "1 runs matched; 0 tags added, 1 removed\n");
  CHECK(count("SELECT count(*) FROM tags WHERE tag = 'check'") == 1);
  auto n = run_lowbit("note 1 \"loss spike in epoch 1; rerun\" --db " + db);
  CHECK(n.code == 0);
  CHECK(n.out.rfind("note added to run 1 (", 0) == 0);

  // query shows them and filters by tag.
  auto q = run_lowbit("query runs --db " + db + " --where tag=ternary --format json");
  REQUIRE(q.code == 0);
  auto rows = nlohmann::json::parse(q.out);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0]["variant"] == "ttq");
  CHECK(rows[0]["tags"] == "ternary");  // run 3 lost `check`
  CHECK(rows[1]["tags"] == "check ternary");
  auto all = nlohmann::json::parse(run_lowbit("query runs --db " + db + " --format json").out);
  CHECK(all[0]["notes"] == "loss spike in epoch 1; rerun");  // the text, not a count
  CHECK(all[1]["notes"].is_null());

  // Reports print them as footnotes.
  REQUIRE(run_lowbit("report --db " + db + " --experiment t --out " + d / "rep --tables main").code == 0);
  std::ifstream in(d / "rep/report.md");
  std::string md((std::istreambuf_iterator<char>(in)), {});
  CHECK(md.find("## Tags and notes\n\n- run 1 (fp, seed 0): note: loss spike in epoch 1; rerun\n"
                "- run 3 (ttq, seed 0): tags `ternary`\n- run 4 (ttq, seed 1): tags `check`, `ternary`\n") !=
        std::string::npos);
  // ... and report.html (in the default formats) as the same footnotes.
  std::string html = slurp(d / "rep/report.html");
  CHECK(html.find("<li>run 4 (ttq, seed 1): tags <code>check</code>, <code>ternary</code></li>") !=
        std::string::npos);
  auto bad_format = run_lowbit("report --db " + db + " --experiment t --out " + d / "rep --format md,pdf");
  CHECK(bad_format.code == 2);
  CHECK(bad_format.out == "lowbit: --format: unknown format 'pdf' (md, csv, tex, html)\n");

  // Bad input: a condition that writes, an empty selection, a bad column, a bad tag, a cell.
  auto w = run_lowbit("tag --db " + db + " --where \"1); DELETE FROM runs; --\" +x");
  CHECK(w.code == 2);
  CHECK(w.out.rfind("lowbit: --where \"1); DELETE FROM runs; --\": unexpected ';' at character 3", 0) == 0);
  CHECK(count("SELECT count(*) FROM runs") == 4);
  auto e = run_lowbit("tag --db " + db + " --where \"run_id > 100\" +x");
  CHECK(e.code == 2);
  CHECK(e.out == "lowbit: --where \"run_id > 100\" matches no run; nothing tagged (see lowbit query runs --where ...)\n");
  CHECK(run_lowbit("tag --db " + db + " --where \"nosuch = 1\" +x").code == 2);
  auto bad = run_lowbit("tag --db " + db + " --where all '+no tag'");
  CHECK(bad.code == 2);
  CHECK(bad.out == "lowbit: tag 'no tag': expected 1 to 64 letters, digits or _ . : / -\n");
  CHECK(run_lowbit("tag --db " + db + " +x").code == 2);  // --where is required
  auto cell = run_lowbit("note t:fp \"x\" --db " + db);
  CHECK(cell.code == 2);
  CHECK(cell.out == "lowbit: lowbit note: 't:fp' is a cell; a note belongs to one run (a run id or a hash prefix)\n");
  auto none = run_lowbit("note 99 \"x\" --db " + db);
  CHECK(none.code == 2);
  CHECK(none.out.rfind("lowbit: no run '99'", 0) == 0);
  // lowbit note RUN (no text) prints the run's notes, oldest first.
  CHECK(run_lowbit("note 1 \"second\" --db " + db).code == 0);
  auto listed = run_lowbit("note 1 --db " + db);
  CHECK(listed.code == 0);
  CHECK(listed.out.find(": 2 notes\n") != std::string::npos);
  CHECK(listed.out.find("  loss spike in epoch 1; rerun\n") != std::string::npos);
  CHECK(listed.out.find("  second\n") > listed.out.find("loss spike"));
  CHECK(run_lowbit("note 2 --db " + db).out.find(": 0 notes\n") != std::string::npos);
}
