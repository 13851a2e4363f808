// What the ternary quantizers (TTQ, TWN, absmean) share: their layer statistics and their
// packed form, given where the quantized weight is positive and where negative.
#pragma once
#include "core/quant/quantizer.h"

namespace lowbit {

/// sparsity, frac_pos and frac_neg of a ternary weight: `pos` and `neg` are w_q > 0 and w_q < 0
/// (bool tensors of the weight's shape).
void ternary_stats(const torch::Tensor& pos, const torch::Tensor& neg, StatMap& out);

/// 2-bit codes, 0 -> 0, 1 -> +p, 2 -> -n, with the decode table {0, p, -n}.
PackedWeight pack_ternary(const torch::Tensor& pos, const torch::Tensor& neg, float p, float n);

}  // namespace lowbit
