// Datasets in memory and the batch loader. Images are kept as uint8 [N, C, H, W] and
// normalised per batch, so CIFAR-10 costs 150 MB, not 600 MB, on the host or on a GPU. Data order and augmentation
// are pure functions of (seed, epoch, batch index): a resumed run sees exactly the
// batches the uninterrupted run would have seen, with no loader state to checkpoint.
#pragma once
#include <string>
#include <vector>

#include <torch/types.h>

#include "core/config/run_config.h"

namespace lowbit {

/// A set of labelled images. images: uint8 [N, C, H, W]; labels: int64 [N].
struct Dataset {
  torch::Tensor images;
  torch::Tensor labels;
  int64_t size() const { return images.defined() ? images.size(0) : 0; }
};

/// Everything a run needs from its data: the splits and how to normalise them.
struct DataBundle {
  std::string name;
  Dataset train, val, test;
  int64_t channels = 0, height = 0, width = 0, classes = 0;
  std::vector<double> mean, std;  // per channel, applied when normalize is on
  bool normalize = true;
  bool augment = false;  // pad-4 crop + flip (CIFAR-10 only)
};

/// Reads an IDX file (gzip or plain) of images ([N, 1, H, W]) or labels ([N]).
/// Validates magic, dimensions and file length; throws DataError naming the file and the fix.
torch::Tensor read_idx(const std::string& path, const std::string& hint);

/// Reads CIFAR-10 binary files (each record: 1 label byte + 3072 image bytes).
Dataset read_cifar_batches(const std::vector<std::string>& paths);

/// A deterministic, learnable synthetic dataset: each class is a smooth random prototype,
/// each example its prototype plus Gaussian noise. The same arguments give the same data.
Dataset make_synthetic(int64_t n, int64_t channels, int64_t size, int64_t classes, double noise,
                       uint64_t seed);

/// Loads the dataset that `cfg` names, applies train_limit / test_limit / val_fraction.
DataBundle load_data(const DataConfig& cfg);

/// Moves every split to `device` (uint8 images and labels): on a GPU the loader then
/// gathers, augments and normalises each batch there, with nothing copied per step.
void place_on(DataBundle& bundle, torch::Device device);

/// Pads each image of x ([N, C, H, W]) by `pad` zeros, crops it back to H x W at
/// (offsets[k][0], offsets[k][1]) (int64 [N, 2], 0..2*pad) and flips it left-right where
/// flips[k] (bool [N]): one batched gather on x's device, equal bit for bit to the crop and
/// flip of each image in turn.
torch::Tensor pad_crop_flip(const torch::Tensor& x, const torch::Tensor& offsets,
                            const torch::Tensor& flips, int64_t pad);

/// Iterates over a Dataset in batches.
class BatchLoader {
 public:
  /// shuffle/augment: training mode. `seed` and `epoch` fix the order and augmentation.
  BatchLoader(const DataBundle& bundle, const Dataset& data, int64_t batch_size, bool train,
              uint64_t seed, int64_t epoch, torch::Device device);
  int64_t num_batches() const;
  /// Batch `i`: x float [B, C, H, W] normalised, y int64 [B], both on the device.
  std::pair<torch::Tensor, torch::Tensor> batch(int64_t i) const;

 private:
  const DataBundle& bundle_;
  const Dataset& data_;
  int64_t batch_size_;
  bool train_;
  uint64_t seed_;
  int64_t epoch_;
  torch::Device device_;
  torch::Tensor order_;  // int64 [N]
  torch::Tensor offsets_, flips_;  // augmentation: int64 [N, 2] and bool [N], batch after batch
  torch::Tensor mean_, inv_std_;
};

/// Mixes integers into one seed (splitmix64), for per-epoch and per-batch generators.
uint64_t mix_seed(uint64_t a, uint64_t b, uint64_t c = 0);

}  // namespace lowbit
