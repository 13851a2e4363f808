// The GPU path against the CPU's. Every case marked `gpu` needs a visible GPU: without one
// doctest reports it skipped (not passed), and scripts/gpu-check.sh runs them on a lent GPU
// machine with `-tc='gpu:*'`. The rest check, on any machine, what the GPU path is built from.
#include <doctest/doctest.h>

#include <torch/torch.h>

#include "core/config/run_config.h"
#include "core/error.h"
#include "core/data/dataset.h"
#include "core/nn/torch_compat.h"
#include "core/train/trainer.h"
#include "tests/test_util.h"

using namespace lowbit;
using namespace lowbit::test;

namespace {

bool no_gpu() { return !torch::cuda::is_available(); }

struct Metrics : Observer {
  std::vector<std::map<std::string, double>> epochs;
  void on_epoch_end(const EpochEvent& e) override { epochs.push_back(e.metrics); }
};

// A CIFAR-shaped bundle with augmentation on: 3 x 32 x 32, pad-crop and flip.
DataBundle cifar_shaped(int64_t n) {
  DataBundle b;
  b.name = "synthetic";
  b.train = make_synthetic(n, 3, 32, 10, 0.5, 7);
  b.channels = 3, b.height = 32, b.width = 32, b.classes = 10;
  b.mean = {0.5, 0.5, 0.5}, b.std = {0.2, 0.2, 0.2};
  b.augment = true;
  return b;
}

}  // namespace

TEST_CASE("determinism: what a run records, and a mode that does not exist") {
  CHECK(set_determinism("strict", "cpu") ==
        "strict: cpu (the same bits for the same thread count; the setting changes nothing here)");
  CHECK(set_determinism("fast", "cpu").rfind("fast: cpu", 0) == 0);
  CHECK(error_message<ConfigError>([] { set_determinism("exact", "cpu"); }) ==
        "--determinism exact: expected strict (the default: the same bits on the same GPU) or fast (cuDNN "
        "benchmarks its algorithms)");
}

TEST_CASE("data: place_on moves every split once; a second call copies nothing") {
  DataBundle b = cifar_shaped(20);
  b.test = make_synthetic(6, 3, 32, 10, 0.5, 8);
  const void* before = b.train.images.data_ptr();
  place_on(b, torch::kCPU);
  CHECK(b.train.images.data_ptr() == before);
  CHECK(!b.val.images.defined());  // an absent split stays absent
}

TEST_CASE("gpu: the loader on the GPU gives the CPU's batches, augmentation included" *
          doctest::skip(no_gpu())) {
  DataBundle cpu = cifar_shaped(300), gpu = cpu;
  place_on(gpu, torch::kCUDA);
  REQUIRE(gpu.train.images.is_cuda());
  BatchLoader a(cpu, cpu.train, 128, true, 5, 2, torch::kCPU), b(gpu, gpu.train, 128, true, 5, 2, torch::kCUDA);
  for (int64_t i = 0; i < a.num_batches(); ++i) {
    auto [xa, ya] = a.batch(i);
    auto [xb, yb] = b.batch(i);
    CHECK(xb.is_cuda());
    CHECK(torch::equal(ya, yb.cpu()));
    // Elementwise float ops, each correctly rounded on both: the same values.
    CHECK(torch::allclose(xa, xb.cpu(), /*rtol=*/0, /*atol=*/1e-6));
  }
}

TEST_CASE("gpu: a short run on the GPU matches the CPU's within a stated tolerance, per method" *
          doctest::skip(no_gpu())) {
  // Tolerance: cuDNN's convolutions (TF32 where LibTorch allows it) and reductions round
  // differently from the CPU's; after 2 epochs of 3 steps the losses agree to 0.02 and the
  // accuracies to 3 of 48 test images. Larger differences are a bug in the device path.
  for (const char* method : {"fp", "ttq", "slb"}) {
    RunConfig c = tiny_config();
    apply_set(c, std::string("quant.method=") + method);
    Metrics on_cpu, on_gpu;
    TrainOptions cpu, gpu;
    gpu.device = "cuda";
    CHECK(train_run(c, cpu, on_cpu).status == RunStatus::kDone);
    CHECK(train_run(c, gpu, on_gpu).status == RunStatus::kDone);
    REQUIRE(on_gpu.epochs.size() == on_cpu.epochs.size());
    for (size_t e = 0; e < on_cpu.epochs.size(); ++e) {
      INFO(method, " epoch ", e + 1);
      CHECK(on_gpu.epochs[e].at("train_loss") == doctest::Approx(on_cpu.epochs[e].at("train_loss")).epsilon(0.02));
      CHECK(std::abs(on_gpu.epochs[e].at("test_acc") - on_cpu.epochs[e].at("test_acc")) <= 3.0 / 48 + 1e-9);
    }
  }
}

TEST_CASE("gpu: a NaN loss on the GPU ends the run as diverged, naming the first bad batch" *
          doctest::skip(no_gpu())) {
  RunConfig c = tiny_config();
  c.optim.lr = 1e30, c.optim.momentum = 0, c.optim.schedule = LrSchedule::kConstant;
  Metrics m;
  TrainOptions o;
  o.device = "cuda";
  auto r = train_run(c, o, m);
  CHECK(r.status == RunStatus::kDiverged);
  CHECK_MESSAGE(r.error.rfind("loss is NaN or Inf at epoch 1, batch ", 0) == 0, r.error);
}

TEST_CASE("gpu: strict determinism sets cuDNN's switches, and two runs give the same bits" *
          doctest::skip(no_gpu())) {
  const std::string rec = set_determinism("strict", "cuda");
  CHECK_MESSAGE(rec.rfind("strict: cudnn.deterministic=1 cudnn.benchmark=0 deterministic_algorithms=warn_only", 0) == 0,
                rec);
  RunConfig c = tiny_config();
  apply_set(c, "quant.method=ttq");
  Metrics a, b;
  TrainOptions o;
  o.device = "cuda";
  train_run(c, o, a);
  train_run(c, o, b);
  REQUIRE(a.epochs.size() == b.epochs.size());
  for (size_t e = 0; e < a.epochs.size(); ++e) {
    CHECK(a.epochs[e].at("train_loss") == b.epochs[e].at("train_loss"));
    CHECK(a.epochs[e].at("test_acc") == b.epochs[e].at("test_acc"));
  }
  CHECK(set_determinism("fast", "cuda").rfind("fast: cudnn.deterministic=0 cudnn.benchmark=1", 0) == 0);
  set_determinism("strict", "cuda");
}
