// `lowbit`, the command users type: torch-free, so that the commands that only read or
// annotate the database start at once; a command that trains or loads a model runs in
// lowbit-torch beside it (apps/commands.def says which).
#include "apps/commands.h"
#include "core/allocator.h"

int main(int argc, char** argv) {
  lowbit::tune_allocator();
  return lowbit::run_main(argc, argv, lowbit::Binary::kFront, lowbit::front_commands());
}
