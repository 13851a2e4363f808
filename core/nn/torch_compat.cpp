#include "core/nn/torch_compat.h"

#include <ATen/detail/CUDAHooksInterface.h>
#include <fmt/format.h>

namespace lowbit {

std::string libtorch_build() {
  if (!libtorch_has_cuda()) return std::string(TORCH_VERSION) + " (CPU)";
  const auto& hooks = at::detail::getCUDAHooks();
  const long cudart = hooks.versionCUDART();  // major * 1000 + minor * 10
  std::string out = fmt::format("{} (CUDA {}.{}", TORCH_VERSION, cudart / 1000, cudart % 1000 / 10);
  if (hooks.compiledWithCuDNN()) {
    const long cudnn = hooks.versionCuDNN();  // cuDNN 9: major * 10000 + minor * 100 + patch
    out += cudnn >= 10000 ? fmt::format(", cuDNN {}.{}.{}", cudnn / 10000, cudnn % 10000 / 100, cudnn % 100)
                          : fmt::format(", cuDNN {}.{}.{}", cudnn / 1000, cudnn % 1000 / 100, cudnn % 100);
  }
  return out + ")";
}

bool libtorch_has_cuda() {
  try {
    at::detail::getCUDAHooks().versionCUDART();  // a CPU LibTorch's default hooks throw
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

bool same_libtorch(const std::string& stored) {
  const std::string now = libtorch_build();
  return stored == now || (stored.find(' ') == std::string::npos && now.rfind(stored + " (", 0) == 0);
}

}  // namespace lowbit
