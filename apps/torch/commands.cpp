// The table of lowbit-torch: every command with its handler (the front's too, so that
// lowbit-torch alone is the whole command line).
#include "apps/commands.h"

namespace lowbit {

const std::vector<Command>& torch_commands() {
#define LOWBIT_COMMAND(handler, name, binary, listing, description) \
  {name, description, Binary::binary, Listing::listing, handler},
  static const std::vector<Command> table = {
#include "apps/commands.def"
  };
#undef LOWBIT_COMMAND
  return table;
}

}  // namespace lowbit
