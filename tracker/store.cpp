#include "tracker/store.h"
#include "tracker/sqlite.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <chrono>
#include <fstream>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <thread>

#include <fmt/format.h>

#include "core/error.h"
#include "core/provenance.h"
#include "core/sha256.h"
#include "core/util.h"
#include "tracker/filter.h"
#include "tracker/rehash.h"

namespace lowbit {

using nlohmann::json;

std::string now_iso() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

double now_unix() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char buf[256] = {0};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

// Read back by load_config_text (tracker/report_data.cpp, typed_value), which relies on this
// encoding: booleans as integers, lists and objects as their JSON text.
std::vector<std::pair<std::string, SqlValue>> typed_config(const RunConfig& cfg) {
  std::vector<std::pair<std::string, SqlValue>> out;
  for (const auto& f : config_fields()) {
    json v = f.get(cfg);
    SqlValue s;
    if (v.is_boolean())
      s = int64_t(v.get<bool>());
    else if (v.is_number_integer())
      s = v.get<int64_t>();
    else if (v.is_number())
      s = v.get<double>();
    else if (v.is_string())
      s = v.get<std::string>();
    else if (!v.is_null())
      s = v.dump();
    out.emplace_back(f.path, s);
  }
  return out;
}

namespace {

// A run a worker may claim: of the definition the experiment was last launched with, pending
// or interrupted, and its parent (if any) finished.
constexpr const char* kReadyCondition =
    "in_definition = 1 AND status IN ('pending', 'interrupted') AND (parent_run_id IS NULL OR "
    "parent_run_id IN (SELECT id FROM runs WHERE status = 'done'))";

// Schema history. Migration i takes a database from version i to i + 1. A new database
// runs them all, so every migration is exercised by every test that opens a store.
const char* kMigration1 = R"sql(
CREATE TABLE schema_version(version INTEGER NOT NULL);
INSERT INTO schema_version VALUES (0);
CREATE TABLE experiments(
  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, spec_json TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE runs(
  id INTEGER PRIMARY KEY, experiment_id INTEGER NOT NULL REFERENCES experiments(id),
  config_hash TEXT NOT NULL, config_json TEXT NOT NULL, seed INTEGER NOT NULL,
  status TEXT NOT NULL, host TEXT, pid INTEGER, heartbeat_at REAL, started_at TEXT, finished_at TEXT,
  git_commit TEXT, git_dirty INTEGER, lowbit_version TEXT, torch_version TEXT, threads INTEGER,
  device TEXT, error TEXT, UNIQUE(experiment_id, config_hash));
CREATE TABLE metrics(run_id INTEGER NOT NULL REFERENCES runs(id), epoch INTEGER NOT NULL,
  key TEXT NOT NULL, value REAL, PRIMARY KEY(run_id, epoch, key)) WITHOUT ROWID;
CREATE TABLE layer_stats(run_id INTEGER NOT NULL REFERENCES runs(id), epoch INTEGER NOT NULL,
  layer TEXT NOT NULL, key TEXT NOT NULL, value REAL, PRIMARY KEY(run_id, epoch, layer, key)) WITHOUT ROWID;
CREATE TABLE summaries(run_id INTEGER NOT NULL REFERENCES runs(id), key TEXT NOT NULL, value REAL,
  PRIMARY KEY(run_id, key)) WITHOUT ROWID;
CREATE TABLE artifacts(run_id INTEGER NOT NULL REFERENCES runs(id), kind TEXT NOT NULL, path TEXT NOT NULL,
  sha256 TEXT, PRIMARY KEY(run_id, kind));
)sql";

const char* kMigration2 = R"sql(
ALTER TABLE experiments ADD COLUMN description TEXT NOT NULL DEFAULT '';
CREATE TABLE diffs(id INTEGER PRIMARY KEY, sha256 TEXT NOT NULL UNIQUE, diff TEXT NOT NULL);
ALTER TABLE runs ADD COLUMN variant TEXT NOT NULL DEFAULT 'default';
ALTER TABLE runs ADD COLUMN varying_json TEXT NOT NULL DEFAULT '{}';
ALTER TABLE runs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN compiler TEXT;
ALTER TABLE runs ADD COLUMN command_line TEXT;
ALTER TABLE runs ADD COLUMN diff_id INTEGER REFERENCES diffs(id);
CREATE TABLE run_config(run_id INTEGER NOT NULL REFERENCES runs(id), key TEXT NOT NULL, value,
  PRIMARY KEY(run_id, key)) WITHOUT ROWID;
CREATE INDEX runs_by_status ON runs(experiment_id, status);
CREATE INDEX run_config_by_key ON run_config(key, value);
)sql";

// Version 3: tags and notes added to runs after the fact (lowbit tag, lowbit note).
const char* kMigration3 = R"sql(
CREATE TABLE tags(run_id INTEGER NOT NULL REFERENCES runs(id), tag TEXT NOT NULL,
  created_at TEXT NOT NULL, PRIMARY KEY(run_id, tag)) WITHOUT ROWID;
CREATE INDEX tags_by_tag ON tags(tag);
CREATE TABLE notes(id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id),
  text TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE INDEX notes_by_run ON notes(run_id);
)sql";

