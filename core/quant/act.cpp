#include "core/quant/act.h"

#include <fmt/format.h>

#include "core/quant/ste.h"

namespace lowbit {

torch::Tensor SignActImpl::forward(const torch::Tensor& x) {
  auto q =
      torch::where(x >= 0, torch::ones({}, x.options()), -torch::ones({}, x.options())).detach();
  auto clipped = x.clamp(-1, 1);
  return q + (clipped - clipped.detach());
}

DoReFaActImpl::DoReFaActImpl(int b) : bits(b) {
  TORCH_CHECK(bits >= 1 && bits <= 8, "DoReFaAct: bits must be in 1..8");
}

torch::Tensor DoReFaActImpl::forward(const torch::Tensor& x) {
  return round_ste(x.clamp(0, 1), bits);
}

PACTImpl::PACTImpl(int b, double clip) : bits(b) {
  TORCH_CHECK(bits >= 1 && bits <= 8, "PACT: bits must be in 1..8");
  TORCH_CHECK(clip > 0, "PACT: clip must be positive");
  alpha = register_parameter("alpha", torch::full({1}, clip));
}

torch::Tensor PACTImpl::forward(const torch::Tensor& x) {
  // clamp(x, 0, alpha) written so that autograd gives dalpha = g where x >= alpha.
  auto y = x.clamp_min(0) - (x - alpha).clamp_min(0);
  return round_ste(y / alpha, bits) * alpha;
}

std::string PACTImpl::describe() const {
  return fmt::format("PACT(bits={}, alpha={:.4g})", bits, alpha.item<double>());
}

}  // namespace lowbit
