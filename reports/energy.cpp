#include "reports/energy.h"

namespace lowbit {

namespace {
// Horowitz, ISSCC 2014, 45 nm (pJ).
constexpr double kF32Mul = 3.7, kF32Add = 0.9, kI8Mul = 0.2, kI32Add = 0.1;
}  // namespace

double mac_energy_pj(double weight_bits, double weight_levels, int in_bits) {
  const bool float_in = in_bits >= 32;
  if (weight_bits >= 32) return kF32Mul + kF32Add;
  if (weight_levels <= 3) return float_in ? kF32Add : kI32Add;  // binary / ternary: sign, then add
  return float_in ? kF32Mul + kF32Add : kI8Mul + kI32Add;
}

EnergyResult inference_energy(const std::vector<LayerEnergyInput>& layers) {
  EnergyResult r;
  for (const auto& l : layers) {
    LayerEnergy e;
    e.name = l.name;
    e.mac_pj = mac_energy_pj(l.weight_bits, l.weight_levels, l.in_bits);
    e.dense_pj = l.macs * e.mac_pj;
    e.weight_sparse_pj = e.dense_pj * (1.0 - l.weight_sparsity);
    e.input_sparse_pj = e.dense_pj * (1.0 - l.in_sparsity);
    e.both_sparse_pj = e.dense_pj * (1.0 - l.weight_sparsity) * (1.0 - l.in_sparsity);
    r.macs += l.macs;
    r.dense_pj += e.dense_pj;
    r.weight_sparse_pj += e.weight_sparse_pj;
    r.input_sparse_pj += e.input_sparse_pj;
    r.both_sparse_pj += e.both_sparse_pj;
    r.layers.push_back(e);
  }
  return r;
}

}  // namespace lowbit