// Version 4: the verdicts of lowbit reproduce.
const char* kMigration4 = R"sql(
CREATE TABLE reproductions(id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id),
  verdict TEXT NOT NULL, detail TEXT NOT NULL, git_commit TEXT, torch_version TEXT,
  threads INTEGER, created_at TEXT NOT NULL);
CREATE INDEX reproductions_by_run ON reproductions(run_id);
)sql";

// Version 5: runs shared between experiments and runs that start from another run.
// train_hash: the config's hash without the experiment name (training_hash); parent_run_id:
// the run of the same experiment whose checkpoint initialises this one (init.from_run);
// reused_from: the finished run of another experiment whose results this row copies.
const char* kMigration5 = R"sql(
ALTER TABLE runs ADD COLUMN train_hash TEXT;
ALTER TABLE runs ADD COLUMN parent_run_id INTEGER REFERENCES runs(id);
ALTER TABLE runs ADD COLUMN reused_from INTEGER REFERENCES runs(id);
CREATE INDEX runs_by_train_hash ON runs(train_hash, status);
)sql";

// Version 6: one metric's series across runs (lowbit report's test_acc column, its plots) is
// an index range instead of a scan of every metric row of the experiment; covering, so the
// rows are never visited. At 100,000 runs and 10,000,000 metric rows: the file grows 28%, the
// report's series read falls from a 10,000,000-row scan to 1,000,000 index entries.
const char* kMigration6 = R"sql(
CREATE INDEX metrics_by_key ON metrics(key, run_id, epoch, value);
)sql";

// Version 7: identities that survive upgrades (core/config/run_config.h, docs/SCHEMA.md).
// in_definition: the run belongs to the definition its experiment was last launched with
// (reports show only those by default); legacy_hash: the config hash this run had before the
// migration rewrote it (its run directory may still be named after it).
const char* kMigration7 = R"sql(
ALTER TABLE runs ADD COLUMN in_definition INTEGER NOT NULL DEFAULT 1;
ALTER TABLE runs ADD COLUMN legacy_hash TEXT;
)sql";

// Version 8: the looks of lowbit grid --settle (docs/CLAIMS.md): each claim's test at each
// look, with the decision, so that a resumed --settle makes the same decisions.
const char* kMigration8 = R"sql(
CREATE TABLE settle_looks(
  experiment_id INTEGER NOT NULL REFERENCES experiments(id),
  look INTEGER NOT NULL,
  seeds INTEGER NOT NULL,
  max_seeds INTEGER NOT NULL,
  level REAL NOT NULL,
  claim TEXT NOT NULL,
  n_a INTEGER NOT NULL,
  n_b INTEGER NOT NULL,
  difference REAL,
  p_for REAL,
  p_against REAL,
  p_for_holm REAL,
  p_against_holm REAL,
  decision TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
  PRIMARY KEY (experiment_id, look, claim)
);
)sql";

// Version 9: the determinism settings a run trained under (lowbit grid --determinism): on a
// GPU they decide whether a second run gives the same bits. NULL for runs recorded before.
const char* kMigration9 = R"sql(
ALTER TABLE runs ADD COLUMN determinism TEXT;
)sql";

// A database with tables but no schema_version is another program's: lowbit adds nothing to it,
// not even a journal-mode change. Checked before the first statement that could write.
void refuse_foreign(Db& db, const std::string& path) {
  if (db.has_table("schema_version")) return;
  auto st = db.prepare(
      "SELECT group_concat(name, ', '), count(*) FROM (SELECT name FROM sqlite_master WHERE type = "
      "'table' AND name NOT LIKE 'sqlite_%' ORDER BY name LIMIT 4)");
  if (!st.step() || st.get_int(1) == 0) return;
  auto all = db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'");
  all.step();
  const int64_t n = all.get_int(0);
  throw StoreError(fmt::format("{}: not a lowbit database (it holds {} table{}: {}{}, and no lowbit "
                               "schema); lowbit writes only to its own: choose another --db",
                               path, n, n == 1 ? "" : "s", st.get_text(0), n > 4 ? ", ..." : ""),
                   true);
}

}  // namespace

