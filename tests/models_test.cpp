#include <doctest/doctest.h>
#include <torch/torch.h>

#include <sstream>

#include "core/error.h"
#include "core/models/models.h"
#include "core/nn/qlayers.h"

using namespace lowbit;

TEST_CASE("models: output shapes on Fashion-MNIST and CIFAR shapes") {
  for (const auto& e : model_registry()) {
    for (ModelSpec s : {ModelSpec{1, 28, 28, 10}, ModelSpec{3, 32, 32, 7}}) {
      auto m = e.make(s);
      m->eval();
      auto y = m->forward(torch::randn({2, s.channels, s.height, s.width}));
      CHECK_MESSAGE(y.sizes() == torch::IntArrayRef({2, s.classes}), e.name);
    }
  }
}

TEST_CASE("models: parameter counts") {
  // small_cnn: convs 1*32*9 + 32*64*9 + 64*128*9, BN 2*(32+64+128), fc 128*10+10.
  CHECK(count_parameters(*make_model("small_cnn", {1, 28, 28, 10})) ==
        1 * 32 * 9 + 32 * 64 * 9 + 64 * 128 * 9 + 2 * (32 + 64 + 128) + 128 * 10 + 10);
  // ResNet-20 on CIFAR-10: 269,722 parameters (He et al. report ~0.27M).
  CHECK(count_parameters(*make_model("resnet20", {3, 32, 32, 10})) == 269722);
  CHECK(count_parameters(*make_model("resnet56", {3, 32, 32, 10})) == 853018);
  // VGG-Small on CIFAR-10: 4.66M conv + 8192*10+10 fc.
  int64_t vgg_convs = 9 * (3 * 128 + 128 * 128 + 128 * 256 + 256 * 256 + 256 * 512 + 512 * 512);
  int64_t vgg_bn = 2 * (128 + 128 + 256 + 256 + 512 + 512);
  CHECK(count_parameters(*make_model("vgg_small", {3, 32, 32, 10})) ==
        vgg_convs + vgg_bn + 512 * 16 * 10 + 10);
}

TEST_CASE("models: layers are named and ordered for per-layer settings") {
  auto m = make_model("resnet20", {3, 32, 32, 10});
  auto layers = quant_layers(*m);
  REQUIRE(layers.size() == 20);  // 19 convs + fc
  CHECK(layers.front().name == "conv1");
  CHECK(layers.front().first);
  CHECK(layers[3].name == "layer1.1.conv1");
  CHECK(layers[8].name == "layer2.0.conv2");
  CHECK(layers.back().name == "fc");
  CHECK(layers.back().last);
  CHECK(act_layers(*m).size() == 19);
  auto small = quant_layers(*make_model("small_cnn", {1, 28, 28, 10}));
  std::vector<std::string> names;
  for (auto& l : small) names.push_back(l.name);
  CHECK(names == std::vector<std::string>{"conv1", "conv2", "conv3", "fc"});
}

TEST_CASE("models: unknown name suggests the nearest") {
  try {
    make_model("resnet2O", {});
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()) == "unknown model 'resnet2O', did you mean 'resnet20'?");
  }
}

TEST_CASE("models: the zero counter counts exact zeros on every path") {
  // 1,000,003 values (several chunks of the CPU loop, an odd tail), channels-last, with a
  // known number of zeros: 250,001 of +0.0, 3 of -0.0 (== 0, counted), a NaN (not).
  auto x = torch::ones({1, 1000003, 1, 1});
  x.index_put_({0, torch::indexing::Slice(0, 1000003, 4)}, 0.0f);  // 250,001 zeros
  x.index_put_({0, 1}, -0.0f), x.index_put_({0, 2}, -0.0f), x.index_put_({0, 3}, -0.0f);
  x.index_put_({0, 5}, std::nanf(""));
  auto cl = x.view({1, 1000003, 1, 1}).contiguous(at::MemoryFormat::ChannelsLast);
  ZeroCounter c;
  c.start();
  c.count(cl);
  CHECK(c.stop() == doctest::Approx(250004.0 / 1000003.0).epsilon(1e-15));
  // The fallback (not dense: a strided view; not float32) adds to the same count.
  auto strided = torch::zeros({10, 10}).index({torch::indexing::Slice(), 0});  // 10 zeros
  c.start();
  c.count(torch::zeros({4}, torch::kFloat64));  // 4 zeros
  c.count(strided);
  c.count(torch::tensor({1.0f, 0.0f}));  // 1 zero
  CHECK(c.stop() == doctest::Approx(15.0 / 16.0).epsilon(1e-15));
  // All zeros, whole 4096-value blocks and a tail: every lane full in every block.
  c.start();
  c.count(torch::zeros({3 * 4096 + 7}));
  CHECK(c.stop() == 1.0);
  c.start();
  CHECK(c.stop() == 0.0);
}
