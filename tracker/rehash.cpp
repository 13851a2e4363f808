#include "tracker/rehash.h"
#include "tracker/sqlite.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <set>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/config/run_config.h"
#include "core/error.h"
#include "tracker/store.h"

namespace lowbit {

using nlohmann::json;

namespace {

struct Row {
  int64_t id = 0, experiment = 0;
  std::string status, old_hash, old_train, hash, train;
  std::string round_train;  ///< the training hash the previous round of compute() gave it
  json config;
  bool relinked = false, loser = false;
};

std::vector<Row> read_rows(Db& db) {
  std::vector<Row> rows;
  auto st = db.prepare(
      "SELECT id, experiment_id, status, config_hash, COALESCE(train_hash, ''), config_json FROM runs "
      "ORDER BY id");
  while (st.step()) {
    Row r;
    r.id = st.get_int(0), r.experiment = st.get_int(1), r.status = st.get_text(2);
    r.old_hash = st.get_text(3), r.old_train = st.get_text(4);
    r.config = json::parse(st.get_text(5));
    r.round_train = r.old_train;
    rows.push_back(std::move(r));
  }
  return rows;
}

// New hashes for every row; a child's init.from_run ("variant@<training hash>") follows its
// parent's new training hash, so rounds repeat until no reference changes (one per generation).
void compute(std::vector<Row>& rows) {
  for (size_t round = 0; round <= rows.size(); ++round) {
    std::map<std::string, std::string> train_moved;  // old training hash -> new
    for (auto& r : rows) {
      const RunConfig cfg = config_from_json(r.config, "run " + std::to_string(r.id));
      r.hash = config_hash(cfg);
      r.train = training_hash(cfg);
      if (!r.round_train.empty() && r.round_train != r.train) train_moved[r.round_train] = r.train;
    }
    bool changed = false;
    for (auto& r : rows) {
      const std::string from = r.config.value("init", json::object()).value("from_run", "");
      const auto at = from.rfind('@');
      if (at == std::string::npos) continue;
      auto it = train_moved.find(from.substr(at + 1));
      if (it == train_moved.end()) continue;
      r.config["init"]["from_run"] = from.substr(0, at + 1) + it->second;
      r.relinked = changed = true;
    }
    if (!changed) return;
    for (auto& r : rows) r.round_train = r.train;  // the next round maps this round's hashes
  }
}

// Two runs of one experiment with one new identity (they differed in observation keys only):
// the one with a result keeps it, else the one whose hash it already was, else the oldest. The
// other keeps its old hash (suffixed with its id where that is the identity now), which no
// definition expands to any more.
void settle_collisions(std::vector<Row>& rows) {
  auto rank = [](const Row* r) {
    return std::make_tuple(r->status != "done", r->hash != r->old_hash, r->id);
  };
  std::map<std::pair<int64_t, std::string>, std::vector<Row*>> by_identity;
  for (auto& r : rows) by_identity[{r.experiment, r.hash}].push_back(&r);
  for (auto& [key, group] : by_identity) {
    if (group.size() < 2) continue;
    std::sort(group.begin(), group.end(), [&](Row* a, Row* b) { return rank(a) < rank(b); });
    for (size_t i = 1; i < group.size(); ++i) {
      Row* lose = group[i];
      lose->hash = lose->old_hash == key.second ? fmt::format("{}-{}", lose->old_hash, lose->id)
                                                : lose->old_hash;
      lose->loser = true;
    }
  }
}

void refuse_if_live(Db& db, double live_seconds) {
  auto st = db.prepare(
      "SELECT id, COALESCE(host, ''), COALESCE(pid, 0), ? - heartbeat_at FROM runs WHERE status = "
      "'running' AND heartbeat_at > ? ORDER BY heartbeat_at DESC LIMIT 1");
  const double now = now_unix();
  if (st.bind(1, now).bind(2, now - live_seconds).step())
    throw StoreError(
        fmt::format("{}: schema 7 rewrites run identities, and run {} is running (pid {} on {}, "
                    "heartbeat {:.0f} s ago): stop that grid (Ctrl-C), then run lowbit grid again",
                    db.path(), st.get_int(0), st.get_int(2), st.get_text(1), st.get_double(3)),
        true);
}

}  // namespace

void rehash_runs(Db& db, double live_seconds) {
  std::vector<Row> rows = read_rows(db);
  compute(rows);
  settle_collisions(rows);
  std::vector<Row*> moved;
  for (auto& r : rows)
    if (r.hash != r.old_hash || r.relinked || r.train != r.old_train || r.loser) moved.push_back(&r);
  if (moved.empty()) return;
  refuse_if_live(db, live_seconds);
  // Two passes, so that no intermediate state repeats a hash within an experiment.
  auto park = db.prepare("UPDATE runs SET config_hash = 'rehash-' || id WHERE id = ?");
  for (Row* r : moved) park.bind(1, r->id).run();
  auto up = db.prepare(
      "UPDATE runs SET config_hash = ?, train_hash = ?, config_json = ?, legacy_hash = CASE WHEN ? "
      "THEN ? ELSE legacy_hash END, in_definition = CASE WHEN ? THEN 0 ELSE in_definition END "
      "WHERE id = ?");
  auto link = db.prepare("UPDATE run_config SET value = ? WHERE run_id = ? AND key = 'init.from_run'");
  for (Row* r : moved) {
    up.bind(1, r->hash)
        .bind(2, r->train)
        .bind(3, r->config.dump())
        .bind(4, int64_t(r->hash != r->old_hash))
        .bind(5, r->old_hash)
        .bind(6, int64_t(r->loser))
        .bind(7, r->id)
        .run();
    if (r->relinked) link.bind(1, r->config["init"]["from_run"].get<std::string>()).bind(2, r->id).run();
  }
}

}  // namespace lowbit
