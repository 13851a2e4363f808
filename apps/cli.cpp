#include "apps/cli.h"

#include <unistd.h>

#include <iostream>
#include <thread>

#include "core/error.h"

namespace lowbit {

bool parse_args(const std::string& cmd, const std::vector<std::string>& args,
                po::options_description& desc, po::variables_map& vm,
                const po::positional_options_description* pos, const std::string& usage) {
  desc.add_options()("help,h", "show this help");
  try {
    po::command_line_parser parser(args);
    parser.options(desc);
    if (pos) parser.positional(*pos);
    po::store(parser.run(), vm);
    if (vm.count("help")) {
      std::cout << "usage: lowbit " << cmd << " " << usage << "\n\n" << desc << "\n";
      return false;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw ConfigError("lowbit " + cmd + ": " + e.what() + " (see lowbit " + cmd + " --help)");
  }
  return true;
}

int resolve_threads(int requested) {
  if (requested > 0) return requested;
  unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? int(n) : 1;
}

std::string self_exe() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) throw Error("cannot find the lowbit binary (/proc/self/exe)");
  return std::string(buf, size_t(n));
}

}  // namespace lowbit
