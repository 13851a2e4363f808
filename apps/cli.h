// Helpers shared by the subcommand files: option parsing with one-line errors.
#pragma once
#include "lowbit_room.h"  // the build refuses this header in rooms below apps/
#ifndef LOWBIT_MAY_INCLUDE_APPS
#error "this room may not include apps/ (docs/ARCHITECTURE.md: rooms)"
#endif
#include <string>
#include <vector>

#include <boost/program_options.hpp>

namespace lowbit {

namespace po = boost::program_options;

/// Parses `args` against `desc` (and positional names); prints help and returns false
/// when --help was given. Throws ConfigError("lowbit <cmd>: ...") on a bad option.
bool parse_args(const std::string& cmd, const std::vector<std::string>& args,
                po::options_description& desc, po::variables_map& vm,
                const po::positional_options_description* pos = nullptr,
                const std::string& usage = "");

/// The thread count to use: --threads when given (> 0), else the number of cores.
int resolve_threads(int requested);

/// The path of the running lowbit binary (/proc/self/exe), which grid workers run.
std::string self_exe();

}  // namespace lowbit
