// The subcommand table of lowbit: apps/commands.def lists every subcommand once, with the
// binary that runs it and whether --help lists it; each binary builds its table from it.
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

/// Which binary runs a command: `lowbit` itself (torch-free, starts in milliseconds) or
/// lowbit-torch, which `lowbit` execs for it.
enum class Binary { kFront, kTorch };
enum class Listing { kListed, kHidden };

struct Command {
  const char* name;
  const char* description;
  Binary binary;
  Listing listing;
  CommandHandler handler;  ///< null in the front's table for a kTorch command
};

#define LOWBIT_COMMAND(handler, name, binary, listing, description) \
  int handler(const std::vector<std::string>& args);
#include "apps/commands.def"
#undef LOWBIT_COMMAND

/// The table of `lowbit` (apps/front/commands.cpp): kTorch rows without a handler.
const std::vector<Command>& front_commands();
/// The table of lowbit-torch (apps/torch/commands.cpp): every row with its handler.
const std::vector<Command>& torch_commands();

/// Runs the command line argv with `table`, as binary `self`: a kTorch command run by the
/// front execs lowbit-torch beside it with the same arguments.
int run_main(int argc, char** argv, Binary self, const std::vector<Command>& table);

}  // namespace lowbit
