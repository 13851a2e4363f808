// Activation quantizers, used at the Act positions (in place of ReLU) for W/A settings.
//  sign: y = sign(x) (+1 at 0), gradient g * 1{|x| <= 1} (clipped STE, as in BNN/XNOR).
//  dorefa: y = round_k(clamp(x, 0, 1)), gradient g * 1{0 <= x <= 1}.
//  pact (Choi et al. 2018): y = round_k(clamp(x, 0, alpha) / alpha) * alpha with a learned
//    clip alpha; dL/dx = g * 1{0 <= x < alpha}, dL/dalpha = sum of g * 1{x >= alpha} + the
//    rounding's straight-through part.
#pragma once
#include "core/quant/quantizer.h"

namespace lowbit {

class SignActImpl : public ActQuantizer {
 public:
  /// x: any shape -> {-1, +1}, same shape.
  torch::Tensor forward(const torch::Tensor& x) override;
  int activation_bits() const override { return 1; }
  std::string describe() const override { return "SignAct()"; }
};

class DoReFaActImpl : public ActQuantizer {
 public:
  explicit DoReFaActImpl(int bits);
  /// x: any shape -> k-bit levels in [0, 1], same shape.
  torch::Tensor forward(const torch::Tensor& x) override;
  int activation_bits() const override { return bits; }
  std::string describe() const override { return "DoReFaAct(bits=" + std::to_string(bits) + ")"; }
  int bits;
};

class PACTImpl : public ActQuantizer {
 public:
  PACTImpl(int bits, double clip);
  /// x: any shape -> k-bit levels in [0, alpha], same shape.
  torch::Tensor forward(const torch::Tensor& x) override;
  int activation_bits() const override { return bits; }
  std::string describe() const override;
  int bits;
  torch::Tensor alpha;  ///< learned clip, shape {1}
};

}  // namespace lowbit
