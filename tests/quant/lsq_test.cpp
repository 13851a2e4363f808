// LSQ (Esser et al. 2020) against values computed by hand; tolerance 1e-6 relative.
#include <doctest/doctest.h>
#include <torch/torch.h>

#include <cmath>

#include "core/config/run_config.h"
#include "core/error.h"
#include "core/quant/lsq.h"
#include "core/train/keys.h"

using namespace lowbit;
using doctest::Approx;

namespace {
std::vector<double> values(const torch::Tensor& t) {
  auto f = t.detach().to(torch::kFloat64).flatten().contiguous();
  return std::vector<double>(f.data_ptr<double>(), f.data_ptr<double>() + f.numel());
}
}  // namespace

TEST_CASE("lsq weights, 2 bits: forward, the STE and step gradients with g = 1/sqrt(N Q_P), init, packing") {
  // b = 2: Q_N = 2, Q_P = 1. s = 0.5; w / s = -2.6, -1.2, -0.4, 0.2, 0.6, 1.8 -> clip to [-2, 1]
  // -> round: -2, -1, 0, 0, 1, 1 -> times s: -1, -0.5, 0, 0, 0.5, 0.5.
  auto w = torch::tensor({-1.3f, -0.6f, -0.2f, 0.1f, 0.3f, 0.9f}).view({2, 3}).requires_grad_(true);
  LsqImpl q(2, false);
  CHECK(q.qn() == 2);
  CHECK(q.qp() == 1);
  // The paper's init: 2 mean|w| / sqrt(Q_P) = 2 * 3.4 / 6 = 1.1333...
  q.init_from(w.detach());
  CHECK(q.step.item<double>() == Approx(2 * 3.4 / 6).epsilon(1e-6));
  {
    torch::NoGradGuard g;
    q.step.fill_(0.5);
  }
  auto out = q.forward(w);
  const std::vector<double> want = {-1, -0.5, 0, 0, 0.5, 0.5};
  for (size_t i = 0; i < want.size(); ++i) CHECK(values(out)[i] == Approx(want[i]).epsilon(1e-6));
  out.sum().backward();
  // dv_q/dw: 1 strictly inside (-Q_N, Q_P) in units of s, else 0.
  CHECK(values(w.grad()) == std::vector<double>{0, 1, 1, 1, 1, 0});
  // dv_q/ds: -Q_N below, round(v/s) - v/s inside (0.2, 0.4, -0.2, 0.4), Q_P above: sum -0.2,
  // times g = 1 / sqrt(6 * 1).
  CHECK(q.step.grad().item<double>() == Approx(-0.2 / std::sqrt(6.0)).epsilon(1e-6));
  StatMap s;
  q.collect_stats(w.detach(), s);
  CHECK(s[key::kSparsity] == Approx(2.0 / 6));
  CHECK(s[key::kFracPos] == Approx(2.0 / 6));
  CHECK(s[key::kFracNeg] == Approx(2.0 / 6));
  CHECK(s[key::kLevelsUsed] == 4);
  CHECK(s[key::kAlpha] == Approx(0.5));
  auto p = q.pack(w.detach());
  CHECK(p.bits == 2);
  CHECK(p.codes == std::vector<uint8_t>{0, 1, 2, 2, 3, 3});  // level + Q_N
  CHECK(p.table == std::vector<float>{-1.0f, -0.5f, 0.0f, 0.5f});
  for (size_t i = 0; i < want.size(); ++i) CHECK(p.table[p.codes[i]] == float(values(out)[i]));
}