Store::Store(const std::string& path, Open how) : db_(new Db(path, Db::Mode::kReadWrite)) {
  if (how != Open::kExisting) refuse_foreign(*db_, path);
  if (how == Open::kShard) {
    resume_ahead_ok_ = true;
    {
      auto st = db_->prepare("PRAGMA journal_mode=DELETE");
      st.step();
    }
    migrate();
    db_->exec("PRAGMA synchronous=FULL");
    return;
  }
  if (how == Open::kMigrate) {
    // WAL lets readers (status, query, reports) run while workers write.
    {
      auto st = db_->prepare("PRAGMA journal_mode=WAL");
      if (st.step() && st.get_text(0) != "wal")
        throw StoreError(path + ": cannot use WAL mode (journal_mode " + st.get_text(0) +
                             "); keep the database on a local disk, not a network file system",
                         true);
    }  // the statement must be finished before the migration's transaction commits
    migrate();
  } else if (const int v = schema_version(); v > kSchemaVersion) {
    throw StoreError(fmt::format("{}: schema version {} is newer than this lowbit ({}); upgrade lowbit",
                                 path, v, kSchemaVersion),
                     true);
  } else if (v < kSchemaVersion) {
    throw StoreError(
        fmt::format("{}: schema version {} (this lowbit uses {}); run lowbit grid on it once to migrate",
                    path, v, kSchemaVersion),
        true);
  }
  db_->exec("PRAGMA synchronous=NORMAL");
}

int Store::schema_version() {
  if (!db_->has_table("schema_version")) return 0;
  auto v = db_->prepare("SELECT version FROM schema_version");
  return v.step() ? int(v.get_int(0)) : 0;
}

void Store::migrate() {
  Transaction tx(*db_);
  int v = schema_version();
  if (v > kSchemaVersion)
    throw StoreError(
        fmt::format("{}: schema version {} is newer than this lowbit ({}); upgrade lowbit",
                    db_->path(), v, kSchemaVersion),
        true);
  if (v < 1) {
    db_->exec(kMigration1);
    db_->exec("UPDATE schema_version SET version = 1");
  }
  if (v < 2) {
    db_->exec(kMigration2);
    // Backfill the typed config rows of runs recorded under version 1.
    auto runs = db_->prepare("SELECT id, config_json FROM runs");
    auto ins =
        db_->prepare("INSERT OR REPLACE INTO run_config(run_id, key, value) VALUES (?, ?, ?)");
    while (runs.step()) {
      RunConfig cfg;
      apply_json(cfg, json::parse(runs.get_text(1)), "run " + std::to_string(runs.get_int(0)));
      for (auto& [k, val] : typed_config(cfg))
        ins.bind(1, runs.get_int(0)).bind(2, k).bind(3, val), ins.run();
    }
    db_->exec("UPDATE schema_version SET version = 2");
  }
  if (v < 3) {
    db_->exec(kMigration3);
    db_->exec("UPDATE schema_version SET version = 3");
  }
  if (v < 4) {
    db_->exec(kMigration4);
    db_->exec("UPDATE schema_version SET version = 4");
  }
  if (v < 5) {
    db_->exec(kMigration5);
    auto runs = db_->prepare("SELECT id, config_json FROM runs");
    auto up = db_->prepare("UPDATE runs SET train_hash = ? WHERE id = ?");
    while (runs.step())
      up.bind(1, training_hash(config_from_json(json::parse(runs.get_text(1)),
                                                "run " + std::to_string(runs.get_int(0)))))
          .bind(2, runs.get_int(0)),
          up.run();
    db_->exec("UPDATE schema_version SET version = 5");
  }
  if (v < 6) {
    db_->exec(kMigration6);
    db_->exec("UPDATE schema_version SET version = 6");
  }
  if (v < 7) {
    db_->exec(kMigration7);
    rehash_runs(*db_, kStaleHeartbeatSeconds);
    db_->exec("UPDATE schema_version SET version = 7");
  }
  if (v < 8) {
    db_->exec(kMigration8);
    db_->exec("UPDATE schema_version SET version = 8");
  }
  if (v < 9) {
    db_->exec(kMigration9);
    db_->exec("UPDATE schema_version SET version = 9");
  }
  create_views();
  tx.commit();
}

void Store::create_views() {
  // run_params: one row per run, one column per config key (dots as underscores), typed, so
  // that `SELECT * FROM run_params WHERE quant_bits <= 2 OR quant_method = 'twn'` works; NULL
  // where the key does not apply (quant.bits of an FP run; core/config/keys.def, scopes).
  // Each column is a primary-key lookup in run_config, not a pivot over a GROUP BY: SQLite
  // then evaluates only the columns a query uses, for the rows its WHERE keeps (a condition on
  // 10,000 runs: 11 ms instead of 2.4 s).
  std::string cols;
  for (const auto& f : config_fields()) {
    std::string c = f.path;
    std::replace(c.begin(), c.end(), '.', '_');
    cols += fmt::format(",\n  {} AS \"{}\"", config_column_sql(f, "r.id"), c);
  }
  db_->exec("DROP VIEW IF EXISTS run_params");
  db_->exec(
      "CREATE VIEW run_params AS SELECT r.id AS run_id, e.name AS experiment, r.variant, r.status, "
      "r.config_hash" +
      cols + "\nFROM runs r JOIN experiments e ON e.id = r.experiment_id");
}

