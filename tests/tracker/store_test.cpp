#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "core/error.h"
#include "experiments/spec.h"
#include "tracker/queries.h"
#include "tracker/store.h"
#include "tracker/sqlite.h"
#include "tests/test_util.h"

using namespace lowbit;
using namespace lowbit::test;

namespace {
std::vector<PlannedRun> planned(int n) {
  std::vector<PlannedRun> out;
  for (int i = 0; i < n; ++i) {
    PlannedRun p;
    p.config.seed = i;
    p.config.quant.bits = 1 + i % 4;
    p.config.quant.method = i % 2 ? "twn" : "dorefa";
    p.hash = config_hash(p.config);
    p.variant = i % 2 ? "twn" : "dorefa";
    out.push_back(p);
  }
  return out;
}
int64_t scalar(Db& db, const std::string& sql) {
  auto t = run_sql(db, sql);
  return std::get<int64_t>(t.rows.at(0).at(0));
}
}  // namespace

TEST_CASE("store: schema created through every migration; runs, claims and epochs recorded") {
  TempDir d;
  Store s(d / "r.db", Store::Open::kMigrate);
  CHECK(s.schema_version() == Store::kSchemaVersion);
  int64_t e = s.upsert_experiment("exp", "desc", "{}");
  CHECK(s.add_runs(e, planned(6)) == 6);
  CHECK(s.add_runs(e, planned(6)) == 0);  // same hashes: nothing new
  Provenance p{"hostA", "lowbit worker", "cpu", 4242, 2};
  auto c = s.claim(e, p);
  REQUIRE(c);
  EpochEvent ev{0, 2, {{"test_acc", 0.5}, {"train_loss", 1.0}}, {{"conv2", "sparsity", 0.3}}};
  s.begin_run(c->id, 0);
  s.write_epoch(c->id, ev);
  s.finish_run(c->id, "done", "", {{"final_test_acc", 0.5}});
  auto db = open_readonly(d / "r.db");
  CHECK(scalar(*db, "SELECT count(*) FROM metrics") == 2);
  CHECK(scalar(*db, "SELECT count(*) FROM layer_stats WHERE layer = 'conv2' AND epoch = 1") == 1);
  CHECK(scalar(*db,
               "SELECT count(*) FROM runs WHERE status = 'done' AND host = 'hostA' AND pid = 4242 "
               "AND attempts = 1") == 1);
  // Typed config values: SQL compares numbers as numbers. TWN runs have no quant_bits (NULL:
  // the key does not apply), so they count through the second condition only.
  CHECK(scalar(*db,
               "SELECT count(*) FROM run_params WHERE quant_bits <= 2 OR quant_method = 'twn'") ==
        5);
  CHECK(scalar(*db, "SELECT count(*) FROM run_config WHERE key = 'optim.lr' AND value < 0.2") == 6);
}

