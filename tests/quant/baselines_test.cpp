#include <doctest/doctest.h>
#include <torch/torch.h>

#include <cmath>
#include <numeric>

#include "core/quant/act.h"
#include "core/quant/bop.h"
#include "core/quant/ste.h"
#include "core/quant/twn.h"

using namespace lowbit;
using doctest::Approx;

TEST_CASE("twn: delta = 0.7 mean|w|, alpha = mean of the kept |w|, straight-through gradient") {
  TWNImpl q;
  auto w = torch::tensor({1.0f, -0.1f, 0.2f, -0.6f}).requires_grad_(true);
  // mean|w| = 0.475, delta = 0.3325; kept: 1.0 and -0.6, alpha = 0.8.
  auto out = q.forward(w);
  CHECK(torch::allclose(out, torch::tensor({0.8f, 0.f, 0.f, -0.8f})));
  out.sum().backward();
  CHECK(torch::equal(w.grad(), torch::ones({4})));
  StatMap s;
  q.collect_stats(w.detach(), s);
  CHECK(s["sparsity"] == Approx(0.5));
  CHECK(s["delta"] == Approx(0.3325));
  CHECK(s["alpha"] == Approx(0.8));
}

TEST_CASE("sign: layer and channel scaling, clipped straight-through gradient") {
  auto w = torch::tensor({0.5f, -2.0f, 0.0f, -0.5f}).view({2, 2}).requires_grad_(true);
  SignImpl layer(Scaling::kLayer);
  auto out = layer.forward(w);
  CHECK(torch::allclose(out, torch::tensor({0.75f, -0.75f, 0.75f, -0.75f}).view({2, 2})));
  out.sum().backward();
  CHECK(torch::equal(w.grad(), torch::tensor({1.f, 0.f, 1.f, 1.f}).view({2, 2})));  // |w| > 1 -> 0
  SignImpl channel(Scaling::kChannel);
  CHECK(torch::allclose(channel.forward(w).detach(),
                        torch::tensor({1.25f, -1.25f, 0.25f, -0.25f}).view({2, 2})));
  SignImpl none(Scaling::kNone);
  CHECK(torch::equal(none.forward(w).detach(), torch::tensor({1.f, -1.f, 1.f, -1.f}).view({2, 2})));
}

TEST_CASE("dorefa: k-bit levels and straight-through rounding (max detached, quant.dorefa.grad_through_max=false)") {
  auto w = torch::tensor({-3.0f, -0.1f, 0.0f, 0.2f, 3.0f}).requires_grad_(true);
  DoReFaImpl q2(2, /*grad_through_max=*/false);
  auto out = q2.forward(w);
  // tanh(w) / (2 max|tanh|) + 1/2, rounded to thirds, then 2x - 1: levels {-1, -1/3, 1/3, 1}.
  auto t = torch::tanh(w.detach());
  auto x = t / (2 * t.abs().max()) + 0.5;
  auto expect = 2 * torch::round(x * 3) / 3 - 1;
  CHECK(torch::allclose(out.detach(), expect));
  CHECK(out.detach()[0].item<float>() == Approx(-1.0));
  CHECK(out.detach()[4].item<float>() == Approx(1.0));
  out.sum().backward();
  // d/dw of 2 * tanh(w) / (2 M) (M treated as constant) = (1 - tanh^2) / M.
  auto expect_grad = (1 - t * t) / t.abs().max();
  CHECK(torch::allclose(w.grad(), expect_grad, 1e-5, 1e-6));
  DoReFaImpl q1(1);
  auto b = q1.forward(w.detach());
  CHECK(
      torch::allclose(b, torch::tensor({-1.26f, -1.26f, 1.26f, 1.26f, 1.26f})));  // sign * mean|w|
}