int64_t Store::upsert_experiment(const std::string& name, const std::string& description,
                                 const std::string& spec_json) {
  std::lock_guard<std::mutex> lock(mu_);
  Transaction tx(*db_);
  db_->prepare(
         "INSERT INTO experiments(name, description, spec_json, created_at) VALUES (?, ?, ?, ?) "
         "ON CONFLICT(name) DO UPDATE SET spec_json = excluded.spec_json, description = "
         "excluded.description")
      .bind(1, name)
      .bind(2, description)
      .bind(3, spec_json)
      .bind(4, now_iso())
      .run();
  auto q = db_->prepare("SELECT id FROM experiments WHERE name = ?");
  q.bind(1, name).step();
  int64_t id = q.get_int(0);
  tx.commit();
  return id;
}

void Store::record_settle_look(int64_t experiment_id, const std::vector<SettleLook>& rows) {
  std::lock_guard<std::mutex> lock(mu_);
  Transaction tx(*db_);
  auto st = db_->prepare(
      "INSERT OR REPLACE INTO settle_looks(experiment_id, look, seeds, max_seeds, level, claim, n_a, n_b, "
      "difference, p_for, p_against, p_for_holm, p_against_holm, decision) VALUES "
      "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  // A p-value that is not defined (too few seeds) is stored as NULL.
  auto number = [](double v) { return std::isfinite(v) ? SqlValue(v) : SqlValue(); };
  for (const auto& r : rows) {
    st.bind(1, experiment_id).bind(2, r.look).bind(3, r.seeds).bind(4, r.max_seeds).bind(5, r.level);
    st.bind(6, r.claim).bind(7, r.n_a).bind(8, r.n_b).bind(9, number(r.difference)).bind(10, number(r.p_for));
    st.bind(11, number(r.p_against)).bind(12, number(r.p_for_holm)).bind(13, number(r.p_against_holm));
    st.bind(14, r.decision).run();
  }
  tx.commit();
}

std::vector<std::string> Store::run_hashes(int64_t experiment_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto st = db_->prepare("SELECT config_hash FROM runs WHERE experiment_id = ?");
  st.bind(1, experiment_id);
  std::vector<std::string> out;
  while (st.step()) out.push_back(st.get_text(0));
  return out;
}

int64_t Store::experiment_id(const std::string& name) {
  auto q = db_->prepare("SELECT id FROM experiments WHERE name = ?");
  if (!q.bind(1, name).step())
    throw StoreError(db_->path() + ": no experiment '" + name + "'", true);
  return q.get_int(0);
}

int Store::add_runs(int64_t experiment_id, const std::vector<PlannedRun>& runs) {
  std::lock_guard<std::mutex> lock(mu_);
  Transaction tx(*db_);
  auto ins = db_->prepare(
      "INSERT OR IGNORE INTO runs(experiment_id, config_hash, config_json, seed, status, variant, "
      "varying_json, train_hash) "
      "VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)");
  auto cfg_ins =
      db_->prepare("INSERT OR REPLACE INTO run_config(run_id, key, value) VALUES (?, ?, ?)");
  // A run already recorded without a result (not done, not running), whose stored config
  // differs (other observation keys, or an older lowbit's fewer keys): it takes this
  // definition's, so that it runs, resumes or is retried with them; a finished run keeps what
  // it ran with.
  auto refresh = db_->prepare(
      "UPDATE runs SET config_json = ?1 WHERE experiment_id = ?2 AND config_hash = ?3 AND status "
      "NOT IN ('done', 'running') AND config_json != ?1 RETURNING id");
  auto write_config_rows = [&](int64_t id, const RunConfig& cfg) {
    for (auto& [k, v] : typed_config(cfg)) cfg_ins.bind(1, id).bind(2, k).bind(3, v), cfg_ins.run();
  };
  int added = 0;
  for (const auto& r : runs) {
    const std::string text = to_json(r.config).dump();
    ins.bind(1, experiment_id)
        .bind(2, r.hash)
        .bind(3, text)
        .bind(4, r.config.seed)
        .bind(5, r.variant)
        .bind(6, r.varying.dump())
        .bind(7, training_hash(r.config));
    ins.run();
    if (db_->changes() == 0) {
      refresh.bind(1, text).bind(2, experiment_id).bind(3, r.hash);
      const int64_t id = refresh.step() ? refresh.get_int(0) : 0;
      refresh.reset();  // the update done before the next statement writes
      if (id) write_config_rows(id, r.config);
      continue;
    }
    ++added;
    write_config_rows(db_->last_insert_id(), r.config);
  }
  // Each child to its parent (init.from_run), both of this experiment.
  auto link = db_->prepare(
      "UPDATE runs SET parent_run_id = (SELECT p.id FROM runs p WHERE p.experiment_id = ?1 AND "
      "p.config_hash = ?2) WHERE experiment_id = ?1 AND config_hash = ?3");
  for (const auto& r : runs)
    if (!r.parent_hash.empty())
      link.bind(1, experiment_id).bind(2, r.parent_hash).bind(3, r.hash), link.run();
  tx.commit();
  return added;
}

void Store::set_definition(int64_t experiment_id, const std::vector<PlannedRun>& runs) {
  std::lock_guard<std::mutex> lock(mu_);
  Transaction tx(*db_);
  db_->prepare("UPDATE runs SET in_definition = 0 WHERE experiment_id = ?").bind(1, experiment_id).run();
  auto in = db_->prepare("UPDATE runs SET in_definition = 1 WHERE experiment_id = ? AND config_hash = ?");
  for (const auto& r : runs) in.bind(1, experiment_id).bind(2, r.hash), in.run();
  tx.commit();
}

std::vector<std::string> result_columns() {
  std::vector<std::string> out(std::begin(kAttemptColumns), std::end(kAttemptColumns));
  out.insert(out.end(), std::begin(kProvenanceColumns), std::end(kProvenanceColumns));
  return out;
}

std::string result_column_list() { return join(result_columns(), ", "); }

int Store::reuse_done_runs(int64_t experiment_id) {
  std::lock_guard<std::mutex> lock(mu_);
  Transaction tx(*db_);
  // Never-started runs of this experiment and, for each, the first original (not itself a
  // copy) finished run of another experiment that trains the same thing.
  auto q = db_->prepare(
      "SELECT r.id, (SELECT s.id FROM runs s WHERE s.train_hash = r.train_hash AND s.status = "
      "'done' AND s.experiment_id != r.experiment_id AND s.reused_from IS NULL ORDER BY s.id "
      "LIMIT 1) FROM runs r WHERE r.experiment_id = ? AND r.in_definition = 1 AND r.status = 'pending' AND r.attempts = "
      "0 AND r.reused_from IS NULL AND r.train_hash IS NOT NULL");
  q.bind(1, experiment_id);
  std::vector<std::pair<int64_t, int64_t>> pairs;
  while (q.step())
    if (!q.is_null(1)) pairs.push_back({q.get_int(0), q.get_int(1)});
  const std::string columns = result_column_list() + ", started_at, attempts, diff_id";
  const std::string copy_run = "UPDATE runs SET (" + columns + ") = (SELECT " + columns +
                               " FROM runs WHERE id = ?2), reused_from = ?2 WHERE id = ?1";
  const char* copies[] = {
      copy_run.c_str(),
      "INSERT INTO metrics(run_id, epoch, key, value) SELECT ?1, epoch, key, value FROM metrics "
      "WHERE run_id = ?2",
      "INSERT INTO layer_stats(run_id, epoch, layer, key, value) SELECT ?1, epoch, layer, key, "
      "value FROM layer_stats WHERE run_id = ?2",
      "INSERT INTO summaries(run_id, key, value) SELECT ?1, key, value FROM summaries WHERE "
      "run_id = ?2",
      "INSERT INTO artifacts(run_id, kind, path, sha256) SELECT ?1, kind, path, sha256 FROM "
      "artifacts WHERE run_id = ?2"};
  for (const char* sql : copies) {
    auto st = db_->prepare(sql);
    for (auto [to, from] : pairs) st.bind(1, to).bind(2, from), st.run();
  }
  tx.commit();
  return int(pairs.size());
}

int Store::block_children(int64_t experiment_id) {
  std::lock_guard<std::mutex> lock(mu_);
  Transaction tx(*db_);
  // Repeated until nothing changes: a blocked run blocks its own children in turn.
  auto st = db_->prepare(
      "UPDATE runs SET status = 'blocked', error = (SELECT 'the run it starts from (init.from_run), "
      "run ' || p.id || ' (' || p.variant || ', seed ' || p.seed || '), ' || CASE p.status WHEN "
      "'blocked' THEN 'is blocked too' ELSE 'ended ' || p.status || COALESCE(': ' || p.error, '') "
      "|| '; fix that run, then lowbit grid --retry-failed' END FROM runs p WHERE p.id = "
      "runs.parent_run_id) WHERE experiment_id = ? AND status IN ('pending', "
      "'interrupted') AND parent_run_id IN (SELECT id FROM runs WHERE status IN ('failed', "
      "'diverged', 'stopped', 'blocked'))");
  int total = 0;
  for (int n = 1; n > 0; total += n) st.bind(1, experiment_id), st.run(), n = db_->changes();
  tx.commit();
  return total;
}

int64_t Store::ready_count(int64_t experiment_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->prepare(std::string("SELECT count(*) FROM runs WHERE experiment_id = ? AND ") +
                       kReadyCondition);
  q.bind(1, experiment_id).step();
  return q.get_int(0);
}

int Store::reclaim_stale(double stale_seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  Transaction tx(*db_);
  const std::string host = host_name();
  const double now = now_unix();
  auto q = db_->prepare("SELECT id, host, pid, heartbeat_at FROM runs WHERE status = 'running'");
  std::vector<int64_t> stale;
  while (q.step()) {
    bool gone = q.get_text(1) == host && !process_alive(q.get_int(2));
    bool silent = !q.is_null(3) && now - q.get_double(3) > stale_seconds;
    if (gone || silent) stale.push_back(q.get_int(0));
  }
  auto up = db_->prepare(
      "UPDATE runs SET status = 'interrupted', error = ? WHERE id = ? AND status = 'running'");
  for (int64_t id : stale)
    up.bind(1, "worker process gone; reclaimed at " + now_iso()).bind(2, id), up.run();
  tx.commit();
  return int(stale.size());
}

int64_t Store::running_run(int64_t pid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->prepare("SELECT id FROM runs WHERE status = 'running' AND pid = ? AND host = ?");
  return q.bind(1, pid).bind(2, host_name()).step() ? q.get_int(0) : 0;
}

void Store::release_run(int64_t run_id, RunStatus status, const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  db_->prepare("UPDATE runs SET status = ?, error = ? WHERE id = ? AND status = 'running'")
      .bind(1, std::string(to_string(status)))
      .bind(2, why)
      .bind(3, run_id)
      .run();
}

int Store::retry_failed(int64_t experiment_id) {
  std::lock_guard<std::mutex> lock(mu_);
  Transaction tx(*db_);
  db_->prepare(
         "UPDATE runs SET status = 'pending', error = NULL WHERE experiment_id = ? AND in_definition = 1 AND status IN "
         "('failed', 'diverged', 'stopped', 'blocked')")
      .bind(1, experiment_id)
      .run();
  int n = db_->changes();
  tx.commit();
  return n;
}

std::optional<ClaimedRun> Store::claim(int64_t experiment_id, const Provenance& p) {
  return claim(experiment_id, p, "");
}

int Store::interrupt_running(const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  Transaction tx(*db_);
  db_->prepare("UPDATE runs SET status = 'interrupted', error = ? WHERE status = 'running'").bind(1, why).run();
  const int n = db_->changes();
  tx.commit();
  return n;
}

std::optional<ClaimedRun> Store::claim(int64_t experiment_id, const Provenance& p, const std::string& hash) {
  std::lock_guard<std::mutex> lock(mu_);
  Transaction tx(*db_);
  auto q = db_->prepare(std::string("SELECT id, config_json, config_hash, variant, parent_run_id, "
                                   "COALESCE(legacy_hash, '') "
                                   "FROM runs WHERE experiment_id = ? AND (? = '' OR config_hash = ?) AND ") +
                       kReadyCondition + " ORDER BY id LIMIT 1");
  if (!q.bind(1, experiment_id).bind(2, hash).bind(3, hash).step()) return std::nullopt;
  ClaimedRun c;
  c.id = q.get_int(0);
  apply_json(c.config, json::parse(q.get_text(1)), "run " + std::to_string(c.id));
  c.hash = q.get_text(2);
  c.variant = q.get_text(3);
  c.legacy_hash = q.get_text(5);
  if (!q.is_null(4)) {
    c.parent_id = q.get_int(4);
    auto a = db_->prepare("SELECT path, sha256 FROM artifacts WHERE run_id = ? AND kind = 'checkpoint'");
    if (a.bind(1, c.parent_id).step()) c.parent_checkpoint = a.get_text(0), c.parent_sha256 = a.get_text(1);
  }
  // The build's uncommitted diff, stored once per distinct diff.
  SqlValue diff_id;
  std::string diff = build_git_diff();
  if (!diff.empty()) {
    std::string sha = sha256_hex(diff);
    db_->prepare("INSERT OR IGNORE INTO diffs(sha256, diff) VALUES (?, ?)")
        .bind(1, sha)
        .bind(2, diff)
        .run();
    auto d = db_->prepare("SELECT id FROM diffs WHERE sha256 = ?");
    d.bind(1, sha).step();
    diff_id = d.get_int(0);
  }
  db_->prepare(
         "UPDATE runs SET status = 'running', host = ?, pid = ?, heartbeat_at = ?, "
         "started_at = COALESCE(started_at, ?), finished_at = NULL, attempts = attempts + 1, "
         "threads = ?, "
         "device = ?, git_commit = ?, git_dirty = ?, diff_id = ?, lowbit_version = ?, "
         "torch_version = ?, determinism = ?, "
         "compiler = ?, command_line = ?, error = NULL WHERE id = ?")
      .bind(1, p.host)
      .bind(2, p.pid)
      .bind(3, now_unix())
      .bind(4, now_iso())
      .bind(5, p.threads)
      .bind(6, p.device)
      .bind(7, build_git_commit())
      .bind(8, int64_t(build_git_dirty()))
      .bind(9, diff_id)
      .bind(10, LOWBIT_VERSION)
      .bind(11, p.torch_version)
      .bind(12, p.determinism.empty() ? SqlValue() : SqlValue(p.determinism))
      .bind(13, LOWBIT_CXX_COMPILER)
      .bind(14, p.command_line)
      .bind(15, c.id)
      .run();
  tx.commit();
  return c;
}

void Store::begin_run(int64_t run_id, int64_t start_epoch) {
  // A resumed run restarts at start_epoch: rows of that epoch and later are rewritten.
  std::lock_guard<std::mutex> lock(mu_);
  Transaction tx(*db_);
  if (!resume_ahead_ok_ && start_epoch > 0) {
    auto q = db_->prepare("SELECT coalesce(epoch, 0), config_hash FROM runs WHERE id = ?");
    q.bind(1, run_id);
    if (q.step() && q.get_int(0) < start_epoch)
      throw StoreError(fmt::format(
          "run {}: its checkpoint resumes after epoch {}, but {} recorded {} epoch(s) of it: the checkpoint "
          "belongs to another copy of this database (deleted, or older than this one); delete the run's "
          "directory ({}.runs/{}) to train it from the start",
          run_id, start_epoch, db_->path(), q.get_int(0), db_->path(), q.get_text(1)));
  }
  for (const char* t : {"metrics", "layer_stats"})
    db_->prepare(std::string("DELETE FROM ") + t + " WHERE run_id = ? AND epoch > ?")
        .bind(1, run_id)
        .bind(2, start_epoch)
        .run();
  db_->prepare("UPDATE runs SET epoch = ?, heartbeat_at = ? WHERE id = ?")
      .bind(1, start_epoch)
      .bind(2, now_unix())
      .bind(3, run_id)
      .run();
  tx.commit();
}

namespace {
// Fault injection for the stress suite (tests/stress/crash.sh), inert unless the variable is
// set: LOWBIT_FAULT_PAUSE=epoch-commit makes a worker create the file $LOWBIT_FAULT_MARK and
// sleep 3 s inside an epoch's transaction, before COMMIT, so that a kill lands there for sure.
void fault_pause(const char* where) {
  const char* pause = std::getenv("LOWBIT_FAULT_PAUSE");
  if (!pause || std::strcmp(pause, where) != 0) return;
  if (const char* mark = std::getenv("LOWBIT_FAULT_MARK")) std::ofstream(mark) << ::getpid() << "\n";
  std::this_thread::sleep_for(std::chrono::seconds(3));
}
}  // namespace

void Store::write_epoch(int64_t run_id, const EpochEvent& e) {
  std::lock_guard<std::mutex> lock(mu_);
  Transaction tx(*db_);
  const int64_t epoch = e.epoch + 1;  // 1-based, as people count epochs
  auto m =
      db_->prepare("INSERT OR REPLACE INTO metrics(run_id, epoch, key, value) VALUES (?, ?, ?, ?)");
  for (const auto& [k, v] : e.metrics)
    m.bind(1, run_id).bind(2, epoch).bind(3, k).bind(4, v), m.run();
  auto l = db_->prepare(
      "INSERT OR REPLACE INTO layer_stats(run_id, epoch, layer, key, value) VALUES (?, ?, ?, ?, "
      "?)");
  for (const auto& s : e.layers)
    l.bind(1, run_id).bind(2, epoch).bind(3, s.layer).bind(4, s.key).bind(5, s.value), l.run();
  db_->prepare("UPDATE runs SET epoch = ?, heartbeat_at = ? WHERE id = ?")
      .bind(1, epoch)
      .bind(2, now_unix())
      .bind(3, run_id)
      .run();
  fault_pause("epoch-commit");
  tx.commit();
}

void Store::finish_run(int64_t run_id, RunStatus status, const std::string& error,
                       const std::map<std::string, double>& summary) {
  std::lock_guard<std::mutex> lock(mu_);
  Transaction tx(*db_);
  auto s = db_->prepare("INSERT OR REPLACE INTO summaries(run_id, key, value) VALUES (?, ?, ?)");
  for (const auto& [k, v] : summary) s.bind(1, run_id).bind(2, k).bind(3, v), s.run();
  db_->prepare(
         "UPDATE runs SET status = ?, error = ?, finished_at = ?, heartbeat_at = ? WHERE id = ?")
      .bind(1, std::string(to_string(status)))
      .bind(2, error.empty() ? SqlValue() : SqlValue(error))
      .bind(3, now_iso())
      .bind(4, now_unix())
      .bind(5, run_id)
      .run();
  tx.commit();
}

void Store::heartbeat(int64_t run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  Transaction tx(*db_);
  db_->prepare("UPDATE runs SET heartbeat_at = ? WHERE id = ? AND status = 'running'")
      .bind(1, now_unix())
      .bind(2, run_id)
      .run();
  tx.commit();
}

void Store::add_artifact(int64_t run_id, const std::string& kind, const std::string& path,
                         const std::string& sha) {
  std::lock_guard<std::mutex> lock(mu_);
  Transaction tx(*db_);
  db_->prepare("INSERT OR REPLACE INTO artifacts(run_id, kind, path, sha256) VALUES (?, ?, ?, ?)")
      .bind(1, run_id)
      .bind(2, kind)
      .bind(3, path)
      .bind(4, sha)
      .run();
  tx.commit();
}

std::optional<Store::RunState> Store::run_state(int64_t experiment_id, const std::string& hash) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->prepare(
      "SELECT r.id, r.status, COALESCE(a.path, ''), COALESCE(a.sha256, '') FROM runs r LEFT JOIN artifacts a ON "
      "a.run_id = r.id AND a.kind = 'checkpoint' WHERE r.experiment_id = ? AND r.config_hash = ?");
  if (!q.bind(1, experiment_id).bind(2, hash).step()) return std::nullopt;
  return RunState{q.get_int(0), parse_run_status(q.get_text(1)), q.get_text(2), q.get_text(3)};
}

