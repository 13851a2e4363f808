#include <doctest/doctest.h>
#include <torch/torch.h>

#include <sstream>

#include "core/error.h"
#include "core/models/models.h"
#include "core/quant/registry.h"
#include "core/quant/ttq.h"
#include "core/train/checkpoint.h"
#include "core/train/trainer.h"
#include "tests/test_util.h"

using namespace lowbit;
using doctest::Approx;

namespace {
// w with max|w| = 1.0: delta = 0.3 at t = 0.3.
torch::Tensor sample_w() {
  return torch::tensor({0.5, -0.2, 0.1, -1.0, 0.3, 0.8}, torch::kFloat32).view({2, 3});
}
}  // namespace

TEST_CASE("ttq: forward gives exactly {-Wn, 0, +Wp}") {
  TTQOptions o;
  o.threshold = 0.3;
  TTQImpl q(o);
  q.wp.data().fill_(1.5);
  q.wn.data().fill_(0.7);
  auto w = sample_w();
  auto out = q.forward(w);
  // 0.5 > 0.3 -> Wp; -0.2 -> 0; 0.1 -> 0; -1.0 -> -Wn; 0.3 (= delta) -> 0; 0.8 -> Wp.
  auto expect = torch::tensor({1.5f, 0.f, 0.f, -0.7f, 0.f, 1.5f}).view({2, 3});
  CHECK(torch::equal(out, expect));
  auto values = std::get<0>(torch::_unique(out));
  CHECK(values.numel() == 3);
  std::ostringstream s;
  q.pretty_print(s);
  CHECK(s.str() == "TTQ(threshold=0.3, scale_init=one)");
}

TEST_CASE("ttq: latent and scale gradients equal the hand computation") {
  TTQOptions o;
  o.threshold = 0.3;
  TTQImpl q(o);
  q.wp.data().fill_(1.5);
  q.wn.data().fill_(0.7);
  auto w = sample_w().requires_grad_(true);
  auto g = torch::tensor({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}).view({2, 3});
  (q.forward(w) * g).sum().backward();
  // dL/dw: Wp*g on the positive set, g on the zero set, Wn*g on the negative set.
  auto expect =
      torch::tensor({1.5 * 1, 2.0, 3.0, 0.7 * 4, 5.0, 1.5 * 6}).view({2, 3}).to(torch::kFloat32);
  CHECK(torch::allclose(w.grad(), expect));
  CHECK(q.wp.grad().item<double>() == Approx(1.0 + 6.0));  // sum over the positive set
  CHECK(q.wn.grad().item<double>() == Approx(-4.0));       // minus the sum over the negative set
}

TEST_CASE("ttq: the float32 CPU kernel equals the composite formula in float64") {
  // 50,000 weights: several chunks of the kernel's parallel loop. Same weights in float64 go
  // through the composite (torch::where) path. The forward and the latent gradient are single
  // products, equal to float32 rounding (1e-6 relative); the scale gradients are sums of
  // ~20,000 terms, compared within 1e-5 of the sum of |g|.
  torch::manual_seed(11);
  TTQOptions o;
  o.threshold = 0.05;
  o.normalize_latent = true;
  TTQImpl q32(o), q64(o);
  q64.to(torch::kFloat64);
  for (auto* q : {&q32, &q64}) q->wp.data().fill_(0.9), q->wn.data().fill_(1.1);
  auto w32 = torch::randn({50, 10, 10, 10}).requires_grad_(true);
  auto w64 = w32.detach().to(torch::kFloat64).requires_grad_(true);
  auto g32 = torch::randn({50, 10, 10, 10});
  auto out32 = q32.forward(w32);
  auto out64 = q64.forward(w64);
  CHECK(torch::equal(out32.to(torch::kFloat64), out64.to(torch::kFloat32).to(torch::kFloat64)));
  (out32 * g32).sum().backward();
  (out64 * g32.to(torch::kFloat64)).sum().backward();
  CHECK(torch::allclose(w32.grad().to(torch::kFloat64), w64.grad(), 1e-6, 1e-9));
  const double gsum = g32.abs().sum().item<double>();
  CHECK(std::abs(q32.wp.grad().item<double>() - q64.wp.grad().item<double>()) < 1e-5 * gsum);
  CHECK(std::abs(q32.wn.grad().item<double>() - q64.wn.grad().item<double>()) < 1e-5 * gsum);
  CHECK(q32.wp.grad().item<double>() != 0.0);
}

TEST_CASE("ttq: scale gradients match finite differences (tolerance 1e-3)") {
  TTQOptions o;
  o.threshold = 0.05;
  TTQImpl q(o);
  auto w = torch::randn({4, 3, 3, 3}, torch::kFloat64);
  auto g = torch::randn({4, 3, 3, 3}, torch::kFloat64);
  q.to(torch::kFloat64);
  q.wp.data().fill_(0.9);
  q.wn.data().fill_(1.1);
  auto loss = [&] { return (q.forward(w) * g).sum().item<double>(); };
  (q.forward(w) * g).sum().backward();
  double eps = 1e-4;
  for (auto* s : {&q.wp, &q.wn}) {
    double analytic = s->grad().item<double>();
    torch::NoGradGuard ng;
    double v = s->item<double>();
    s->fill_(v + eps);
    double up = loss();
    s->fill_(v - eps);
    double down = loss();
    s->fill_(v);
    CHECK((up - down) / (2 * eps) == Approx(analytic).epsilon(1e-3));
  }
}

