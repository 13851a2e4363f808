// lowbit dump / restore (tracker/archive.h): a database and its restored dump hold the same
// rows, so the same reports; bad dumps are refused with the file and line.
#include <doctest/doctest.h>

#include <cmath>

#include <fmt/format.h>

#include "tests/test_util.h"
#include "tracker/archive.h"
#include "tracker/queries.h"
#include "tracker/sqlite.h"
#include "tracker/store.h"

using namespace lowbit;
using lowbit::test::run_lowbit;
using lowbit::test::slurp;
using lowbit::test::TempDir;

namespace {

const std::string kFixture = std::string(LOWBIT_SOURCE_DIR) + "/tests/fixtures/fixture-v9.db";

std::string table_text(const std::string& db, const std::string& sql) {
  Db d(db, Db::Mode::kReadOnly);
  std::string out;
  for (const auto& row : run_sql(d, sql).rows) {
    for (const auto& v : row) out += sql_value_text(v, true) + "|";
    out += "\n";
  }
  return out;
}

}  // namespace

TEST_CASE("dump: a restored dump holds every row of the database, and dumps to the same bytes") {
  TempDir d;
  const std::string db = d / "copy.db";
  REQUIRE(std::system(fmt::format("cp '{}' '{}'", kFixture, db).c_str()) == 0);
  {  // a non-finite real, and a real that needs all 17 digits
    Db w(db, Db::Mode::kReadWrite);
    w.exec("INSERT INTO summaries(run_id, key, value) VALUES (1, 'x_inf', 1e999), (1, 'x_ninf', -1e999), "
           "(1, 'x_third', 0.1 + 0.2)");
  }
  DumpSummary a = dump_database(db, d / "a.jsonl.gz");
  CHECK(a.rows.at("runs") == 14);
  CHECK(a.rows.at("metrics") == 136);
  CHECK(a.bytes > 0);
  DumpSummary r = restore_database(d / "a.jsonl.gz", d / "restored.db");
  CHECK(r.sha256 == a.sha256);
  CHECK(r.rows == a.rows);
  for (const char* sql :
       {"SELECT * FROM runs ORDER BY id", "SELECT * FROM metrics ORDER BY run_id, epoch, key",
        "SELECT * FROM layer_stats ORDER BY run_id, epoch, layer, key", "SELECT * FROM summaries ORDER BY run_id, key",
        "SELECT * FROM experiments ORDER BY id", "SELECT * FROM run_config ORDER BY run_id, key",
        "SELECT typeof(value), count(*) FROM run_config GROUP BY 1 ORDER BY 1"}) {
    INFO(sql);
    CHECK(table_text(db, sql) == table_text(d / "restored.db", sql));
  }
  CHECK(table_text(d / "restored.db", "SELECT value FROM summaries WHERE key = 'x_third'") ==
        table_text(db, "SELECT value FROM summaries WHERE key = 'x_third'"));
  CHECK(table_text(d / "restored.db", "SELECT value > 1e308, value < -1e308 FROM summaries WHERE key LIKE 'x_%inf' "
                                      "ORDER BY key") == "1|0|\n0|1|\n");
  DumpSummary b = dump_database(d / "restored.db", d / "b.jsonl.gz");
  CHECK(slurp(d / "a.jsonl.gz") == slurp(d / "b.jsonl.gz"));
  CHECK(data_digest(db) == a.sha256.substr(0, 16));
  CHECK(data_digest(d / "restored.db") == data_digest(db));
  // The same reports from both.
  auto ra = run_lowbit("report --db " + db + " --experiment fixture --format md --out " + d / "ra");
  auto rb = run_lowbit("report --db " + d / "restored.db" + " --experiment fixture --format md --out " + d / "rb");
  REQUIRE(ra.code == 0);
  REQUIRE(rb.code == 0);
  // Equal but for the line naming the database file and its own sha256.
  auto without_db_line = [](std::string md) {
    const auto at = md.find("- database: `");
    REQUIRE(at != std::string::npos);
    return md.erase(at, md.find('\n', at) - at);
  };
  CHECK(without_db_line(slurp(d / "ra/report.md")) == without_db_line(slurp(d / "rb/report.md")));
}

TEST_CASE("dump: the command line, and bad dumps refused with the file and line") {
  TempDir d;
  auto w = run_lowbit("dump --db " + kFixture + " --out " + d / "f.jsonl.gz");
  REQUIRE(w.code == 0);
  CHECK(w.out.find("14 runs") != std::string::npos);
  auto r = run_lowbit("restore " + d / "f.jsonl.gz" + " --into " + d / "r.db");
  REQUIRE(r.code == 0);
  auto again = run_lowbit("restore " + d / "f.jsonl.gz" + " --into " + d / "r.db");
  CHECK(again.code != 0);
  CHECK(again.out.find("r.db: already exists") != std::string::npos);
  auto missing = run_lowbit("restore " + d / "nope.jsonl.gz" + " --into " + d / "n.db");
  CHECK(missing.code != 0);
  CHECK(missing.out.find("nope.jsonl.gz: no such dump file") != std::string::npos);
  lowbit::test::write_file(d / "bad.jsonl", "{\"lowbit_dump\": 1, \"schema\": 9, \"tables\": {\"tags\": [\"run_id\", \"tag\", \"created_at\"]}}\n"
                                           "[\"tags\", [1, \"x\"]]\n");
  auto bad = run_lowbit("restore " + d / "bad.jsonl" + " --into " + d / "b.db");
  CHECK(bad.code != 0);
  CHECK(bad.out.find("bad.jsonl:2: 2 values for the 3 columns of tags") != std::string::npos);
  lowbit::test::write_file(d / "col.jsonl", "{\"lowbit_dump\": 1, \"schema\": 99, \"tables\": {\"tags\": [\"run_id\", \"colour\"]}}\n");
  auto col = run_lowbit("restore " + d / "col.jsonl" + " --into " + d / "c.db");
  CHECK(col.code != 0);
  CHECK(col.out.find("column tags.colour is not in this lowbit's schema") != std::string::npos);
  lowbit::test::write_file(d / "not.jsonl", "hello\n");
  auto notdump = run_lowbit("restore " + d / "not.jsonl" + " --into " + d / "x.db");
  CHECK(notdump.code != 0);
  CHECK(notdump.out.find("not.jsonl:1: not a lowbit dump") != std::string::npos);
}