// tensorpack's dorefa.py: x = tanh(w); x = x / max|x| * 0.5 + 0.5; 2 quantize_k(x) - 1, the
// gradient through the max too. For L = sum(out), with STE rounding, L = sum_i t_i / M + c,
// M = |t_j| at j = argmax |t|: dL/dw_k = (1 - t_k^2) / M - [k = j] sign(t_j) (1 - t_j^2) sum_i t_i / M^2.
// By hand, in double precision; tolerance 1e-5 relative (float32 forward).
TEST_CASE("dorefa: the gradient flows through max|tanh w| as in tensorpack (the default)") {
  const std::vector<double> wv = {-3.0, -0.1, 0.0, 0.2, 2.0};  // no tie for the max
  auto w = torch::tensor(std::vector<float>(wv.begin(), wv.end())).requires_grad_(true);
  DoReFaImpl q2(2);
  CHECK(q2.grad_through_max);
  q2.forward(w).sum().backward();
  std::vector<double> t;
  for (double x : wv) t.push_back(std::tanh(x));
  const size_t j = 0;  // |tanh(-3)| is the largest
  const double M = std::abs(t[j]), sum = std::accumulate(t.begin(), t.end(), 0.0);
  for (size_t k = 0; k < wv.size(); ++k) {
    double g = (1 - t[k] * t[k]) / M;
    if (k == j) g -= (t[j] < 0 ? -1.0 : 1.0) * (1 - t[j] * t[j]) * sum / (M * M);
    CHECK_MESSAGE(w.grad()[int64_t(k)].item<double>() == Approx(g).epsilon(1e-5), "k = " << k);
  }
  // The forward does not depend on where the gradient flows.
  DoReFaImpl detached(2, false);
  CHECK(torch::equal(q2.forward(w).detach(), detached.forward(w).detach()));
}

TEST_CASE("activation quantizers: forward levels and gradients") {
  auto x = torch::tensor({-1.5f, -0.2f, 0.0f, 0.3f, 0.7f, 1.4f}).requires_grad_(true);
  SignActImpl s;
  auto ys = s.forward(x);
  CHECK(torch::equal(ys.detach(), torch::tensor({-1.f, -1.f, 1.f, 1.f, 1.f, 1.f})));
  ys.sum().backward();
  CHECK(torch::equal(x.grad(), torch::tensor({0.f, 1.f, 1.f, 1.f, 1.f, 0.f})));

  x.mutable_grad() = torch::Tensor();
  DoReFaActImpl d(2);
  auto yd = d.forward(x);
  CHECK(torch::allclose(yd.detach(), torch::tensor({0.f, 0.f, 0.f, 1.f / 3, 2.f / 3, 1.f})));
  yd.sum().backward();
  CHECK(torch::equal(x.grad(), torch::tensor({0.f, 0.f, 1.f, 1.f, 1.f, 0.f})));

  x.mutable_grad() = torch::Tensor();
  PACTImpl p(2, 1.0);
  auto yp = p.forward(x);
  CHECK(torch::allclose(yp.detach(), torch::tensor({0.f, 0.f, 0.f, 1.f / 3, 2.f / 3, 1.f})));
  yp.sum().backward();
  CHECK(torch::equal(x.grad(), torch::tensor({0.f, 0.f, 1.f, 1.f, 1.f, 0.f})));
  // dalpha: 1 where x >= alpha, plus the rounding's STE part q/alpha - x/alpha inside (0, alpha).
  double expect = 1.0 + (1.0 / 3 - 0.3) + (2.0 / 3 - 0.7);
  CHECK(p.alpha.grad().item<double>() == Approx(expect).epsilon(1e-5));
}

TEST_CASE("bop: flips exactly the weights whose momentum passes tau with the same sign") {
  BopImpl b(0.5, 0.1);
  auto w = torch::tensor({0.3f, -0.2f, 0.4f, -0.9f, 0.0f}).requires_grad_(true);
  b.init_from(w);
  CHECK(torch::equal(w.detach(), torch::tensor({1.f, -1.f, 1.f, -1.f, 1.f})));
  // m = 0.5 * g: [0.4, -0.3, 0.1, 0.3, -0.5]
  w.mutable_grad() = torch::tensor({0.8f, -0.6f, 0.2f, 0.6f, -1.0f});
  b.update(w);
  // |m| > 0.1 and same sign: index 0 (0.4, +1) and 1 (-0.3, -1) flip; 2 has |m| = 0.1 (not >);
  // 3 and 4 have opposite signs.
  CHECK(torch::equal(w.detach(), torch::tensor({-1.f, 1.f, 1.f, -1.f, 1.f})));
  CHECK(torch::allclose(b.m, torch::tensor({0.4f, -0.3f, 0.1f, 0.3f, -0.5f})));
  // Second step: m = 0.5 m + 0.5 g.
  w.mutable_grad() = torch::tensor({0.0f, 0.0f, 0.4f, 0.0f, 0.0f});
  b.update(w);
  CHECK(torch::equal(w.detach(),
                     torch::tensor({-1.f, 1.f, -1.f, -1.f, 1.f})));  // m[2] = 0.25 > 0.1, w = +1
}
