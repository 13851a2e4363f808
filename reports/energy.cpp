#include "reports/energy.h"

namespace lowbit {

namespace {
constexpr double kF32Mul = 3.7, kF32Add = 0.9, kI32Add = 0.1, kI8Mul = 0.2, kSram64 = 10.0;
}

double mac_energy_pj(double weight_bits, int act_bits) {
  const bool float_acts = act_bits >= 32, float_weights = weight_bits >= 32, low = weight_bits <= 2;
  if (float_acts) return low ? kF32Add : kF32Mul + kF32Add;
  if (float_weights) return kF32Mul + kF32Add;
  return low ? kI32Add : kI8Mul + kI32Add;
}

EnergyResult inference_energy(const std::vector<LayerEnergyInput>& layers, int act_bits, double act_sparsity) {
  EnergyResult r;
  for (const auto& l : layers) {
    double per_mac = mac_energy_pj(l.weight_bits, act_bits);
    double weight_keep = l.weight_bits <= 2 ? 1.0 - l.weight_sparsity : 1.0;
    double compute = l.macs * per_mac * weight_keep;
    double memory = l.weights * l.weight_bits / 64.0 * kSram64;
    r.macs += l.macs;
    r.dense_pj += compute + memory;
    r.sparse_pj += compute * (l.first ? 1.0 : 1.0 - act_sparsity) + memory;
  }
  return r;
}

}  // namespace lowbit
