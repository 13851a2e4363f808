// The table of `lowbit`, the torch-free front: its own commands with their handlers; the
// kTorch rows without one (run_main execs lowbit-torch for them).
#include "apps/commands.h"

namespace lowbit {

const std::vector<Command>& front_commands() {
#define LOWBIT_HANDLER_kFront(handler) handler
#define LOWBIT_HANDLER_kTorch(handler) nullptr
#define LOWBIT_COMMAND(handler, name, binary, listing, description) \
  {name, description, Binary::binary, Listing::listing, LOWBIT_HANDLER_##binary(handler)},
  static const std::vector<Command> table = {
#include "apps/commands.def"
  };
#undef LOWBIT_COMMAND
#undef LOWBIT_HANDLER_kTorch
#undef LOWBIT_HANDLER_kFront
  return table;
}

}  // namespace lowbit
