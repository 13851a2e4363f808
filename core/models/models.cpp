#include "core/models/models.h"

#include <torch/nn/functional.h>
#include <torch/nn/modules/container/sequential.h>

#include "core/error.h"
#include "core/nn/qlayers.h"
#include "core/nn/state_bn.h"
#include "core/util.h"

namespace lowbit {
namespace {

namespace F = torch::nn::functional;

// The layer factory: every model creates its layers through these, under their names.
std::shared_ptr<QConv2dImpl> conv(torch::nn::Module& parent, const std::string& name, int64_t in,
                                  int64_t out, int64_t k, int64_t stride = 1, int64_t pad = 1) {
  return parent.register_module(
      name, std::make_shared<QConv2dImpl>(QConv2dOptions{in, out, k, stride, pad, false}));
}
std::shared_ptr<QLinearImpl> linear(torch::nn::Module& parent, const std::string& name, int64_t in,
                                    int64_t out) {
  return parent.register_module(name, std::make_shared<QLinearImpl>(in, out, true));
}
std::shared_ptr<StateBatchNormImpl> bn(torch::nn::Module& parent, const std::string& name,
                                       int64_t c) {
  return parent.register_module(name, std::make_shared<StateBatchNormImpl>(c));
}
std::shared_ptr<ActImpl> act(torch::nn::Module& parent, const std::string& name) {
  return parent.register_module(name, std::make_shared<ActImpl>());
}

// conv(in->32)-BN-ReLU-maxpool2; conv(32->64)-BN-ReLU-maxpool2; conv(64->128)-BN-ReLU-GAP; fc.
class SmallCnn : public Network {
 public:
  explicit SmallCnn(const ModelSpec& s) {
    conv1 = conv(*this, "conv1", s.channels, 32, 3), bn1 = bn(*this, "bn1", 32),
    act1 = act(*this, "act1");
    conv2 = conv(*this, "conv2", 32, 64, 3), bn2 = bn(*this, "bn2", 64), act2 = act(*this, "act2");
    conv3 = conv(*this, "conv3", 64, 128, 3), bn3 = bn(*this, "bn3", 128),
    act3 = act(*this, "act3");
    fc = linear(*this, "fc", 128, s.classes);
  }
  torch::Tensor forward(torch::Tensor x) override {
    x = F::max_pool2d(act1->forward(bn1->forward(conv1->forward(x))), F::MaxPool2dFuncOptions(2));
    x = F::max_pool2d(act2->forward(bn2->forward(conv2->forward(x))), F::MaxPool2dFuncOptions(2));
    x = act3->forward(bn3->forward(conv3->forward(x)));  // (B, 128, H/4, W/4)
    return fc->forward(x.mean({2, 3}));                  // (B, classes)
  }
  std::shared_ptr<QConv2dImpl> conv1, conv2, conv3;
  std::shared_ptr<StateBatchNormImpl> bn1, bn2, bn3;
  std::shared_ptr<ActImpl> act1, act2, act3;
  std::shared_ptr<QLinearImpl> fc;
};

// He et al. 2016 CIFAR basic block with option-A shortcut (stride-2 subsampling, zero
// padding of the new channels): no parameters in the shortcut.
class BasicBlock : public torch::nn::Module {
 public:
  BasicBlock(int64_t in, int64_t out, int64_t stride) : in_(in), out_(out), stride_(stride) {
    conv1 = conv(*this, "conv1", in, out, 3, stride), bn1 = bn(*this, "bn1", out),
    act1 = act(*this, "act1");
    conv2 = conv(*this, "conv2", out, out, 3), bn2 = bn(*this, "bn2", out),
    act2 = act(*this, "act2");
  }
  torch::Tensor forward(torch::Tensor x) {
    auto y = act1->forward(bn1->forward(conv1->forward(x)));
    y = bn2->forward(conv2->forward(y));
    auto shortcut = x;
    if (stride_ != 1 || in_ != out_) {
      using torch::indexing::Slice;
      shortcut =
          x.index({Slice(), Slice(), Slice(torch::indexing::None, torch::indexing::None, stride_),
                   Slice(torch::indexing::None, torch::indexing::None, stride_)});
      int64_t pad = out_ - in_;
      shortcut = torch::constant_pad_nd(shortcut, {0, 0, 0, 0, pad / 2, pad - pad / 2}, 0);
    }
    return act2->forward(y + shortcut);
  }
  std::shared_ptr<QConv2dImpl> conv1, conv2;
  std::shared_ptr<StateBatchNormImpl> bn1, bn2;
  std::shared_ptr<ActImpl> act1, act2;

