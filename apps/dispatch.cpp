#include <cerrno>
#include <csignal>
#include <cstring>
#include <iostream>
#include <unistd.h>

#include <fmt/format.h>

#include "apps/cli.h"
#include "apps/commands.h"
#include "core/error.h"
#include "core/train/interrupt.h"
#include "core/util.h"

namespace lowbit {

namespace {
std::vector<std::string> g_args;  // the whole command line, for forward_to_torch
}  // namespace

#ifdef LOWBIT_FRONT
// The front binary (`lowbit`) links no LibTorch, so that the commands that only read or
// annotate the database start at once. A command that trains or loads a model runs in
// lowbit-torch beside it, which replaces this process: same pid, signals and exit code.
int forward_to_torch(const std::vector<std::string>&) {
  std::string exe = self_exe();
  exe = exe.substr(0, exe.rfind('/') + 1) + "lowbit-torch";
  std::vector<char*> argv;
  argv.push_back(exe.data());
  for (auto& a : g_args) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execv(exe.c_str(), argv.data());
  throw Error("cannot run " + exe + " (" + std::strerror(errno) +
              "): the training half of lowbit must sit beside lowbit; rebuild with make build");
}
#define LOWBIT_TORCH_COMMAND(handler) forward_to_torch
#else
#define LOWBIT_TORCH_COMMAND(handler) handler
#endif

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"train", "train one run from a JSON config", LOWBIT_TORCH_COMMAND(cmd_train)},
      {"grid", "run an experiment grid (axes x variants x seeds) into the results database",
       LOWBIT_TORCH_COMMAND(cmd_grid)},
      {"suite", "every experiment of a folder into one database, one report each, an index (and RESULTS.md)",
       LOWBIT_TORCH_COMMAND(cmd_suite)},
      {"status", "counts, running runs and the completeness matrix of each experiment", cmd_status},
      {"report", "tables with error bars (md, csv, tex, html), energy and cost tables, curves",
       cmd_report},
      {"query", "list runs with their varying keys and final metrics, or run read-only SQL",
       cmd_query},
      {"diff", "what differs between two runs or cells: config, provenance, final metrics with Welch tests",
       cmd_diff},
      {"tag", "add or remove tags on the runs a SQL condition selects (+tag -tag)", cmd_tag},
      {"note", "attach a note to a run", cmd_note},
      {"reproduce", "train a finished run again and say whether it reproduces (bit-identical, within seed spread, different)",
       LOWBIT_TORCH_COMMAND(cmd_reproduce)},
      {"export",
       "pack a checkpoint's quantized layers (2 bits per ternary weight) into a .lbt file",
       LOWBIT_TORCH_COMMAND(cmd_export)},
      {"eval", "test accuracy of a checkpoint or a packed model", LOWBIT_TORCH_COMMAND(cmd_eval)},
      {"merge", "fold the shard databases of a Slurm grid (--shard-dir) into a results database, idempotently",
       cmd_merge},
      {"worker", "(internal) claim and train one run of a grid", LOWBIT_TORCH_COMMAND(cmd_worker)},
      {"slurm-task", "(internal) one task of a Slurm grid's array: claims and trains runs until none is left",
       LOWBIT_TORCH_COMMAND(cmd_slurm_task)},
      {"list", "list models, quantizers, activation quantizers, schedules, datasets or config keys", cmd_list},
      {"config", "print the resolved config of a file, or docs/CONFIG.md", cmd_config},
  };
  return table;
}

namespace {

void on_signal(int sig) {
  // First signal: ask the run to stop cleanly. Second: leave now; SQLite's journal and the
  // atomic checkpoint rename keep what was recorded intact.
  if (interrupt_count().fetch_add(1) >= 1) _exit(kExitInterrupted);
  const char msg[] =
      "\nlowbit: interrupt received, stopping after this batch (press Ctrl-C again to quit now)\n";
  ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
  (void)ignored;
}

void print_help() {
  std::cout << "lowbit " << LOWBIT_VERSION
            << " - a harness for research on low-bit neural networks\n\n"
            << "usage: lowbit <command> [options]   (lowbit <command> --help for its "
               "options)\n\ncommands:\n";
  for (const auto& c : commands())
    if (std::string(c.name) != "worker" && std::string(c.name) != "slurm-task")
      std::cout << fmt::format("  {:<9} {}\n", c.name, c.description);
}

}  // namespace

int run_main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  g_args = args;
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_help();
    return args.empty() ? kExitBadInput : kExitSuccess;
  }
  if (args[0] == "--version") {
    std::cout << "lowbit " << LOWBIT_VERSION << "\n";
    return kExitSuccess;
  }
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  std::vector<std::string> names;
  for (const auto& c : commands()) {
    names.push_back(c.name);
    if (args[0] != c.name) continue;
    try {
      return c.handler(std::vector<std::string>(args.begin() + 1, args.end()));
    } catch (const Error& e) {
      std::cerr << "lowbit: " << e.what() << "\n";
      return e.exit_code();
    } catch (const std::exception& e) {
      std::string what = e.what();
      auto nl = what.find('\n');  // LibTorch errors carry a backtrace after the first line
      std::cerr << "lowbit: " << what.substr(0, nl) << "\n";
      return kExitFailure;
    }
  }
  std::cerr << "lowbit: unknown command '" << args[0] << "'" << did_you_mean(args[0], names)
            << " (see lowbit --help)\n";
  return kExitBadInput;
}

}  // namespace lowbit