std::map<RunStatus, int64_t> Store::counts(int64_t experiment_id) {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<RunStatus, int64_t> out;
  for (RunStatus s : all_run_statuses()) out[s] = 0;
  auto q = db_->prepare(
      "SELECT status, count(*) FROM runs WHERE experiment_id = ? AND in_definition = 1 GROUP BY status");
  q.bind(1, experiment_id);
  while (q.step()) out[parse_run_status(q.get_text(0))] = q.get_int(1);
  return out;
}

std::pair<int64_t, int64_t> Store::tag_runs(const std::vector<int64_t>& runs,
                                            const std::vector<std::string>& add,
                                            const std::vector<std::string>& remove) {
  std::lock_guard<std::mutex> lock(mu_);
  Transaction tx(*db_);
  const std::string now = now_iso();
  auto ins = db_->prepare("INSERT OR IGNORE INTO tags(run_id, tag, created_at) VALUES (?, ?, ?)");
  auto del = db_->prepare("DELETE FROM tags WHERE run_id = ? AND tag = ?");
  int64_t added = 0, removed = 0;
  for (int64_t run : runs) {
    for (const auto& t : add) ins.bind(1, run).bind(2, t).bind(3, now), ins.run(), added += db_->changes();
    for (const auto& t : remove) del.bind(1, run).bind(2, t), del.run(), removed += db_->changes();
  }
  tx.commit();
  return {added, removed};
}

int64_t Store::add_note(int64_t run_id, const std::string& text) {
  std::lock_guard<std::mutex> lock(mu_);
  Transaction tx(*db_);
  db_->prepare("INSERT INTO notes(run_id, text, created_at) VALUES (?, ?, ?)")
      .bind(1, run_id)
      .bind(2, text)
      .bind(3, now_iso())
      .run();
  const int64_t id = db_->last_insert_id();
  tx.commit();
  return id;
}

int64_t Store::add_reproduction(int64_t run_id, const std::string& verdict, const std::string& detail,
                                int64_t threads, const std::string& torch_version) {
  std::lock_guard<std::mutex> lock(mu_);
  Transaction tx(*db_);
  db_->prepare("INSERT INTO reproductions(run_id, verdict, detail, git_commit, torch_version, threads, "
              "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
      .bind(1, run_id)
      .bind(2, verdict)
      .bind(3, detail)
      .bind(4, std::string(build_git_commit()))
      .bind(5, torch_version)
      .bind(6, threads)
      .bind(7, now_iso())
      .run();
  const int64_t id = db_->last_insert_id();
  tx.commit();
  return id;
}

}  // namespace lowbit
