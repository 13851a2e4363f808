#include "tracker/shards.h"

#include <algorithm>
#include <memory>
#include <set>

#include <fmt/format.h>

#include "core/error.h"
#include "tracker/sqlite.h"

namespace lowbit {

namespace {

// The shard's identity: a lowbit database of this schema holding `experiment` only.
void check_shard(Db& db, const std::string& path, const std::string& experiment) {
  auto bad = [&](const std::string& why) {
    return StoreError(path + ": " + why + "; remove it from the shard directory (or restore it) and merge again",
                      true);
  };
  try {
    auto qc = db.prepare("PRAGMA quick_check");
    if (qc.step() && qc.get_text(0) != "ok") throw bad("damaged (quick_check: " + qc.get_text(0) + ")");
  } catch (const StoreError& e) {
    std::string what = e.what();
    if (what.find("remove it from the shard") != std::string::npos) throw;
    throw bad("not a lowbit shard database (" + what + ")");
  }
  if (!db.has_table("schema_version") || !db.has_table("runs"))
    throw bad("not a lowbit shard database (no schema_version or runs table)");
  auto v = db.prepare("SELECT version FROM schema_version");
  const int64_t version = v.step() ? v.get_int(0) : -1;
  if (version != Store::kSchemaVersion)
    throw bad(fmt::format("schema version {}, this lowbit reads {}", version, Store::kSchemaVersion));
  auto e = db.prepare("SELECT name FROM experiments");
  while (e.step())
    if (e.get_text(0) != experiment)
      throw bad("holds experiment '" + e.get_text(0) + "', not '" + experiment + "' of the shard directory");
}

std::vector<ShardRun> read_runs(Db& db, const std::string& path) {
  auto q = db.prepare(
      "SELECT r.id, r.config_hash, r.status, COALESCE(r.error, ''), COALESCE(r.host, ''), r.epoch, r.attempts, "
      "COALESCE(r.heartbeat_at, 0), COALESCE(a.path, ''), COALESCE(a.sha256, '') FROM runs r LEFT JOIN artifacts a "
      "ON a.run_id = r.id AND a.kind = 'checkpoint' ORDER BY r.id");
  std::vector<ShardRun> out;
  while (q.step()) {
    ShardRun r;
    r.shard = path;
    r.id = q.get_int(0), r.hash = q.get_text(1), r.status = q.get_text(2), r.error = q.get_text(3);
    r.host = q.get_text(4), r.epoch = q.get_int(5), r.attempts = q.get_int(6), r.heartbeat = q.get_double(7);
    r.checkpoint = q.get_text(8), r.sha256 = q.get_text(9);
    out.push_back(std::move(r));
  }
  return out;
}

struct MainRow {
  int64_t id = 0;
  ShardRun as_copy;
};

// The run's per-epoch rows: each epoch from the first copy (in winning order) that has it,
// up to the winner's last epoch.
void copy_epochs(Db& main, int64_t to, const std::vector<const ShardRun*>& copies,
                 std::map<std::string, std::unique_ptr<Db>>& shards) {
  for (const char* t : {"metrics", "layer_stats"})
    main.prepare(std::string("DELETE FROM ") + t + " WHERE run_id = ?").bind(1, to).run();
  const int64_t last = copies.front()->epoch;
  std::set<int64_t> taken;
  auto m_ins = main.prepare("INSERT INTO metrics(run_id, epoch, key, value) VALUES (?, ?, ?, ?)");
  auto l_ins = main.prepare("INSERT INTO layer_stats(run_id, epoch, layer, key, value) VALUES (?, ?, ?, ?, ?)");
  for (const ShardRun* c : copies) {
    Db& s = *shards.at(c->shard);
    std::set<int64_t> mine;
    auto m = s.prepare("SELECT epoch, key, value FROM metrics WHERE run_id = ? AND epoch <= ? ORDER BY epoch");
    m.bind(1, c->id).bind(2, last);
    while (m.step()) {
      const int64_t ep = m.get_int(0);
      if (taken.count(ep)) continue;
      mine.insert(ep);
      m_ins.bind(1, to).bind(2, ep).bind(3, m.get_text(1)).bind(4, m.get(2)), m_ins.run();
    }
    auto l = s.prepare("SELECT epoch, layer, key, value FROM layer_stats WHERE run_id = ? AND epoch <= ?");
    l.bind(1, c->id).bind(2, last);
    while (l.step())
      if (mine.count(l.get_int(0)))
        l_ins.bind(1, to).bind(2, l.get_int(0)).bind(3, l.get_text(1)).bind(4, l.get_text(2)).bind(5, l.get(3)),
            l_ins.run();
    taken.insert(mine.begin(), mine.end());
  }
}

// The winner's row, summaries and artifacts over the main run `to`.
void copy_run(Db& main, int64_t to, const std::vector<const ShardRun*>& copies,
              std::map<std::string, std::unique_ptr<Db>>& shards) {
  const ShardRun& w = *copies.front();
  Db& s = *shards.at(w.shard);
  auto r = s.prepare("SELECT " + result_column_list() + ", diff_id FROM runs WHERE id = ?");
  r.bind(1, w.id).step();
  const std::vector<std::string> columns = result_columns();
  std::string set;
  for (const auto& c : columns) set += (set.empty() ? "" : ", ") + c + " = ?";
  auto up = main.prepare("UPDATE runs SET " + set + ", attempts = ?, started_at = ?, diff_id = ? WHERE id = ?");
  const int n = int(columns.size());
  for (int i = 0; i < n; ++i) up.bind(i + 1, r.get(i));
  int64_t attempts = 0;
  SqlValue started;
  for (const ShardRun* c : copies) {
    attempts += c->attempts;
    auto st = shards.at(c->shard)->prepare("SELECT started_at FROM runs WHERE id = ? AND started_at IS NOT NULL");
    if (st.bind(1, c->id).step() &&
        (std::holds_alternative<std::monostate>(started) || st.get_text(0) < std::get<std::string>(started)))
      started = st.get_text(0);
  }
  SqlValue diff_id;
  if (!r.is_null(n)) {
    auto d = s.prepare("SELECT sha256, diff FROM diffs WHERE id = ?");
    if (d.bind(1, r.get_int(n)).step()) {
      main.prepare("INSERT OR IGNORE INTO diffs(sha256, diff) VALUES (?, ?)").bind(1, d.get_text(0)).bind(2, d.get_text(1)).run();
      auto id = main.prepare("SELECT id FROM diffs WHERE sha256 = ?");
      id.bind(1, d.get_text(0)).step();
      diff_id = id.get_int(0);
    }
  }
  up.bind(n + 1, attempts).bind(n + 2, started).bind(n + 3, diff_id).bind(n + 4, to).run();
  for (const char* t : {"summaries", "artifacts"})
    main.prepare(std::string("DELETE FROM ") + t + " WHERE run_id = ?").bind(1, to).run();
  auto su = s.prepare("SELECT key, value FROM summaries WHERE run_id = ?");
  auto su_ins = main.prepare("INSERT INTO summaries(run_id, key, value) VALUES (?, ?, ?)");
  su.bind(1, w.id);
  while (su.step()) su_ins.bind(1, to).bind(2, su.get_text(0)).bind(3, su.get(1)), su_ins.run();
  auto ar = s.prepare("SELECT kind, path, sha256 FROM artifacts WHERE run_id = ?");
  auto ar_ins = main.prepare("INSERT INTO artifacts(run_id, kind, path, sha256) VALUES (?, ?, ?, ?)");
  ar.bind(1, w.id);
  while (ar.step()) ar_ins.bind(1, to).bind(2, ar.get_text(0)).bind(3, ar.get_text(1)).bind(4, ar.get(2)), ar_ins.run();
  copy_epochs(main, to, copies, shards);
}

}  // namespace

bool copy_wins(const ShardRun& a, const ShardRun& b) {
  const bool ad = a.status == "done", bd = b.status == "done";
  if (ad != bd) return ad;
  if (a.heartbeat != b.heartbeat) return a.heartbeat > b.heartbeat;
  return a.shard < b.shard;
}

std::vector<ShardRun> read_shard(const std::string& path, const std::string& experiment, bool readonly) {
  Db db(path, readonly ? Db::Mode::kReadOnly : Db::Mode::kReadWrite);
  check_shard(db, path, experiment);
  return read_runs(db, path);
}

MergeSummary merge_shards(const std::string& main_path, const MergeInput& in) {
  // Every shard opened and checked before the main database is touched.
  std::map<std::string, std::unique_ptr<Db>> shards;
  std::map<std::string, std::vector<ShardRun>> copies;  // by config hash
  for (const auto& path : in.shards) {
    auto db = std::make_unique<Db>(path, Db::Mode::kReadWrite);
    check_shard(*db, path, in.experiment);
    for (auto& r : read_runs(*db, path)) copies[r.hash].push_back(std::move(r));
    shards[path] = std::move(db);
  }
  MergeSummary sum;
  sum.shards = int64_t(in.shards.size());
  Store store(main_path, Store::Open::kMigrate);
  const int64_t exp_id = store.upsert_experiment(in.experiment, in.description, in.spec_json);
  store.add_runs(exp_id, in.runs);
  store.set_definition(exp_id, in.runs);
  Db& main = store.db();
  Transaction tx(main);
  auto row = main.prepare(
      "SELECT id, status, COALESCE(heartbeat_at, 0), epoch, attempts FROM runs WHERE experiment_id = ? AND "
      "config_hash = ?");
  for (const auto& planned : in.runs) {
    auto it = copies.find(planned.hash);
    if (it == copies.end()) {
      ++sum.untrained;
      continue;
    }
    std::vector<const ShardRun*> order;
    for (const auto& c : it->second) order.push_back(&c);
    std::sort(order.begin(), order.end(), [](const ShardRun* a, const ShardRun* b) { return copy_wins(*a, *b); });
    const ShardRun& w = *order.front();
    int64_t attempts = 0;
    for (const ShardRun* c : order) attempts += c->attempts;
    if (!row.bind(1, exp_id).bind(2, planned.hash).step()) throw StoreError(main_path + ": run " + planned.hash + " vanished while merging");
    MainRow m{row.get_int(0), {}};
    m.as_copy.status = row.get_text(1), m.as_copy.heartbeat = row.get_double(2), m.as_copy.epoch = row.get_int(3);
    m.as_copy.shard = "";  // a tie goes to the main row: nothing to write
    const int64_t main_attempts = row.get_int(4);
    row.reset();
    if (m.as_copy.status == w.status && m.as_copy.heartbeat == w.heartbeat && m.as_copy.epoch == w.epoch &&
        main_attempts == attempts) {
      ++sum.unchanged;
      continue;
    }
    if (copy_wins(m.as_copy, w) && m.as_copy.heartbeat > 0) {
      ++sum.kept;
      continue;
    }
    copy_run(main, m.id, order, shards);
    ++sum.updated;
  }
  tx.commit();
  for (auto& [status, n] : store.counts(exp_id)) sum.status[std::string(to_string(status))] = n;
  return sum;
}

}  // namespace lowbit
