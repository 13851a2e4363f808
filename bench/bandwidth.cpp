#include "bench/bandwidth.h"

#include "bench/timing.h"

#include <ATen/ATen.h>

#include <functional>

namespace lowbit::bench {
namespace {

// Writes 256 MiB, which evicts from the caches whatever a pass would find there.
void evict_caches() {
  static at::Tensor junk = at::empty({int64_t(64) << 20});
  junk.fill_(1.0f);
}

// A pass timed both ways: repeated on the same tensors (in cache where they fit) and cold.
Pass timed(const std::string& name, double bytes, const std::function<void()>& f) {
  return {name, bytes, median_seconds(f, 2, 10), median_seconds(f, 1, 10, evict_caches)};
}

// small_cnn at 28x28: each convolution's output channels and side, and whether a 2x2 max
// pool follows it (else the global average).
struct Stage {
  int64_t channels, side;
  bool pool;
};
constexpr Stage kStages[] = {{32, 28, true}, {64, 14, true}, {128, 7, false}};

// The passes of one stage on an activation of n = batch * channels * side^2 floats. Bytes are
// the least each pass moves as the algorithm it runs is built: batch norm's forward reads its
// input twice (the statistics, then the normalisation) and writes once (12 n); its backward
// reads the gradient and the input for the reductions and again for the input gradient, which
// it writes (20 n); ReLU reads one tensor and writes one (8 n), its backward reads two (12 n);
// the 2x2 max pool reads n floats and writes n/4 values and n/4 int64 indices (7 n), its
// backward reads those and writes n floats (7 n); the average reads n (4 n) and its backward
// writes n (4 n).
void add_stage(std::vector<Pass>& out, int64_t batch, const Stage& s) {
  const auto cl = at::MemoryFormat::ChannelsLast;
  const auto x = at::randn({batch, s.channels, s.side, s.side}).contiguous(cl);
  const double n = double(x.numel());
  const auto w = at::ones({s.channels}), b = at::zeros({s.channels});
  const auto rm = at::zeros({s.channels}), rv = at::ones({s.channels});
  const std::string shape = "[" + std::to_string(s.channels) + "x" + std::to_string(s.side) + "x" +
                         std::to_string(s.side) + "]";
  const auto bn = at::native_batch_norm(x, w, b, rm, rv, true, 0.1, 1e-5);
  const auto &y = std::get<0>(bn), &save_mean = std::get<1>(bn), &save_invstd = std::get<2>(bn);
  const auto r = at::relu(y);
  const auto g = at::randn_like(x);
  out.push_back(timed("batch norm forward " + shape, 12 * n,
                      [&] { at::native_batch_norm(x, w, b, rm, rv, true, 0.1, 1e-5); }));
  out.push_back(timed("ReLU forward " + shape, 8 * n, [&] { at::relu(y); }));
  if (s.pool) {
    const auto pooled = at::max_pool2d_with_indices(r, {2, 2}, {2, 2}, {0, 0}, {1, 1}, false);
    const auto& idx = std::get<1>(pooled);
    const auto gp = at::randn_like(std::get<0>(pooled));
    out.push_back(timed("max pool forward " + shape, 7 * n, [&] {
      at::max_pool2d_with_indices(r, {2, 2}, {2, 2}, {0, 0}, {1, 1}, false);
    }));
    out.push_back(timed("max pool backward " + shape, 7 * n, [&] {
      at::max_pool2d_with_indices_backward(gp, r, {2, 2}, {2, 2}, {0, 0}, {1, 1}, false, idx);
    }));
  } else {
    const auto gm = at::randn({batch, s.channels});
    const double hw = double(s.side * s.side);
    out.push_back(timed("average forward " + shape, 4 * n, [&] { r.mean({2, 3}); }));
    out.push_back(timed("average backward " + shape, 4 * n,
                        [&] { (gm.unsqueeze(2).unsqueeze(3).expand(r.sizes()) / hw); }));
  }
  out.push_back(timed("ReLU backward " + shape, 12 * n, [&] { at::threshold_backward(g, r, 0); }));
  out.push_back(timed("batch norm backward " + shape, 20 * n, [&] {
    at::native_batch_norm_backward(g, x, w, rm, rv, save_mean, save_invstd, true, 1e-5, {true, true, true});
  }));
}

}  // namespace

StreamRate stream_rate(int64_t floats) {
  auto a = at::zeros({floats}), b = at::ones({floats}), c = at::full({floats}, 2.0f);
  const double copy = median_seconds([&] { a.copy_(b); }, 2, 10);
  const double triad = median_seconds([&] { at::add_out(a, b, c, 3.0); }, 2, 10);
  return {8.0 * double(floats) / copy / 1e9, 12.0 * double(floats) / triad / 1e9};
}

std::vector<Pass> small_cnn_passes(int64_t batch) {
  std::vector<Pass> out;
  for (const Stage& s : kStages) add_stage(out, batch, s);
  return out;
}

int64_t small_cnn_largest_activation(int64_t batch) {
  return batch * kStages[0].channels * kStages[0].side * kStages[0].side;
}

}  // namespace lowbit::bench
