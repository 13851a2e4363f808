// doctest's main, with LibTorch's thread count fixed so that test timings and results do
// not depend on the machine.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <torch/torch.h>

int main(int argc, char** argv) {
  torch::set_num_threads(2);
  doctest::Context ctx(argc, argv);
  return ctx.run();
}
