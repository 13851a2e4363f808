// One energy model per inference, applied to every method including full precision, from
// each layer's own measured input sparsity (docs/ENERGY.md has the table and its sources).
//
// Per-operation energies: Horowitz, "Computing's energy problem (and what we can do about
// it)", ISSCC 2014, 45 nm, 0.9 V: 32-bit float multiply 3.7 pJ, add 0.9 pJ; 8-bit int
// multiply 0.2 pJ; 32-bit int add 0.1 pJ.
// Per layer: E = MACs per example x (1 - input sparsity) x E_mac, where a zero input costs
// nothing and E_mac depends on the layer's weights and the bits of its input:
//   float weights:                          3.7 + 0.9 = 4.6 (float multiply-accumulate)
//   binary/ternary weights (<= 3 levels):   float input 0.9 (the multiply is a sign: a float
//                                           add); quantized input 0.1 (an int32 add)
//   k-bit weights with > 3 levels (2-bit SLB/DoReFa's 4 levels included):
//                                           float input 4.6 (dequantized float MAC);
//                                           quantized input 0.2 + 0.1 (int8 multiply, int32 add)
// Not modelled, the same for every method: weight sparsity (a zero weight still occupies its
// MAC slot), weight and activation memory traffic.
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
};

struct LayerEnergy {
  std::string name;
  double mac_pj = 0;                   ///< energy of one MAC at this layer
  double dense_pj = 0, sparse_pj = 0;  ///< per example: dense input, measured input sparsity
};

struct EnergyResult {
  double macs = 0;
  double dense_pj = 0, sparse_pj = 0;  ///< per inference (one example)
  std::vector<LayerEnergy> layers;
};

/// Energy of one multiply-accumulate (pJ) for the given weights and input bits.
double mac_energy_pj(double weight_bits, double weight_levels, int in_bits);

/// Sum over layers of MACs x (1 - s_in) x E_mac (sparse) and MACs x E_mac (dense).
EnergyResult inference_energy(const std::vector<LayerEnergyInput>& layers);

}  // namespace lowbit
