// absmean ternary (BitNet b1.58) against values computed by hand; tolerance 1e-6.
#include <doctest/doctest.h>
#include <torch/torch.h>

#include "core/quant/absmean.h"
#include "core/train/keys.h"

using namespace lowbit;
using doctest::Approx;

TEST_CASE("absmean: gamma = mean|w|, round-clip to {-1, 0, 1}, identity gradient, packed alike") {
  // mean|w| = (0.3 + 0.05 + 0.6 + 0.9 + 0 + 0.15) / 6 = 1/3; w / gamma = 0.9, -0.15, 1.8,
  // -2.7, 0, 0.45 -> round: 1, 0, 2, -3, 0, 0 -> clip: 1, 0, 1, -1, 0, 0.
  auto w = torch::tensor({0.3f, -0.05f, 0.6f, -0.9f, 0.0f, 0.15f}).view({2, 3}).requires_grad_(true);
  AbsMeanImpl q;
  CHECK(AbsMeanImpl::gamma(w) == Approx(1.0 / 3).epsilon(1e-6));
  auto out = q.forward(w);
  const std::vector<float> want = {1, 0, 1, -1, 0, 0};
  for (int i = 0; i < 6; ++i) CHECK(out.flatten()[i].item<double>() == Approx(want[size_t(i)] / 3.0).epsilon(1e-6));
  // Straight-through: d(sum(out * g)) / dw = g.
  auto g = torch::tensor({1.f, 2.f, 3.f, 4.f, 5.f, 6.f}).view({2, 3});
  (out * g).sum().backward();
  CHECK(torch::allclose(w.grad(), g));
  StatMap s;
  q.collect_stats(w, s);
  CHECK(s[key::kSparsity] == Approx(0.5));
  CHECK(s[key::kFracPos] == Approx(2.0 / 6));
  CHECK(s[key::kFracNeg] == Approx(1.0 / 6));
  CHECK(s[key::kAlpha] == Approx(1.0 / 3).epsilon(1e-6));
  auto p = q.pack(w);
  CHECK(p.bits == 2);
  CHECK(p.codes == std::vector<uint8_t>{1, 0, 1, 2, 0, 0});
  REQUIRE(p.table.size() == 3);
  CHECK(p.table[1] == out.flatten()[0].item<float>());  // the packed value is the trained one
  // An all-zero layer: gamma is clamped at 1e-5 and every weight is 0, not NaN.
  auto zero = torch::zeros({2, 2});
  CHECK(AbsMeanImpl::gamma(zero) == Approx(1e-5));
  CHECK(torch::equal(q.forward(zero), zero));
}
