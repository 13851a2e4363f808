// The packed model format (.lbt) and its loader. Quantized layers are stored as bit-packed
// codes (2 bits per ternary weight, 1 per binary, k per k-bit) plus a per-layer decode table
// (and per-channel scales where the quantizer has them); everything else (batch norm,
// full-precision layers, activation clips) as float32. The loader rebuilds the network from
// the config in the header with the decoded weights in place, so its forward pass computes
// exactly what the trained quantized network computed.
//
// Layout: "LOWBIT01" | u64 header length | header JSON | payload. The header lists every
// blob with its offset and length in the payload.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config/run_config.h"
#include "core/models/models.h"
#include "core/nn/state_bn.h"

namespace lowbit {

/// Packs codes (each < 2^bits) LSB-first into bytes.
std::vector<uint8_t> pack_bits(const std::vector<uint8_t>& codes, int bits);
/// Inverse of pack_bits for `n` codes.
std::vector<uint8_t> unpack_bits(const std::vector<uint8_t>& bytes, int bits, size_t n);

struct ExportStats {
  int64_t float_bytes = 0;   ///< the same network with every parameter in float32
  int64_t packed_bytes = 0;  ///< the .lbt file
  int64_t packed_layers = 0;
  int64_t packed_weights = 0;
};

/// Writes `model` (built for `cfg` and `spec`, quantizers attached) to `path`.
/// `bn_state`: the batch-norm statistics evaluation uses (see BNState).
ExportStats export_model(Network& model, const RunConfig& cfg, const ModelSpec& spec,
                         BNState bn_state, const std::string& path);

/// The size in bytes of the .lbt file export_model would write: the summary's
/// packed_model_bytes. nullopt when a quantized layer cannot be packed.
std::optional<int64_t> packed_model_bytes(Network& model, const RunConfig& cfg,
                                          const ModelSpec& spec, BNState bn_state);

/// A network rebuilt from a .lbt file, ready for evaluation.
struct LoadedModel {
  RunConfig config;
  ModelSpec spec;
  std::shared_ptr<Network> model;
};

/// Reads a .lbt file; throws DataError naming the file when it is not one or is truncated.
LoadedModel load_packed_model(const std::string& path);

}  // namespace lowbit
