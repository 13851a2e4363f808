#include "core/nn/torch_compat.h"

#include <ATen/Context.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/cuda.h>
#include <fmt/format.h>

#include <dlfcn.h>
#include <stdlib.h>

#include <cstdlib>
#include <fstream>

#include "core/error.h"
#include "core/util.h"

namespace lowbit {

std::string blas_in_use() {
  if (at::hasMKL()) return "MKL";
  // The libblas.so.3 this process loaded: Debian's alternatives pick it (reference BLAS,
  // OpenBLAS in its pthread, OpenMP or serial build, BLIS).
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    const size_t at = line.find('/');
    if (at == std::string::npos || line.find("libblas.so") == std::string::npos) continue;
    char real[4096];
    const std::string path = ::realpath(line.substr(at).c_str(), real) ? real : line.substr(at);
    if (path.find("openblas") != std::string::npos) {
      using Config = char* (*)();
      auto config = reinterpret_cast<Config>(::dlsym(RTLD_DEFAULT, "openblas_get_config"));
      std::string name = "OpenBLAS";
      if (config && config()) {  // "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64"
        const auto words = split(config(), ' ');
        if (words.size() > 1) name = words[0] + " " + words[1];
      }
      for (const char* v : {"openmp", "pthread", "serial"})
        if (path.find(std::string("openblas-") + v) != std::string::npos) return name + ", " + v;
      return name;
    }
    if (path.find("blis") != std::string::npos) return "BLIS";
    if (path.find("/blas/") != std::string::npos) return "reference BLAS";
    return path;
  }
  return "none loaded";
}

std::string libtorch_build() {
  if (!libtorch_has_cuda()) return std::string(TORCH_VERSION) + " (CPU; BLAS: " + blas_in_use() + ")";
  const auto& hooks = at::detail::getCUDAHooks();
  const long cudart = hooks.versionCUDART();  // major * 1000 + minor * 10
  std::string out = fmt::format("{} (CUDA {}.{}", TORCH_VERSION, cudart / 1000, cudart % 1000 / 10);
  if (hooks.compiledWithCuDNN()) {
    const long cudnn = hooks.versionCuDNN();  // cuDNN 9: major * 10000 + minor * 100 + patch
    out += cudnn >= 10000 ? fmt::format(", cuDNN {}.{}.{}", cudnn / 10000, cudnn % 10000 / 100, cudnn % 100)
                          : fmt::format(", cuDNN {}.{}.{}", cudnn / 1000, cudnn % 1000 / 100, cudnn % 100);
  }
  return out + "; BLAS: " + blas_in_use() + ")";
}

bool libtorch_has_cuda() {
  try {
    at::detail::getCUDAHooks().versionCUDART();  // a CPU LibTorch's default hooks throw
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

void check_determinism(const std::string& mode) {
  if (mode != "strict" && mode != "fast")
    throw ConfigError("--determinism " + mode +
                      ": expected strict (the default: the same bits on the same GPU) or fast (cuDNN "
                      "benchmarks its algorithms)");
}

std::string set_determinism(const std::string& mode, const std::string& device) {
  check_determinism(mode);
  const bool strict = mode == "strict";
  if (device.rfind("cuda", 0) != 0)
    return mode + ": cpu (the same bits for the same thread count; the setting changes nothing here)";
  if (strict) ::setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", /*overwrite=*/0);
  auto& ctx = at::globalContext();
  ctx.setDeterministicCuDNN(strict);
  ctx.setBenchmarkCuDNN(!strict);
  ctx.setDeterministicAlgorithms(strict, /*warn_only=*/true);
  const char* ws = std::getenv("CUBLAS_WORKSPACE_CONFIG");
  // TF32 (LibTorch's defaults: on for cuDNN's convolutions, off for cuBLAS's matrix products)
  // is deterministic but rounds products to 10 bits of mantissa: recorded, left as LibTorch has it.
  return fmt::format("{}: cudnn.deterministic={} cudnn.benchmark={} deterministic_algorithms={} "
                     "CUBLAS_WORKSPACE_CONFIG={} cudnn.allow_tf32={} cublas.allow_tf32={}",
                     mode, int(ctx.deterministicCuDNN()), int(ctx.benchmarkCuDNN()),
                     ctx.deterministicAlgorithms() ? "warn_only" : "off", ws ? ws : "(unset)",
                     int(ctx.allowTF32CuDNN()), int(ctx.allowTF32CuBLAS()));
}

int visible_gpus() { return libtorch_has_cuda() ? int(torch::cuda::device_count()) : 0; }

bool same_libtorch(const std::string& stored) {
  const std::string now = libtorch_build();
  if (stored == now) return true;
  if (stored.find(' ') == std::string::npos) return now.rfind(stored + " (", 0) == 0;  // a version alone
  // Recorded before the BLAS was named: "1.13.1 (CPU)" is the same build whatever BLAS it had.
  const size_t blas = now.find("; BLAS: ");
  return stored.find("; BLAS: ") == std::string::npos && blas != std::string::npos && stored == now.substr(0, blas) + ")";
}

}  // namespace lowbit
