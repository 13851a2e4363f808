// One energy model per inference, applied to every method including full precision.
//
// Per-operation energies: Horowitz, "Computing's energy problem (and what we can do about
// it)", ISSCC 2014, 45 nm, 0.9 V:
//   32-bit float: multiply 3.7 pJ, add 0.9 pJ      16-bit float: multiply 1.1 pJ, add 0.4 pJ
//   32-bit int:   multiply 3.1 pJ, add 0.1 pJ      8-bit int:    multiply 0.2 pJ, add 0.03 pJ
//   SRAM read of 64 bits from an 8 KB array: 10 pJ
// Model, per layer: MACs per example x energy per MAC x (1 - input activation sparsity)
// x (1 - weight sparsity, ternary only: a zero weight needs no operation), plus reading
// every weight once: weights x bits / 64 x 10 pJ. Energy per MAC:
//   float activations: float weights 3.7 + 0.9; binary/ternary weights 0.9 (the multiply is a
//     sign, only the add remains); k-bit weights (k >= 3) 3.7 + 0.9 (dequantized)
//   activations quantized to <= 8 bits: float weights 3.7 + 0.9; k-bit weights 0.2 + 0.1
//     (int8 multiply, int32 accumulate); binary/ternary weights 0.1 (int32 add)
// Input sparsity: the network-mean activation sparsity measured on the test set, for every
// layer but the first (whose input is the dense image); "dense" sets it to 0. Activation
// memory traffic is not modelled. These are stated approximations, the same for every method.
#pragma once
#include <map>
#include <string>
#include <vector>

namespace lowbit {

struct LayerEnergyInput {
  std::string name;
  double macs = 0, weights = 0, weight_bits = 32, weight_sparsity = 0;
  bool first = false;
};

struct EnergyResult {
  double macs = 0;
  double dense_pj = 0, sparse_pj = 0;  ///< per inference (one example)
};

/// act_bits: 32 for float activations, else the activation quantizer's bits.
EnergyResult inference_energy(const std::vector<LayerEnergyInput>& layers, int act_bits, double act_sparsity);

/// Energy of one multiply-accumulate (pJ) for the given weight and activation bits.
double mac_energy_pj(double weight_bits, int act_bits);

}  // namespace lowbit
