// The allocator setting every lowbit binary starts with (apps/front/main.cpp, apps/torch/main.cpp, bench/bench.cpp).
#pragma once
#include <cstdlib>  // defines __GLIBC__ on glibc
#include <string>
#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace lowbit {

/// LibTorch allocates and frees activation buffers of several MiB on every batch. glibc
/// serves those with mmap and gives them back at free, so every batch page-faults its buffers
/// in again. Keeping them on the heap (no mmap and no trim below 1 GiB) lets the next batch
/// reuse the pages: an evaluation pass over the 10,000 Fashion-MNIST test images run as
/// batches of 1000 fell from 5.2 to 2.8 s on 2 cores, median of 3 (bench/results/allocator.md
/// at commit 2e827af). The CPU evaluation now runs 128 examples at a time, where the setting
/// makes little difference (1.04 against 1.07 s, the current allocator.md).
/// LOWBIT_DEFAULT_MALLOC=1 keeps glibc's defaults (bench/allocator.sh compares the two). No
/// effect off glibc.
inline void tune_allocator() {
#ifdef __GLIBC__
  const char* keep = std::getenv("LOWBIT_DEFAULT_MALLOC");
  if (keep && std::string(keep) == "1") return;
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 64 << 20);
#endif
}

}  // namespace lowbit