TEST_CASE("store: a version-1 database migrates keeping all data") {
  TempDir d;
  {
    Db v1(d / "old.db", Db::Mode::kReadWrite);
    // The version-1 schema (docs/SCHEMA.md, history) with one finished run.
    v1.exec(R"sql(
CREATE TABLE schema_version(version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1);
CREATE TABLE experiments(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, spec_json TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE runs(id INTEGER PRIMARY KEY, experiment_id INTEGER NOT NULL REFERENCES experiments(id), config_hash TEXT NOT NULL,
  config_json TEXT NOT NULL, seed INTEGER NOT NULL, status TEXT NOT NULL, host TEXT, pid INTEGER, heartbeat_at REAL,
  started_at TEXT, finished_at TEXT, git_commit TEXT, git_dirty INTEGER, lowbit_version TEXT, torch_version TEXT,
  threads INTEGER, device TEXT, error TEXT, UNIQUE(experiment_id, config_hash));
CREATE TABLE metrics(run_id INTEGER NOT NULL, epoch INTEGER NOT NULL, key TEXT NOT NULL, value REAL, PRIMARY KEY(run_id, epoch, key)) WITHOUT ROWID;
CREATE TABLE layer_stats(run_id INTEGER NOT NULL, epoch INTEGER NOT NULL, layer TEXT NOT NULL, key TEXT NOT NULL, value REAL, PRIMARY KEY(run_id, epoch, layer, key)) WITHOUT ROWID;
CREATE TABLE summaries(run_id INTEGER NOT NULL, key TEXT NOT NULL, value REAL, PRIMARY KEY(run_id, key)) WITHOUT ROWID;
CREATE TABLE artifacts(run_id INTEGER NOT NULL, kind TEXT NOT NULL, path TEXT NOT NULL, sha256 TEXT, PRIMARY KEY(run_id, kind));
INSERT INTO experiments VALUES (1, 'old', '{}', '2026-01-01T00:00:00Z');
INSERT INTO runs(id, experiment_id, config_hash, config_json, seed, status) VALUES (1, 1, 'abc', '{"quant": {"bits": 3}, "seed": 7}', 7, 'done');
INSERT INTO metrics VALUES (1, 1, 'test_acc', 0.75);
)sql");
  }
  Store s(d / "old.db", Store::Open::kMigrate);
  CHECK(s.schema_version() == Store::kSchemaVersion);
  auto db = open_readonly(d / "old.db");
  // Version 6: the metric series index, used by a report's series query.
  CHECK(scalar(*db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'metrics_by_key'") == 1);
  CHECK(std::get<std::string>(run_sql(*db, "EXPLAIN QUERY PLAN SELECT run_id, epoch, value FROM metrics "
                                           "WHERE key = 'test_acc' AND run_id IN (1) ORDER BY run_id, epoch")
                                  .rows.at(0).back())
            .find("COVERING INDEX metrics_by_key") != std::string::npos);
  CHECK(scalar(*db, "SELECT count(*) FROM metrics WHERE value = 0.75") == 1);
  CHECK(scalar(*db, "SELECT count(*) FROM runs WHERE variant = 'default' AND status = 'done'") ==
        1);
  CHECK(scalar(*db, "SELECT value FROM run_config WHERE run_id = 1 AND key = 'quant.bits'") == 3);
  // ... which the run_params view leaves out: an FP run (the default method) has no bits.
  CHECK(run_sql(*db, "SELECT quant_bits FROM run_params WHERE run_id = 1").rows.at(0).at(0) == SqlValue());
  CHECK(scalar(*db, "SELECT count(*) FROM tags") == 0);  // version 3's tables exist
  // Version 5 backfills the training hash from the stored config.
  CHECK(std::get<std::string>(run_sql(*db, "SELECT train_hash FROM runs WHERE id = 1").rows.at(0).at(0)) ==
        training_hash(config_from_json(nlohmann::json::parse(R"({"quant": {"bits": 3}, "seed": 7})"), "")));
  // Version 7 recomputes the identity from the stored config and keeps the old hash beside it.
  CHECK(std::get<std::string>(run_sql(*db, "SELECT config_hash FROM runs WHERE id = 1").rows.at(0).at(0)) ==
        config_hash(config_from_json(nlohmann::json::parse(R"({"quant": {"bits": 3}, "seed": 7})"), "")));
  CHECK(std::get<std::string>(run_sql(*db, "SELECT legacy_hash FROM runs WHERE id = 1").rows.at(0).at(0)) == "abc");
  CHECK(scalar(*db, "SELECT in_definition FROM runs WHERE id = 1") == 1);
  CHECK(scalar(*db, "SELECT count(*) FROM notes") == 0);
  CHECK(scalar(*db, "SELECT count(*) FROM reproductions") == 0);  // version 4
}

TEST_CASE("store: read-only queries refuse every write and ATTACH") {
  TempDir d;
  { Store s(d / "r.db", Store::Open::kMigrate); }
  auto db = open_readonly(d / "r.db");
  for (const char* sql :
       {"DELETE FROM runs", "DROP TABLE runs", "UPDATE runs SET status = 'x'",
        "INSERT INTO diffs(sha256, diff) VALUES ('a', 'b')", "ATTACH DATABASE '/tmp/x.db' AS x",
        "CREATE TABLE t(x)", "PRAGMA journal_mode=DELETE"}) {
    CHECK_THROWS_WITH_AS(run_sql(*db, sql),
                         "refused: queries are read-only (no INSERT, UPDATE, DELETE, DROP, CREATE, "
                         "ATTACH or PRAGMA writes)",
                         StoreError);
  }
  CHECK(run_sql(*db, "SELECT count(*) FROM runs").rows.size() == 1);
}

TEST_CASE("store: stale running runs are reclaimed; claims never hand out a run twice") {
  TempDir d;
  Store s(d / "r.db", Store::Open::kMigrate);
  int64_t e = s.upsert_experiment("exp", "", "{}");
  s.add_runs(e, planned(40));
  // A run claimed by a process that no longer exists on this host.
  Provenance dead{host_name(), "x", "cpu", 999999, 1};
  auto c = s.claim(e, dead);
  REQUIRE(c);
  CHECK(s.reclaim_stale(300) == 1);
  // Four threads, each with its own connection, claim everything concurrently.
  std::vector<std::thread> ts;
  std::vector<std::vector<int64_t>> got(4);
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&, t] {
      Store mine(d / "r.db", Store::Open::kExisting);
      Provenance p{"h", "x", "cpu", 1000 + t, 1};
      while (auto r = mine.claim(e, p)) got[t].push_back(r->id);
    });
  for (auto& t : ts) t.join();
  std::set<int64_t> all;
  size_t total = 0;
  for (auto& g : got) total += g.size(), all.insert(g.begin(), g.end());
  CHECK(total == 40);
  CHECK(all.size() == 40);
}

TEST_CASE("store: a database path in a missing or read-only directory is a clear StoreError") {
  CHECK_THROWS_WITH_AS(
      Store("/nonexistent_dir_lowbit/r.db", Store::Open::kMigrate),
      "/nonexistent_dir_lowbit/r.db: cannot create or open results database (unable to open "
      "database file); check that the directory exists and is writable, or choose another --db",
      StoreError);
  CHECK_THROWS_WITH_AS(open_readonly("/nonexistent_dir_lowbit/r.db"),
                       "/nonexistent_dir_lowbit/r.db: no such results database (run lowbit grid "
                       "first, or pass --db)",
                       StoreError);
}

TEST_CASE("store: a run whose worker is a zombie is reclaimed") {
  TempDir d;
  Store s(d / "r.db", Store::Open::kMigrate);
  int64_t e = s.upsert_experiment("exp", "", "{}");
  s.add_runs(e, planned(1));
  pid_t child = ::fork();
  if (child == 0) _exit(0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // exited, not reaped: a zombie
  REQUIRE(::kill(child, 0) == 0);
  REQUIRE(s.claim(e, Provenance{host_name(), "x", "cpu", child, 1}));
  CHECK(s.reclaim_stale(300) == 1);
  int status;
  ::waitpid(child, &status, 0);
}

TEST_CASE("store: --sql refuses a second statement and any PRAGMA, with a message") {
  TempDir d;
  { Store s(d / "r.db", Store::Open::kMigrate); }
  auto db = open_readonly(d / "r.db");
  CHECK_THROWS_WITH_AS(run_sql(*db, "SELECT 1; DELETE FROM runs"),
                       "refused: --sql runs exactly one statement; found more after the first: 'DELETE FROM runs'",
                       StoreError);
  CHECK_THROWS_WITH_AS(run_sql(*db, "PRAGMA writable_schema=ON"),
                       "refused: --sql runs one read-only SELECT; PRAGMA statements are not allowed", StoreError);
  CHECK_THROWS_WITH_AS(run_sql(*db, "  pragma table_info(runs)"),
                       "refused: --sql runs one read-only SELECT; PRAGMA statements are not allowed", StoreError);
  CHECK(run_sql(*db, "SELECT count(*) FROM runs;  ").rows.size() == 1);  // a trailing ';' is fine
}

TEST_CASE("store: a worker refuses a newer database by saying to upgrade lowbit, an older one to migrate") {
  TempDir d;
  { Store s(d / "r.db", Store::Open::kMigrate); }
  {
    Db raw(d / "r.db", Db::Mode::kReadWrite);
    raw.exec("UPDATE schema_version SET version = 99");
  }
  CHECK_THROWS_WITH_AS(Store(d / "r.db", Store::Open::kExisting),
                       (d / "r.db" + ": schema version 99 is newer than this lowbit (" +
                        std::to_string(Store::kSchemaVersion) + "); upgrade lowbit").c_str(),
                       StoreError);
  {
    Db raw(d / "r.db", Db::Mode::kReadWrite);
    raw.exec("UPDATE schema_version SET version = 1");
  }
  CHECK_THROWS_WITH_AS(Store(d / "r.db", Store::Open::kExisting),
                       (d / "r.db" + ": schema version 1 (this lowbit uses " + std::to_string(Store::kSchemaVersion) +
                        "); run lowbit grid on it once to migrate").c_str(),
                       StoreError);
}

namespace {
// Makes `dir` unwritable for this process: chmod for a normal user, the immutable attribute
// for root (whom permissions do not stop). Undone at destruction.
struct ReadOnlyDir {
  std::string dir;
  bool immutable = false;
  explicit ReadOnlyDir(const std::string& d) : dir(d) {
    ::chmod(dir.c_str(), 0555);
    if (::geteuid() == 0) immutable = std::system(("chattr +i '" + dir + "' 2>/dev/null").c_str()) == 0;
  }
  ~ReadOnlyDir() {
    if (immutable) (void)std::system(("chattr -i '" + dir + "'").c_str());
    ::chmod(dir.c_str(), 0755);
  }
  bool ok() const { return ::access((dir + "/probe").c_str(), F_OK) != 0 && !can_create(); }
  bool can_create() const {
    int fd = ::open((dir + "/probe").c_str(), O_WRONLY | O_CREAT, 0644);
    if (fd < 0) return false;
    ::close(fd), ::unlink((dir + "/probe").c_str());
    return true;
  }
};
}  // namespace

TEST_CASE("store: readers work on read-only storage, with and without unmerged WAL changes") {
  TempDir d;
  const std::string db = d / "r.db";
  {
    Store s(db, Store::Open::kMigrate);
    s.upsert_experiment("ro", "before", "{}");
  }
  // A clean copy (no -wal) and a copy taken while a writer had changes only in its -wal.
  REQUIRE(::mkdir((d / "clean").c_str(), 0755) == 0);
  REQUIRE(::mkdir((d / "wal").c_str(), 0755) == 0);
  REQUIRE(std::system(("cp '" + db + "' '" + d.path + "/clean/r.db'").c_str()) == 0);
  {
    Db w(db, Db::Mode::kReadWrite);
    w.exec("PRAGMA wal_autocheckpoint=0");
    w.exec("UPDATE experiments SET description = 'in the wal'");
    REQUIRE(std::system(("cp '" + db + "' '" + db + "-wal' '" + d.path + "/wal/'").c_str()) == 0);
  }
  ReadOnlyDir clean(d / "clean"), wal(d / "wal");
  REQUIRE(clean.ok());  // the setup must hold, or the test would prove nothing
  REQUIRE(wal.ok());

  auto r = run_lowbit("query --db " + d.path + "/clean/r.db --sql \"SELECT description FROM experiments\"");
  CHECK(r.code == 0);
  CHECK(r.out.find("before") != std::string::npos);
  r = run_lowbit("status --db " + d.path + "/clean/r.db");
  CHECK(r.code == 0);
  CHECK(r.out.find("experiment ro: 0 runs") != std::string::npos);
  r = run_lowbit("query --db " + d.path + "/wal/r.db --sql \"SELECT description FROM experiments\"");
  CHECK(r.code == 0);
  CHECK(r.out.find("in the wal") != std::string::npos);  // the -wal's changes are read
  // Queries stay read-only on the fallback paths.
  r = run_lowbit("query --db " + d.path + "/clean/r.db --sql \"DELETE FROM runs\"");
  CHECK(r.code == 2);
}

TEST_CASE("store: query runs shows the config keys that vary inside the experiment, NULL counting as a value") {
  TempDir d;
  {
    Store s(d / "r.db", Store::Open::kMigrate);
    auto runs = [](const std::string& name, std::vector<std::pair<double, int>> lr_bits) {
      std::vector<PlannedRun> out;
      for (size_t i = 0; i < lr_bits.size(); ++i) {
        PlannedRun p;
        p.config.name = name;
        p.config.seed = int(i);
        p.config.optim.lr = lr_bits[i].first;
        p.config.quant.bits = lr_bits[i].second;
        p.hash = config_hash(p.config);
        out.push_back(p);
      }
      return out;
    };
    // A: lr varies, bits constant (2). B: both constant (lr 0.1 as in A, bits 4 unlike A).
    // C: lr constant; bits 3 on one run and NULL on the other (set below).
    s.add_runs(s.upsert_experiment("A", "", "{}"), runs("A", {{0.1, 2}, {0.05, 2}, {0.1, 2}}));
    s.add_runs(s.upsert_experiment("B", "", "{}"), runs("B", {{0.1, 4}, {0.1, 4}}));
    s.add_runs(s.upsert_experiment("C", "", "{}"), runs("C", {{0.1, 3}, {0.1, 3}}));
    s.db().exec(
        "UPDATE run_config SET value = NULL WHERE key = 'quant.bits' AND run_id = (SELECT max(id) "
        "FROM runs WHERE experiment_id = (SELECT id FROM experiments WHERE name = 'C'))");
  }
  auto db = open_readonly(d / "r.db");
  auto config_columns = [&](const std::string& exp) {
    std::vector<std::string> keys;
    for (auto& c : query_runs(*db, exp, {}).columns)
      if (c.find('.') != std::string::npos) keys.push_back(c);
    return keys;
  };
  CHECK(config_columns("A") == std::vector<std::string>{"optim.lr"});
  CHECK(config_columns("B").empty());  // bits and lr vary elsewhere, not inside B
  CHECK(config_columns("C") == std::vector<std::string>{"quant.bits"});  // 3 and NULL
  CHECK(config_columns("") == std::vector<std::string>{"optim.lr", "quant.bits"});
}

// Another program's SQLite file: lowbit grid (and every command that writes: merge, a Slurm
// shard) refuses it in one line and leaves it byte-identical, with no journal beside it.
TEST_CASE("store: a database that is another program's is refused without a write") {
  TempDir d;
  const std::string other = d / "other.db";
  {
    Db w(other, Db::Mode::kReadWrite);
    w.exec("CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users VALUES (1, 'ada');"
           "CREATE TABLE orders(id INTEGER PRIMARY KEY)");
  }
  const std::string before = slurp(other);
  CHECK_THROWS_WITH_AS(Store(other, Store::Open::kMigrate),
                       (other + ": not a lowbit database (it holds 2 tables: orders, users, and no lowbit "
                                "schema); lowbit writes only to its own: choose another --db")
                           .c_str(),
                       StoreError);
  CHECK_THROWS_AS(Store(other, Store::Open::kShard), StoreError);
  const std::string g = d / "tiny.json";
  write_tiny_experiment(g, "tiny", 64, 1, R"("seeds": 1)");
  auto r = run_lowbit("grid " + g + " --db " + other);
  CHECK(r.code == 2);
  CHECK(r.out == "lowbit: " + other +
                     ": not a lowbit database (it holds 2 tables: orders, users, and no lowbit schema); "
                     "lowbit writes only to its own: choose another --db\n");
  CHECK(slurp(other) == before);
  CHECK(::access((other + "-wal").c_str(), F_OK) != 0);
  // An empty file is a new database, as before.
  write_file(d / "empty.db", "");
  CHECK_NOTHROW(Store(d / "empty.db", Store::Open::kMigrate));
}

TEST_CASE("store: a directory given as the database is one line that names the fix") {
  TempDir d;
  for (const char* cmd : {"status", "query runs"}) {
    auto r = run_lowbit(std::string(cmd) + " --db " + d.path);
    CHECK(r.code == 2);
    CHECK(r.out == "lowbit: " + d.path + ": is a directory, not a results database; pass the database "
                   "file (e.g. --db " + d.path + "/results.db)\n");
  }
  CHECK_THROWS_AS(Store(d.path, Store::Open::kMigrate), StoreError);
}
