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

// The front binary (`lowbit`) links no LibTorch, so that the commands that only read or
// annotate the database start at once. A kTorch command runs in lowbit-torch beside it,
// which replaces this process: same pid, signals and exit code.
[[noreturn]] void forward_to_torch(const std::vector<std::string>& args) {
  std::string exe = self_exe();
  exe = exe.substr(0, exe.rfind('/') + 1) + "lowbit-torch";
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  argv.push_back(exe.data());
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execv(exe.c_str(), argv.data());
  throw Error("cannot run " + exe + " (" + std::strerror(errno) +
              "): the training half of lowbit must sit beside lowbit; rebuild with make build");
}

void on_signal(int sig) {
  // First signal: ask the run to stop cleanly. Second: leave now; SQLite's journal and the
  // atomic checkpoint rename keep what was recorded intact.
  if (interrupt_count().fetch_add(1) >= 1) _exit(kExitInterrupted);
  const char msg[] =
      "\nlowbit: interrupt received, stopping after this batch (press Ctrl-C again to quit now)\n";
  ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
  (void)ignored;
}

void print_help(const std::vector<Command>& table) {
  std::cout << "lowbit " << LOWBIT_VERSION
            << " - a harness for research on low-bit neural networks\n\n"
            << "usage: lowbit <command> [options]   (lowbit <command> --help for its "
               "options)\n\ncommands:\n";
  for (const auto& c : table)
    if (c.listing == Listing::kListed)
      std::cout << fmt::format("  {:<9} {}\n", c.name, c.description);
}

}  // namespace

int run_main(int argc, char** argv, Binary self, const std::vector<Command>& table) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_help(table);
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
  for (const auto& c : table) {
    names.push_back(c.name);
    if (args[0] != c.name) continue;
    try {
      if (c.binary == Binary::kTorch && self == Binary::kFront) forward_to_torch(args);
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
