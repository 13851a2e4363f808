#include "experiments/slurm.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <regex>
#include <sstream>

#include <fmt/format.h>

#include "core/error.h"
#include "core/file_io.h"
#include "core/util.h"

namespace lowbit {

namespace {
constexpr int kMaxDefaultTasks = 64;  // more tasks than this load the controller for little gain
}  // namespace

int default_tasks(int64_t runs_to_train, int64_t max_array_size) {
  int64_t k = std::min<int64_t>(runs_to_train, kMaxDefaultTasks);
  if (max_array_size > 0) k = std::min(k, max_array_size - 1);
  return int(std::max<int64_t>(k, 1));
}

int64_t parse_max_array_size(const std::string& text) {
  static const std::regex re(R"(^\s*MaxArraySize\s*=\s*(\d+))", std::regex::multiline);
  std::smatch m;
  if (!std::regex_search(text, m, re)) return -1;
  return std::stoll(m[1].str());
}

void check_slurm_options(const SlurmOptions& o) {
  static const std::regex time_re(R"(^(\d+|\d+:\d{2}|\d+:\d{2}:\d{2}|\d+-\d+|\d+-\d+:\d{2}|\d+-\d+:\d{2}:\d{2})$)");
  if (!o.time.empty() && !std::regex_match(o.time, time_re))
    throw ConfigError("--time " + o.time +
                      ": expected Slurm's time format, e.g. 30 (minutes), 04:00:00 or 1-12:00:00");
  if (o.tasks < 0) throw ConfigError(fmt::format("--tasks {}: expected 1 or more (0 = the default)", o.tasks));
  if (o.max_concurrent < 0)
    throw ConfigError(fmt::format("--max-concurrent {}: expected 1 or more (0 = no limit)", o.max_concurrent));
  if (o.cpus_per_task < 1) throw ConfigError(fmt::format("--cpus-per-task {}: expected 1 or more", o.cpus_per_task));
  for (const auto* v : {&o.partition, &o.gres, &o.time})
    if (v->find_first_of(" \t\n'\"") != std::string::npos)
      throw ConfigError("'" + *v + "': a Slurm option value may not hold spaces or quotes");
  for (const auto& a : o.sbatch_args)
    if (a.find('\n') != std::string::npos || a.rfind("-", 0) != 0)
      throw ConfigError("--sbatch-arg '" + a + "': expected one sbatch option, e.g. --sbatch-arg=--mem=8G");
  if (o.device != "cpu" && o.device != "cuda" && o.device.rfind("cuda:", 0) != 0)
    throw ConfigError("--device " + o.device + ": expected cpu or cuda");
}

std::string sbatch_script(const SlurmOptions& o, const std::string& experiment, int tasks,
                          int64_t runs, const std::string& lowbit) {
  const std::string& dir = o.shard_dir;
  std::string s = "#!/bin/bash\n";
  s += fmt::format(
      "# lowbit: an array of {} worker task(s) for experiment '{}' ({} run(s) to train). Each\n"
      "# task claims runs from {}/claims and trains them one after another into its own\n"
      "# shard database ({}/shards/<job>_<task>.db) until none is left; a killed, requeued or\n"
      "# timed-out run resumes from its checkpoint in {}/runs. Written by\n"
      "# `lowbit grid --backend slurm`; it may be submitted again by hand (sbatch this file),\n"
      "# though running that command again also releases the claims of tasks that are gone.\n"
      "# Then: lowbit status --shard-dir {} ; lowbit merge --into results.db {}\n",
      tasks, experiment, runs, dir, dir, dir, dir, dir);
  s += "#SBATCH --job-name=lowbit-" + experiment + "\n";
  s += fmt::format("#SBATCH --array=0-{}{}\n", tasks - 1,
                   o.max_concurrent > 0 ? fmt::format("%{}", o.max_concurrent) : "");
  s += "#SBATCH --output=" + dir + "/logs/%A_%a.out\n";
  s += "#SBATCH --open-mode=append\n";
  s += fmt::format("#SBATCH --cpus-per-task={}\n", o.cpus_per_task);
  if (!o.partition.empty()) s += "#SBATCH --partition=" + o.partition + "\n";
  if (!o.time.empty()) s += "#SBATCH --time=" + o.time + "\n";
  if (!o.gres.empty()) s += "#SBATCH --gres=" + o.gres + "\n";
  if (o.requeue) s += "#SBATCH --requeue\n";
  for (const auto& a : o.sbatch_args) s += "#SBATCH " + a + "\n";
  s += fmt::format("exec {} slurm-task --shard-dir {} --threads \"${{SLURM_CPUS_PER_TASK:-{}}}\" --device {}\n",
                   lowbit, dir, o.cpus_per_task, o.device);
  return s;
}

Captured run_slurm_command(const std::vector<std::string>& argv, bool show_stderr) {
  if (!on_path(argv.at(0)))
    throw Error(argv[0] + " is not on PATH: run lowbit on a Slurm login node, or install the Slurm "
                          "client (Debian package slurm-client) and point SLURM_CONF at the cluster's slurm.conf");
  return run_captured(argv, show_stderr);
}

int64_t cluster_max_array_size() {
  Captured c = run_slurm_command({"scontrol", "show", "config"});
  return c.status == 0 ? parse_max_array_size(c.out) : -1;
}

std::string submit_array(const std::string& script) {
  Captured c = run_slurm_command({"sbatch", "--parsable", script}, true);
  std::string id = c.out.substr(0, c.out.find_first_of(";\n"));
  if (c.status != 0 || id.empty() || id.find_first_not_of("0123456789") != std::string::npos)
    throw Error(fmt::format("sbatch {} failed (exit {}{}); see its message above, fix the option it names "
                            "(lowbit grid --partition/--time/--sbatch-arg) and run the same command again",
                            script, c.status, id.empty() ? "" : ", printed '" + truncate_for_message(c.out) + "'"));
  return id;
}

std::map<std::string, std::string> parse_squeue(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  for (std::string job, task, state; in >> job >> task >> state;)
    if (task != "N/A") out[job + "_" + task] = state;  // N/A: a job that is not an array
  return out;
}

std::optional<std::map<std::string, std::string>> slurm_live_tasks() {
  if (!on_path("squeue")) return std::nullopt;
  const passwd* pw = ::getpwuid(::getuid());
  Captured c = run_slurm_command({"squeue", "-h", "-r", "-u", pw ? pw->pw_name : std::to_string(::getuid()),
                                  "-o", "%F %K %T"});
  if (c.status != 0) return std::nullopt;
  return parse_squeue(c.out);
}

}  // namespace lowbit
