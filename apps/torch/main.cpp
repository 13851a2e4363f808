// lowbit-torch: every command, LibTorch linked; `lowbit` execs it for the commands that train
// or load a model. The work is in run_main (apps/dispatch.cpp); main only tunes the allocator
// (core/allocator.h).
#include "apps/commands.h"
#include "core/allocator.h"

int main(int argc, char** argv) {
  lowbit::tune_allocator();
  return lowbit::run_main(argc, argv, lowbit::Binary::kTorch, lowbit::torch_commands());
}
