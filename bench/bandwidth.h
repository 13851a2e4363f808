// The memory-bandwidth limit of these cores (a STREAM-like copy and triad) and small_cnn's
// passes other than the convolutions, each timed alone at the step's shapes with the bytes it
// must move (bench/bandwidth.cpp; lowbit_bench bandwidth).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lowbit::bench {

/// STREAM's copy (a = b) and triad (a = b + s c) over float arrays of `floats` elements each,
/// with LibTorch's own element-wise kernels (Tensor::copy_, at::add_out) on its threads: GB/s counting the bytes read and written (8 and 12 per
/// element, STREAM's convention), the median of 10 passes after 2 warm-ups.
struct StreamRate {
  double copy_gbs = 0, triad_gbs = 0;
};
StreamRate stream_rate(int64_t floats);

/// One pass of the step other than a convolution: what it is, the bytes it must read and
/// write at least, and its median seconds alone: repeated on the same tensors (`seconds`: in
/// the caches where they fit) and with the caches emptied before each call (`cold_seconds`:
/// from memory, as in a step whose activations outgrow the caches).
struct Pass {
  std::string name;
  double bytes = 0, seconds = 0, cold_seconds = 0;
};

/// small_cnn's batch-norm, ReLU, pooling and average passes, forward and backward, at batch
/// `batch` on channels-last activations (as lowbit's step has them on the CPU).
std::vector<Pass> small_cnn_passes(int64_t batch);

/// The largest activation of small_cnn's step at `batch`, in floats (the first convolution's
/// output): the array size at which the cache-resident bandwidth is measured.
int64_t small_cnn_largest_activation(int64_t batch);

}  // namespace lowbit::bench
