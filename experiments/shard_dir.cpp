#include "experiments/shard_dir.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "core/error.h"
#include "core/file_io.h"
#include "core/util.h"
#include "tracker/jsonl_observer.h"

namespace lowbit {

namespace {

constexpr int kPlanFormat = 1;

// The names in DIR/<sub>, without the tmp files of a write in progress (write_file_atomic).
std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> out;
  for (auto& n : list_dir(dir).value_or(std::vector<std::string>{}))
    if (n.find(".tmp") == std::string::npos) out.push_back(std::move(n));
  return out;
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

}  // namespace

std::string shard_path(const std::string& dir, const std::string& what) { return dir + "/" + what; }

void make_shard_dir(const std::string& dir) {
  for (const char* sub : {"claims", "ended", "shards", "runs", "logs"})
    make_dirs(shard_path(dir, sub), "--shard-dir");
}

bool is_shard_dir(const std::string& dir) { return ::access(shard_path(dir, "plan.json").c_str(), R_OK) == 0; }

void write_plan(const std::string& dir, const ShardPlan& plan) {
  nlohmann::json runs = nlohmann::json::array();
  for (const auto& r : plan.runs)
    runs.push_back({{"hash", r.hash},
                    {"variant", r.variant},
                    {"varying", r.varying},
                    {"parent_hash", r.parent_hash},
                    {"config", to_json(r.config)}});
  nlohmann::json j = {{"lowbit_shard_plan", kPlanFormat},
                      {"experiment", plan.experiment},
                      {"description", plan.description},
                      {"spec", plan.spec},
                      {"runs", runs}};
  write_file_atomic(shard_path(dir, "plan.json"), j.dump() + "\n");
}

ShardPlan read_plan(const std::string& dir) {
  const std::string path = shard_path(dir, "plan.json");
  const std::string text = read_file(path);
  if (text.empty())
    throw ConfigError(path + ": missing or empty; is " + dir +
                      " a shard directory (lowbit grid --backend slurm --shard-dir " + dir + ")?");
  ShardPlan plan;
  try {
    auto j = nlohmann::json::parse(text);
    if (j.value("lowbit_shard_plan", 0) != kPlanFormat)
      throw ConfigError(path + ": not a lowbit shard plan (format " +
                        j.value("lowbit_shard_plan", nlohmann::json()).dump() + ", expected " +
                        std::to_string(kPlanFormat) + ")");
    plan.experiment = j.at("experiment").get<std::string>();
    plan.description = j.at("description").get<std::string>();
    plan.spec = j.at("spec");
    for (const auto& r : j.at("runs")) {
      PlannedRun p;
      p.hash = r.at("hash").get<std::string>();
      p.variant = r.at("variant").get<std::string>();
      p.varying = r.at("varying");
      p.parent_hash = r.at("parent_hash").get<std::string>();
      apply_json(p.config, r.at("config"), path + " run " + p.hash);
      plan.runs.push_back(std::move(p));
    }
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError(path + ": not a lowbit shard plan (" + first_line(e.what()) +
                      "); submit again with lowbit grid --backend slurm");
  }
  return plan;
}

bool try_claim(const std::string& dir, const std::string& hash, const std::string& task) {
  const std::string path = shard_path(dir, "claims/" + hash);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (fd < 0) {
    if (errno == EEXIST) return false;
    throw_write_error(path, errno);
  }
  const std::string text = task + "\n";
  const bool ok = ::write(fd, text.data(), text.size()) == ssize_t(text.size()) && ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    throw_write_error(path, err);
  }
  return true;
}

std::optional<std::string> claim_holder(const std::string& dir, const std::string& hash) {
  const std::string path = shard_path(dir, "claims/" + hash);
  if (::access(path.c_str(), F_OK) != 0) return std::nullopt;
  // A claim created an instant ago may not hold its name yet: an empty holder is "someone".
  return first_line(read_file(path));
}

void release_claim(const std::string& dir, const std::string& hash) {
  ::unlink(shard_path(dir, "claims/" + hash).c_str());
}

std::vector<std::pair<std::string, std::string>> list_claims(const std::string& dir) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& hash : entries(shard_path(dir, "claims")))
    out.push_back({hash, first_line(read_file(shard_path(dir, "claims/" + hash)))});
  return out;
}

void write_ended(const std::string& dir, const std::string& hash, const Ended& e) {
  nlohmann::json j = {{"status", e.status}, {"task", e.task}, {"checkpoint", e.checkpoint}, {"sha256", e.sha256}};
  write_file_atomic(shard_path(dir, "ended/" + hash), j.dump() + "\n");
}

std::optional<Ended> read_ended(const std::string& dir, const std::string& hash) {
  const std::string path = shard_path(dir, "ended/" + hash);
  const std::string text = read_file(path);
  if (text.empty()) return std::nullopt;
  try {
    auto j = nlohmann::json::parse(text);
    return Ended{j.at("status").get<std::string>(), j.value("task", ""), j.value("checkpoint", ""),
                 j.value("sha256", "")};
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError(path + ": not a lowbit marker (" + first_line(e.what()) +
                      "); remove it and submit again to train that run again");
  }
}

int forget_unfinished(const std::string& dir) {
  int n = 0;
  for (const auto& hash : entries(shard_path(dir, "ended"))) {
    auto e = read_ended(dir, hash);
    if (e && e->status != "done") ::unlink(shard_path(dir, "ended/" + hash).c_str()), ++n;
  }
  return n;
}

std::vector<std::string> list_shards(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& n : entries(shard_path(dir, "shards")))
    if (n.size() > 3 && n.compare(n.size() - 3, 3, ".db") == 0) out.push_back(shard_path(dir, "shards/" + n));
  return out;
}

std::vector<std::string> list_jobs(const std::string& dir) {
  std::vector<std::string> out;
  std::ifstream in(shard_path(dir, "jobs"));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

void append_job(const std::string& dir, const std::string& job_id) {
  std::string text = read_file(shard_path(dir, "jobs"));
  write_file_atomic(shard_path(dir, "jobs"), text + job_id + "\n");
}

std::string task_name() {
  auto env = [](const char* k) -> std::string {
    const char* v = std::getenv(k);
    return v ? v : "";
  };
  if (!env("SLURM_ARRAY_JOB_ID").empty() && !env("SLURM_ARRAY_TASK_ID").empty())
    return env("SLURM_ARRAY_JOB_ID") + "_" + env("SLURM_ARRAY_TASK_ID");
  if (!env("SLURM_JOB_ID").empty()) return env("SLURM_JOB_ID");
  return fmt::format("local-{}-{}", host_name(), ::getpid());
}

}  // namespace lowbit
