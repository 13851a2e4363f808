// The energy model against a hand-built two-layer network with known input zeros.
#include <doctest/doctest.h>
#include <torch/torch.h>

#include "core/nn/qlayers.h"
#include "reports/energy.h"

using namespace lowbit;
using doctest::Approx;

// Layer 1: full precision, 4 -> 3, on x with 4 zeros of 8 (s = 0.5).
// Layer 2: 3 -> 2 on relu(layer 1), which has 4 zeros of 6 (s = 2/3) by construction.
// MACs: 12 and 6. Horowitz 45 nm: float MAC 3.7 + 0.9 = 4.6 pJ; ternary weights on a float
// input 0.9 pJ (sign, then add); 4-level 2-bit weights on a float input 4.6 pJ; on 2-bit
// inputs 0.1 (ternary) and 0.2 + 0.1 (4-level). Tolerance 1e-12 relative.
TEST_CASE("energy: a hand-built two-layer network with known input zeros") {
  QLinearImpl l1(4, 3, false), l2(3, 2, false);
  {
    torch::NoGradGuard g;
    l1.weight.copy_(
        torch::tensor({{1.f, 0.f, 0.f, 0.f}, {0.f, -1.f, 0.f, 0.f}, {0.f, 0.f, 1.f, 0.f}}));
  }
  auto x = torch::tensor({{1.f, 2.f, 0.f, 0.f}, {0.f, 3.f, 4.f, 0.f}});
  l1.input_zeros.start();
  l2.input_zeros.start();
  auto h = torch::relu(l1.forward(x));  // [[1, 0, 0], [0, 0, 4]]
  l2.forward(h);
  const double s1 = l1.input_zeros.stop(), s2 = l2.input_zeros.stop();
  CHECK(s1 == Approx(4.0 / 8.0).epsilon(1e-12));
  CHECK(s2 == Approx(4.0 / 6.0).epsilon(1e-12));
  CHECK(l1.macs() == 12);
  CHECK(l2.macs() == 6);

  std::vector<LayerEnergyInput> net = {{"l1", 12, 32, 0, 32, s1}, {"l2", 6, 2, 3, 32, s2}};
  auto e = inference_energy(net);
  CHECK(e.macs == 18);
  CHECK(e.dense_pj == Approx(12 * 4.6 + 6 * 0.9).epsilon(1e-12));                     // 60.6
  CHECK(e.input_sparse_pj == Approx(12 * 0.5 * 4.6 + 6 * (1.0 / 3) * 0.9).epsilon(1e-12));  // 29.4
  REQUIRE(e.layers.size() == 2);
  CHECK(e.layers[1].mac_pj == Approx(0.9));
  CHECK(e.layers[1].input_sparse_pj == Approx(1.8).epsilon(1e-12));

  CHECK(e.weight_sparse_pj == Approx(e.dense_pj).epsilon(1e-12));  // no zero weights yet
  CHECK(e.both_sparse_pj == Approx(e.input_sparse_pj).epsilon(1e-12));

  // Half of l2's ternary weights zero: those MACs are skipped; with zero inputs skipped too,
  // a MAC runs when both are non-zero, (1 - 0.5)(1 - 2/3) of l2's.
  net[1].weight_sparsity = 0.5;
  e = inference_energy(net);
  CHECK(e.dense_pj == Approx(60.6).epsilon(1e-12));
  CHECK(e.weight_sparse_pj == Approx(12 * 4.6 + 6 * 0.5 * 0.9).epsilon(1e-12));               // 57.9
  CHECK(e.input_sparse_pj == Approx(29.4).epsilon(1e-12));
  CHECK(e.both_sparse_pj == Approx(12 * 0.5 * 4.6 + 6 * 0.5 * (1.0 / 3) * 0.9).epsilon(1e-12));  // 28.5
  CHECK(e.layers[1].weight_sparse_pj == Approx(2.7).epsilon(1e-12));
  CHECK(e.layers[1].both_sparse_pj == Approx(0.9).epsilon(1e-12));
  net[1].weight_sparsity = 0;

  net[1].weight_levels = 4;  // 2-bit, 4 levels: not ternary, a real multiply
  e = inference_energy(net);
  CHECK(e.dense_pj == Approx(12 * 4.6 + 6 * 4.6).epsilon(1e-12));                     // 82.8
  CHECK(e.input_sparse_pj == Approx(12 * 0.5 * 4.6 + 6 * (1.0 / 3) * 4.6).epsilon(1e-12));  // 36.8

  CHECK(mac_energy_pj(2, 3, 2) == Approx(0.1));  // ternary x 2-bit input: an int32 add
  CHECK(mac_energy_pj(2, 4, 2) == Approx(0.3));  // 4-level x 2-bit input: int8 multiply + int32 add
  CHECK(mac_energy_pj(1, 2, 32) == Approx(0.9));  // binary x float input
  CHECK(mac_energy_pj(32, 0, 2) == Approx(4.6));  // float weights
}
