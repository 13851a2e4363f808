// Every difference between the LibTorch versions lowbit builds against, in one place: Debian's
// libtorch-dev 1.13 (CPU) and the pip wheel's 2.x (CUDA; scripts/torch-pip.sh). Code elsewhere
// calls these and never tests TORCH_VERSION itself.
#pragma once
#include <string>

#include <torch/types.h>
#include <torch/version.h>
#if !(TORCH_VERSION_MAJOR >= 2)
#include <c10/util/C++17.h>
#endif

/// 1 when this LibTorch is 2.x or later.
#define LOWBIT_TORCH_2 (TORCH_VERSION_MAJOR >= 2)

namespace lowbit {

/// The LibTorch of this binary, what it was built with and the BLAS it calls (which changes
/// the last bits of a Linear layer), as runs record it (runs.torch_version):
/// "2.11.0 (CUDA 13.0, cuDNN 9.19.0; BLAS: MKL)" or "1.13.1 (CPU; BLAS: OpenBLAS 0.3.21, openmp)".
std::string libtorch_build();

/// The BLAS LibTorch's matrix products run on: "MKL" (built in), or the libblas.so.3 this
/// process loaded, named ("reference BLAS", "OpenBLAS 0.3.21, openmp", "BLIS") or its path.
std::string blas_in_use();

/// Whether this LibTorch was built with CUDA (whether or not a GPU is visible).
bool libtorch_has_cuda();

/// The GPUs this process sees (0 for a CPU LibTorch).
int visible_gpus();

/// Whether a run recorded with `stored` ran on the same LibTorch as this binary: the same
/// libtorch_build(); for runs recorded before it named CUDA and cuDNN, the same version; for
/// runs recorded before it named the BLAS, the same build string without it.
bool same_libtorch(const std::string& stored);

/// --determinism: "strict" (the default) or "fast"; anything else is a ConfigError naming it.
void check_determinism(const std::string& mode);

/// Applies --determinism `mode` to LibTorch's global settings for a run on `device`, before
/// its first CUDA call, and returns what the run records (runs.determinism). On a GPU,
/// strict: cuDNN's deterministic algorithms without benchmarking, LibTorch's deterministic
/// algorithms (warn-only: an op without one warns, and still runs), and cuBLAS's fixed
/// workspace (CUBLAS_WORKSPACE_CONFIG=:4096:8, unless already set); fast: cuDNN benchmarks
/// and picks the fastest algorithm, which may differ from run to run in its last bits. On
/// the CPU neither changes LibTorch's kernels, which give the same bits for the same thread
/// count: the record says so.
std::string set_determinism(const std::string& mode, const std::string& device);

/// The key of parameter `p` in torch::optim::Optimizer::state(): its TensorImpl's address as
/// text in LibTorch 1.13, the address itself in 2.x.
inline auto optimizer_state_key(const torch::Tensor& p) {
#if LOWBIT_TORCH_2
  return static_cast<void*>(p.unsafeGetTensorImpl());
#else
  return c10::guts::to_string(p.unsafeGetTensorImpl());
#endif
}

}  // namespace lowbit
