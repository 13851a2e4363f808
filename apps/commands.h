// The subcommand table of the `lowbit` binary: one {name, description, handler} row per
// subcommand, each handler in its own apps/cmd_*.cpp. `lowbit --help` prints this table.
// No torch here: main.cpp stays a cheap translation unit.
#pragma once
#include "lowbit_room.h"  // the build refuses this header in rooms below apps/
#ifndef LOWBIT_MAY_INCLUDE_APPS
#error "this room may not include apps/ (docs/ARCHITECTURE.md: rooms)"
#endif
#include <string>
#include <vector>

namespace lowbit {

/// A handler gets the arguments after the subcommand name and returns an exit code.
/// It may throw lowbit::Error; main() turns that into one line and an exit code.
using CommandHandler = int (*)(const std::vector<std::string>& args);

struct Command {
  const char* name;
  const char* description;
  CommandHandler handler;
};

const std::vector<Command>& commands();

int cmd_train(const std::vector<std::string>& args);
int cmd_list(const std::vector<std::string>& args);
int cmd_config(const std::vector<std::string>& args);
int cmd_export(const std::vector<std::string>& args);
int cmd_eval(const std::vector<std::string>& args);
int cmd_grid(const std::vector<std::string>& args);
int cmd_suite(const std::vector<std::string>& args);
int cmd_worker(const std::vector<std::string>& args);
int cmd_status(const std::vector<std::string>& args);
int cmd_query(const std::vector<std::string>& args);
int cmd_report(const std::vector<std::string>& args);
int cmd_diff(const std::vector<std::string>& args);
int cmd_tag(const std::vector<std::string>& args);
int cmd_note(const std::vector<std::string>& args);
int cmd_reproduce(const std::vector<std::string>& args);
int cmd_merge(const std::vector<std::string>& args);
int cmd_slurm_task(const std::vector<std::string>& args);

/// Runs `lowbit` with argv; the whole command line, for tests and main().
int run_main(int argc, char** argv);

}  // namespace lowbit