TEST_CASE("lsq weights, per channel, 3 bits: one step per output channel, g over the channel's weights") {
  // b = 3: Q_N = 4, Q_P = 3. Channel 0: s = 0.1, w = 0.13, -0.52 -> w / s = 1.3, -5.2 -> clip
  // to [-4, 3] and round: 1, -4 -> 0.1, -0.4. Channel 1: s = 1, w = 3.7, -0.2 -> 3, 0.
  auto w = torch::tensor({0.13f, -0.52f, 3.7f, -0.2f}).view({2, 2}).requires_grad_(true);
  LsqImpl q(3, true);
  q.init_from(w.detach());  // 2 mean|w_c| / sqrt(3): 0.65 / sqrt 3, 3.9 / sqrt 3
  REQUIRE(q.step.sizes() == torch::IntArrayRef({2, 1}));
  CHECK(values(q.step)[0] == Approx(0.65 / std::sqrt(3.0)).epsilon(1e-6));
  CHECK(values(q.step)[1] == Approx(3.9 / std::sqrt(3.0)).epsilon(1e-6));
  {
    torch::NoGradGuard g;
    q.step.copy_(torch::tensor({0.1f, 1.0f}).view({2, 1}));
  }
  auto out = q.forward(w);
  const std::vector<double> want = {0.1, -0.4, 3, 0};
  for (size_t i = 0; i < want.size(); ++i) CHECK(values(out)[i] == Approx(want[i]).epsilon(1e-6));
  out.sum().backward();
  CHECK(values(w.grad()) == std::vector<double>{1, 0, 0, 1});
  // ds_0 = (1 - 1.3) + (-4) = -4.3; ds_1 = 3 + (0 - (-0.2)) = 3.2; g = 1 / sqrt(2 * 3).
  CHECK(values(q.step.grad())[0] == Approx(-4.3 / std::sqrt(6.0)).epsilon(1e-5));
  CHECK(values(q.step.grad())[1] == Approx(3.2 / std::sqrt(6.0)).epsilon(1e-6));
  auto p = q.pack(w.detach());
  CHECK(p.codes == std::vector<uint8_t>{5, 0, 7, 4});
  CHECK(p.channel_scale == std::vector<float>{0.1f, 1.0f});
  CHECK(p.table[5] * p.channel_scale[0] == float(values(out)[0]));
}

TEST_CASE("lsq: the step stays positive; 1-bit weights and scaling none are refused") {
  auto w = torch::tensor({-0.3f, 0.2f}).requires_grad_(true);
  LsqImpl q(2, false);
  {
    torch::NoGradGuard g;
    q.step.fill_(-0.5);  // where an optimizer step could take it
  }
  auto out = q.forward(w);
  CHECK(q.step.item<double>() == Approx(1e-8).epsilon(1e-6));
  CHECK(values(out)[0] == Approx(-2e-8).epsilon(1e-6));  // clipped to -Q_N s and Q_P s
  CHECK(values(out)[1] == Approx(1e-8).epsilon(1e-6));
  RunConfig c;
  apply_set(c, "quant.method=lsq");
  apply_set(c, "quant.bits=1");
  CHECK_THROWS_AS(validate(c, "x.json"), ConfigError);
  apply_set(c, "quant.bits=2");
  apply_set(c, "quant.scaling=none");
  CHECK_THROWS_WITH_AS(validate(c, "x.json"),
                       "x.json: quant.scaling: LSQ learns a step per layer or per channel; set layer or channel, not none",
                       ConfigError);
}

TEST_CASE("lsq activations, 2 bits: unsigned levels, ReLU below, init from the first training batch, both N") {
  // b = 2: Q_P = 3. s = 0.5; x / s = -0.8, 0.4, 1.4, 2.4, 4 -> clip [0, 3] -> round: 0, 0, 1, 2, 3.
  auto x = torch::tensor({-0.4f, 0.2f, 0.7f, 1.2f, 2.0f});
  for (auto count : {LsqGradCount::kFeatures, LsqGradCount::kElements}) {
    LsqActImpl a(2, count);
    a.train();
    auto first = x.view({1, 5});
    a.forward(first);  // the first training batch sets s = 2 mean(relu x) / sqrt(3)
    CHECK(a.step.item<double>() == Approx(2 * 0.82 / std::sqrt(3.0)).epsilon(1e-6));
    CHECK(a.initialized.item<double>() == 1);
    {
      torch::NoGradGuard g;
      a.step.fill_(0.5);
    }
    auto xs = x.view({5, 1}).clone().requires_grad_(true);  // a batch of 5 examples, 1 feature each
    auto out = a.forward(xs);
    CHECK(values(out) == std::vector<double>{0, 0, 0.5, 1.0, 1.5});
    CHECK(a.step.item<double>() == 0.5);  // initialised once only
    out.sum().backward();
    CHECK(values(xs.grad()) == std::vector<double>{0, 1, 1, 1, 0});
    // ds: 0 below (Q_N = 0), -0.4 three times inside, Q_P = 3 above: 1.8; N = 1 feature per
    // example (features) or 5 elements.
    const double n = count == LsqGradCount::kFeatures ? 1 : 5;
    CHECK(a.step.grad().item<double>() == Approx(1.8 / std::sqrt(n * 3)).epsilon(1e-6));
  }
  LsqActImpl eval(2, LsqGradCount::kFeatures);
  eval.eval();
  eval.forward(x.view({1, 5}));
  CHECK(eval.initialized.item<double>() == 0);  // evaluation never initialises
}
