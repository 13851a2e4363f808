// The `lowbit` command line: all the work is in run_main (apps/dispatch.cpp) so tests can
// call it; main only installs signal handlers.
#include "apps/commands.h"

int main(int argc, char** argv) { return lowbit::run_main(argc, argv); }