 private:
  int64_t in_, out_, stride_;
};

class CifarResNet : public Network {
 public:
  CifarResNet(const ModelSpec& s, int depth) {
    TORCH_CHECK((depth - 2) % 6 == 0, "CifarResNet: depth must be 6n+2");
    int n = (depth - 2) / 6;
    conv1 = conv(*this, "conv1", s.channels, 16, 3), bn1 = bn(*this, "bn1", 16),
    act1 = act(*this, "act1");
    int64_t in = 16;
    const int64_t widths[3] = {16, 32, 64};
    for (int stage = 0; stage < 3; ++stage) {
      auto seq = register_module("layer" + std::to_string(stage + 1), torch::nn::Sequential());
      for (int b = 0; b < n; ++b) {
        int64_t stride = (stage > 0 && b == 0) ? 2 : 1;
        auto block = std::make_shared<BasicBlock>(in, widths[stage], stride);
        seq->push_back(std::to_string(b), block);  // name: layerS.B
        blocks.push_back(block);
        in = widths[stage];
      }
    }
    fc = linear(*this, "fc", 64, s.classes);
  }
  torch::Tensor forward(torch::Tensor x) override {
    x = act1->forward(bn1->forward(conv1->forward(x)));
    for (auto& b : blocks) x = b->forward(x);
    return fc->forward(x.mean({2, 3}));  // (B, classes)
  }
  std::shared_ptr<QConv2dImpl> conv1;
  std::shared_ptr<StateBatchNormImpl> bn1;
  std::shared_ptr<ActImpl> act1;
  std::vector<std::shared_ptr<BasicBlock>> blocks;
  std::shared_ptr<QLinearImpl> fc;
};

// VGG-Small (LQ-Nets, SLB): 128-128-M-256-256-M-512-512-M-FC. As in LQ-Nets' code the
// pooling comes before BN and ReLU in the blocks that pool.
class VggSmall : public Network {
 public:
  explicit VggSmall(const ModelSpec& s) {
    const int64_t widths[6] = {128, 128, 256, 256, 512, 512};
    int64_t in = s.channels, h = s.height, w = s.width;
    for (int i = 0; i < 6; ++i) {
      std::string k = std::to_string(i + 1);
      convs.push_back(conv(*this, "conv" + k, in, widths[i], 3));
      bns.push_back(bn(*this, "bn" + k, widths[i]));
      acts.push_back(act(*this, "act" + k));
      in = widths[i];
      if (i % 2 == 1) h /= 2, w /= 2;
    }
    TORCH_CHECK(h > 0 && w > 0, "vgg_small: input too small for three 2x2 poolings");
    fc = linear(*this, "fc", 512 * h * w, s.classes);
  }
  torch::Tensor forward(torch::Tensor x) override {
    for (size_t i = 0; i < convs.size(); ++i) {
      x = convs[i]->forward(x);
      if (i % 2 == 1) x = F::max_pool2d(x, F::MaxPool2dFuncOptions(2));
      x = acts[i]->forward(bns[i]->forward(x));
    }
    return fc->forward(x.flatten(1));  // (B, classes)
  }
  std::vector<std::shared_ptr<QConv2dImpl>> convs;
  std::vector<std::shared_ptr<StateBatchNormImpl>> bns;
  std::vector<std::shared_ptr<ActImpl>> acts;
  std::shared_ptr<QLinearImpl> fc;
};

}  // namespace

const std::vector<ModelEntry>& model_registry() {
  static const std::vector<ModelEntry> registry = {
      {"small_cnn", [](const ModelSpec& s) { return std::make_shared<SmallCnn>(s); }},
      {"resnet20", [](const ModelSpec& s) { return std::make_shared<CifarResNet>(s, 20); }},
      {"resnet32", [](const ModelSpec& s) { return std::make_shared<CifarResNet>(s, 32); }},
      {"resnet44", [](const ModelSpec& s) { return std::make_shared<CifarResNet>(s, 44); }},
      {"resnet56", [](const ModelSpec& s) { return std::make_shared<CifarResNet>(s, 56); }},
      {"vgg_small", [](const ModelSpec& s) { return std::make_shared<VggSmall>(s); }},
  };
  return registry;
}

std::shared_ptr<Network> make_model(const std::string& name, const ModelSpec& spec) {
  std::vector<std::string> names;
  for (const auto& e : model_registry()) {
    if (e.name == name) return e.make(spec);
    names.push_back(e.name);
  }
  throw ConfigError("unknown model '" + name + "'" + did_you_mean(name, names));
}

int64_t count_parameters(torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters())
    if (p.requires_grad()) n += p.numel();
  return n;
}

}  // namespace lowbit