TEST_CASE("ttq: scale init from the mean of each set, target sparsity, normalize_latent") {
  TTQOptions o;
  o.threshold = 0.3;
  o.scale_init = ScaleInit::kMean;
  TTQImpl q(o);
  q.init_from(sample_w());
  CHECK(q.wp.item<double>() == Approx((0.5 + 0.8) / 2));
  CHECK(q.wn.item<double>() == Approx(1.0));

  TTQOptions s;
  s.target_sparsity = 0.5;
  TTQImpl qs(s);
  // 101 distinct magnitudes k / 101, signs alternating: the 50th smallest is 50/101, so exactly
  // 50 weights are zero. (Not linspace(-1, 1, 101): whether its two 0.5s are exactly equal in
  // float32 differs between LibTorch 1.13 and 2.x, and a tie at delta makes 51 zeros.)
  auto w = torch::arange(1, 102, torch::kFloat) / 101;
  w.index_put_({torch::indexing::Slice(0, torch::indexing::None, 2)}, -w.index({torch::indexing::Slice(0, torch::indexing::None, 2)}));
  StatMap st;
  qs.collect_stats(w, st);
  CHECK(st["sparsity"] == Approx(50.0 / 101).epsilon(1e-6));

  TTQOptions n;
  n.threshold = 0.3;
  n.normalize_latent = true;
  TTQImpl qn(n);
  auto w2 = (sample_w() * 4).requires_grad_(true);  // max|w| = 4
  qn.forward(w2).sum().backward();
  // Same masks as without normalisation; latent gradient scaled by 1/4.
  auto expect = torch::tensor({1.0, 1.0, 1.0, 1.0, 1.0, 1.0}).view({2, 3}).to(torch::kFloat32) / 4;
  CHECK(torch::allclose(w2.grad(), expect));
}

TEST_CASE("ttq: per-layer thresholds land on the right layers; skip first/last by default") {
  auto m = make_model("resnet20", {3, 32, 32, 10});
  QuantConfig q;
  q.method = "ttq";
  q.threshold = nlohmann::json{{"layer3.*", 0.2}, {"layer1.0.conv1", 0.1}, {"*", 0.05}};
  auto layers = attach_quantizers(*m, q);
  CHECK(layers.size() == 18);  // 20 minus conv1 and fc
  for (auto& l : quant_layers(*m)) {
    auto ttq = std::dynamic_pointer_cast<TTQImpl>(l.layer->quantizer());
    if (l.first || l.last) {
      CHECK_MESSAGE(!l.layer->quantizer(), l.name);
      continue;
    }
    REQUIRE(ttq);
    double expect = l.name.rfind("layer3.", 0) == 0 ? 0.2 : l.name == "layer1.0.conv1" ? 0.1 : 0.05;
    CHECK_MESSAGE(ttq->options.threshold == expect, l.name);
  }
}

TEST_CASE("ttq: a per-layer key that matches no layer is a ConfigError naming it") {
  auto m = make_model("small_cnn", {1, 28, 28, 10});
  QuantConfig q;
  q.method = "ttq";
  q.threshold = nlohmann::json{{"conv9", 0.2}};
  try {
    attach_quantizers(*m, q);
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()) ==
          "quant.threshold.conv9: matches no quantized layer, did you mean 'conv2'? (quantized: "
          "conv2, conv3)");
  }
  q.threshold = 0.05;
  q.skip = {"first", "conv7"};
  CHECK_THROWS_WITH_AS(attach_quantizers(*m, q),
                       "quant.skip: 'conv7' matches no layer, did you mean 'conv1'? (layers: "
                       "conv1, conv2, conv3, fc; or first, last)",
                       ConfigError);
  q.skip = {};
  q.method = "tqq";
  CHECK_THROWS_WITH_AS(attach_quantizers(*m, q),
                       "quant.method: unknown quantizer 'tqq', did you mean 'ttq'?", ConfigError);
}

// quant.ttq.freeze_scales: the ablation of the "learning-rate multiplier" claim. Wp and Wn stay
// at their initial value (1, the official code's) through training; learned, they move. The key
// is hashed only for TTQ runs (added after hash format 1), so no other run's hash moves.
TEST_CASE("ttq: frozen scales stay at their initial value; learned ones move") {
  auto cfg = lowbit::test::tiny_config();
  cfg.quant.method = "ttq";
  cfg.epochs = 1;
  std::map<bool, CheckpointModel> trained;
  std::vector<std::unique_ptr<lowbit::test::TempDir>> dirs;
  struct Quiet : Observer {} quiet;
  for (bool freeze : {false, true}) {
    cfg.quant.ttq_freeze_scales = freeze;
    dirs.push_back(std::make_unique<lowbit::test::TempDir>());
    TrainOptions o;
    o.checkpoint_dir = dirs.back()->path;
    REQUIRE(train_run(cfg, o, quiet).status == "done");
    trained[freeze] = load_checkpoint_model(checkpoint_path(o.checkpoint_dir));
  }
  int scales = 0;
  for (auto& p : trained[true].model->named_parameters()) {
    if (p.key().find("quantizer.w") == std::string::npos) continue;
    ++scales;
    CHECK_MESSAGE(p.value().item<double>() == 1.0, p.key());  // frozen: exactly the initial 1
    CHECK_MESSAGE(trained[false].model->named_parameters()[p.key()].item<double>() != 1.0, p.key());
  }
  CHECK(scales == 4);  // Wp and Wn of small_cnn's two quantized layers
  RunConfig fp;
  fp.quant.ttq_freeze_scales = true;
  CHECK(config_hash(fp) == config_hash(RunConfig()));
  RunConfig ttq = cfg;
  ttq.quant.ttq_freeze_scales = false;
  CHECK(config_hash(ttq) != config_hash(cfg));
}
