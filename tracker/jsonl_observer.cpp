#include "tracker/jsonl_observer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config/run_config.h"
#include "core/error.h"
#include "core/file_io.h"

namespace lowbit {

using nlohmann::json;

void make_dirs(const std::string& dir, const std::string& what) {
  std::string path;
  std::stringstream ss(dir);
  std::string part;
  if (!dir.empty() && dir[0] == '/') path = "/";
  while (std::getline(ss, part, '/')) {
    if (part.empty()) continue;
    path += part + "/";
    if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST)
      throw ConfigError(what + " " + dir + ": cannot create directory (" + std::strerror(errno) +
                        ")");
  }
  if (::access(dir.c_str(), W_OK) != 0)
    throw ConfigError(what + " " + dir + ": directory is not writable (choose another " + what +
                      ")");
}

namespace {

// Keeps the lines of `path` whose "epoch" is below `epoch` (for resume).
void truncate_from_epoch(const std::string& path, int64_t epoch) {
  std::ifstream in(path);
  if (!in) return;
  std::vector<std::string> keep;
  for (std::string line; std::getline(in, line);) {
    auto j = json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.contains("epoch") && j["epoch"].get<int64_t>() < epoch + 1)
      keep.push_back(line);
  }
  in.close();
  std::string text;
  for (auto& l : keep) text += l + "\n";
  write_file_atomic(path, text);
}

}  // namespace

JsonlObserver::JsonlObserver(std::string dir) : dir_(std::move(dir)) { make_dirs(dir_, "--out"); }

void JsonlObserver::on_run_start(const RunStartEvent& e) {
  write_file_atomic(dir_ + "/config.json", to_json(*e.config).dump(2) + "\n");
  truncate_from_epoch(dir_ + "/metrics.jsonl", e.start_epoch);
  truncate_from_epoch(dir_ + "/layer_stats.jsonl", e.start_epoch);
  metrics_.open(dir_ + "/metrics.jsonl", std::ios::app);
  layers_.open(dir_ + "/layer_stats.jsonl", std::ios::app);
  if (!metrics_ || !layers_) throw ConfigError("--out " + dir_ + ": cannot write metrics files");
}

void JsonlObserver::on_epoch_end(const EpochEvent& e) {
  // Epochs are 1-based in files, as people count them.
  for (const auto& [k, v] : e.metrics)
    metrics_ << json{{"epoch", e.epoch + 1}, {"key", k}, {"value", v}}.dump() << "\n";
  for (const auto& s : e.layers)
    layers_ << json{{"epoch", e.epoch + 1}, {"layer", s.layer}, {"key", s.key}, {"value", s.value}}
                   .dump()
            << "\n";
  errno = 0;
  metrics_.flush();
  if (!metrics_) throw_write_error(dir_ + "/metrics.jsonl", errno ? errno : EIO);
  layers_.flush();
  if (!layers_) throw_write_error(dir_ + "/layer_stats.jsonl", errno ? errno : EIO);
}

void JsonlObserver::on_run_end(const RunEndEvent& e) {
  json j = {{"status", to_string(e.status)}, {"summary", e.summary}};
  if (!e.error.empty()) j["error"] = e.error;
  write_file_atomic(dir_ + "/summary.json", j.dump(2) + "\n");
}

}  // namespace lowbit
