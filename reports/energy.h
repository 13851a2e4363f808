// One energy model per inference, applied to every method including full precision, from
// each layer's own measured input sparsity (docs/ENERGY.md has the table and its sources).
//
// Per-operation energies: Horowitz, "Computing's energy problem (and what we can do about
// it)", ISSCC 2014, 45 nm, 0.9 V: 32-bit float multiply 3.7 pJ, add 0.9 pJ; 8-bit int
// multiply 0.2 pJ; 32-bit int add 0.1 pJ.
// Per layer: E = MACs per example x (1 - s_w) x (1 - s_in) x E_mac, four ways: dense (s_w =
// s_in = 0), zero weights skipped (s_w, the fraction of zero quantized weights), zero inputs
// skipped (s_in, the measured input sparsity) and both (assuming zero weights meet zero inputs
// as often as chance). E_mac depends on the layer's weights and the bits of its input:
//   float weights:                          3.7 + 0.9 = 4.6 (float multiply-accumulate)
//   binary/ternary weights (<= 3 levels):   float input 0.9 (the multiply is a sign: a float
//                                           add); quantized input 0.1 (an int32 add)
//   k-bit weights with > 3 levels (2-bit SLB/DoReFa's 4 levels included):
//                                           float input 4.6 (dequantized float MAC);
//                                           quantized input 0.2 + 0.1 (int8 multiply, int32 add)
// Not modelled, the same for every method: the cost of detecting a zero and of a sparse
// format's index, weight and activation memory traffic.
#pragma once
#include "lowbit_room.h"  // the build refuses this header in rooms below reports/
#ifndef LOWBIT_MAY_INCLUDE_REPORTS
#error "this room may not include reports/ (docs/ARCHITECTURE.md: rooms)"
#endif
#include <string>
#include <vector>

namespace lowbit {

struct LayerEnergyInput {
  std::string name;
  double macs = 0;           ///< multiply-accumulates per example
  double weight_bits = 32;   ///< >= 32: float weights
  double weight_levels = 0;  ///< distinct weight values (3 ternary, 2 binary, 2^k k-bit)
  int in_bits = 32;          ///< bits of the layer's input: 32 float (the image), else quantized
  double in_sparsity = 0;    ///< fraction of exact zeros in the layer's input, measured
  double weight_sparsity = 0;  ///< fraction of the layer's quantized weights that are zero
};

/// Energy per example (pJ) four ways: every MAC; MACs with a zero weight skipped; MACs with a
/// zero input skipped; both.
struct EnergyWays {
  double dense_pj = 0, weight_sparse_pj = 0, input_sparse_pj = 0, both_sparse_pj = 0;
};

struct LayerEnergy : EnergyWays {
  std::string name;
  double mac_pj = 0;  ///< energy of one MAC at this layer
};

struct EnergyResult : EnergyWays {
  double macs = 0;
  std::vector<LayerEnergy> layers;
};

/// Energy of one multiply-accumulate (pJ) for the given weights and input bits.
double mac_energy_pj(double weight_bits, double weight_levels, int in_bits);

/// Sum over layers of MACs x E_mac, times (1 - s_w), (1 - s_in) or both.
EnergyResult inference_energy(const std::vector<LayerEnergyInput>& layers);

}  // namespace lowbit
