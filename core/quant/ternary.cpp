#include "core/quant/ternary.h"

#include "core/train/keys.h"

namespace lowbit {

void ternary_stats(const torch::Tensor& pos, const torch::Tensor& neg, StatMap& out) {
  const double n = double(pos.numel());
  const double p = pos.sum().item<double>() / n, m = neg.sum().item<double>() / n;
  out[key::kSparsity] = 1.0 - p - m;
  out[key::kFracPos] = p;
  out[key::kFracNeg] = m;
}

PackedWeight pack_ternary(const torch::Tensor& pos, const torch::Tensor& neg, float p, float n) {
  auto codes = (pos.to(torch::kUInt8) + 2 * neg.to(torch::kUInt8)).flatten().contiguous().cpu();
  PackedWeight out;
  out.bits = 2;
  out.codes.assign(codes.data_ptr<uint8_t>(), codes.data_ptr<uint8_t>() + codes.numel());
  out.table = {0.0f, p, -n};
  return out;
}

}  // namespace lowbit
