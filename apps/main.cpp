// The `lowbit` command line: all the work is in run_main (apps/dispatch.cpp) so tests can
// call it; main only tunes the allocator (core/allocator.h).
#include "apps/commands.h"
#include "core/allocator.h"

int main(int argc, char** argv) {
  lowbit::tune_allocator();
  return lowbit::run_main(argc, argv);
}
