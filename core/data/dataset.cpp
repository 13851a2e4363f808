#include "core/data/dataset.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>

#include "core/config/names.h"
#include "core/data/formats.h"
#include "core/error.h"
#include "core/util.h"

namespace lowbit {
namespace {

const char* kFashionDir = "/usr/share/datasets/fashion-mnist";

std::string first_existing(const std::string& dir, const std::string& stem) {
  for (const char* ext : {".gz", ""}) {
    std::string p = dir + "/" + stem + ext;
    if (is_file(p)) return p;
  }
  return dir + "/" + stem + ".gz";  // the error will name the packaged spelling
}

}  // namespace

uint64_t mix_seed(uint64_t a, uint64_t b, uint64_t c) {
  uint64_t x = a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull) * 0xBF58476D1CE4E5B9ull ^
               (c + 0x85EBCA77C2B2AE63ull) * 0x94D049BB133111EBull;
  x ^= x >> 30, x *= 0xBF58476D1CE4E5B9ull, x ^= x >> 27, x *= 0x94D049BB133111EBull, x ^= x >> 31;
  return x;
}

torch::Tensor read_idx(const std::string& path, const std::string& hint) {
  const std::string bytes = read_maybe_gz(path, hint);
  const IdxLayout idx = parse_idx(bytes, path, hint);
  if (idx.dims.size() != 1 && idx.dims.size() != 3)
    throw DataError(fmt::format("{}: expected 1 (labels) or 3 (images) dimensions, got {}; {}",
                                path, idx.dims.size(), hint));
  auto t = torch::empty(idx.dims, torch::kUInt8);
  std::memcpy(t.data_ptr<uint8_t>(), bytes.data() + idx.header, size_t(t.numel()));
  return idx.dims.size() == 1 ? t.to(torch::kInt64) : t.unsqueeze(1);  // images: [N, 1, H, W]
}

Dataset read_cifar_batches(const std::vector<std::string>& paths) {
  const std::string hint =
      "download the CIFAR-10 binary version (cifar-10-binary.tar.gz) and set data.dir";
  std::vector<torch::Tensor> images, labels;
  for (const auto& path : paths) {
    std::string bytes = read_maybe_gz(path, hint);
    const int64_t n = parse_cifar(bytes, path, hint);
    auto raw = torch::from_blob(bytes.data(), {n, int64_t(kCifarRecord)}, torch::kUInt8).clone();
    images.push_back(raw.narrow(1, 1, 3072).reshape({n, 3, 32, 32}));
    labels.push_back(raw.select(1, 0).to(torch::kInt64));
  }
  return {torch::cat(images), torch::cat(labels)};
}

Dataset make_synthetic(int64_t n, int64_t channels, int64_t size, int64_t classes, double noise,
                       uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  // Smooth prototypes: low-resolution noise upsampled, so that convolutions help.
  int64_t low = std::max<int64_t>(2, size / 4);
  auto protos = torch::randn({classes, channels, low, low}, gen);
  protos =
      torch::nn::functional::interpolate(protos, torch::nn::functional::InterpolateFuncOptions()
                                                     .size(std::vector<int64_t>{size, size})
                                                     .mode(torch::kBilinear)
                                                     .align_corners(false));
  auto labels = torch::randint(classes, {n}, gen, torch::kInt64);
  auto x = protos.index_select(0, labels) + noise * torch::randn({n, channels, size, size}, gen);
  auto images = (128 + 48 * x).clamp(0, 255).round().to(torch::kUInt8);
  return {images, labels};
}

namespace {
// Every label of an IDX label file in 0..classes-1, or a DataError naming the file, the first
// offending label and its index. (CIFAR-10 labels are checked by parse_cifar; synthetic ones
// are drawn below `classes`.)
void check_labels(const torch::Tensor& labels, const std::string& path, int64_t classes,
                  const std::string& hint) {
  if (labels.numel() == 0) return;
  auto bad = ((labels < 0) | (labels >= classes)).nonzero();
  if (bad.size(0) == 0) return;
  const int64_t i = bad[0][0].item<int64_t>();
  throw DataError(fmt::format("{}: label {} at index {} out of range 0..{} for {} classes; {}",
                              path, labels[i].item<int64_t>(), i, classes - 1, classes, hint));
}
}  // namespace

DataBundle load_data(const DataConfig& cfg) {
  const DataShape shape = data_shape(cfg);  // throws for an unknown data.name
  DataBundle b;
  b.name = cfg.name;
  b.normalize = cfg.normalize;
  b.classes = shape.classes;
  Dataset train, test;
  if (cfg.name == "fashion_mnist" || cfg.name == "mnist") {
    std::string dir = cfg.dir.empty() ? kFashionDir : cfg.dir;
    std::string hint =
        cfg.name == "fashion_mnist"
            ? "install dataset-fashion-mnist (scripts/install-deps.sh) or set data.dir"
            : "put the MNIST IDX files there or set data.dir";
    const std::string train_labels = first_existing(dir, "train-labels-idx1-ubyte"),
                      test_labels = first_existing(dir, "t10k-labels-idx1-ubyte");
    // An IDX file of the wrong kind (labels where images belong, or the reverse) is named.
    auto read_kind = [&](const std::string& path, bool want_images) {
      torch::Tensor t = read_idx(path, hint);
      if ((t.dim() == 4) != want_images)
        throw DataError(fmt::format("{}: holds {} where {} belong; {}", path,
                                    want_images ? "labels" : "images",
                                    want_images ? "images" : "labels", hint));
      return t;
    };
    train.images = read_kind(first_existing(dir, "train-images-idx3-ubyte"), true);
    train.labels = read_kind(train_labels, false);
    test.images = read_kind(first_existing(dir, "t10k-images-idx3-ubyte"), true);
    test.labels = read_kind(test_labels, false);
    if (train.images.size(0) != train.labels.size(0) || test.images.size(0) != test.labels.size(0))
      throw DataError(fmt::format("{}: {} training images but {} labels (or test {} vs {}); {}",
                                  dir, train.images.size(0), train.labels.size(0),
                                  test.images.size(0), test.labels.size(0), hint));
    check_labels(train.labels, train_labels, shape.classes, hint);
    check_labels(test.labels, test_labels, shape.classes, hint);
    if (cfg.name == "fashion_mnist")
      b.mean = {0.2860}, b.std = {0.3530};
    else
      b.mean = {0.1307}, b.std = {0.3081};
  } else if (cfg.name == "cifar10") {
    std::vector<std::string> parts;
    for (int i = 1; i <= 5; ++i)
      parts.push_back(cfg.dir + "/data_batch_" + std::to_string(i) + ".bin");
    train = read_cifar_batches(parts);
    test = read_cifar_batches({cfg.dir + "/test_batch.bin"});
    b.mean = {0.4914, 0.4822, 0.4465};
    b.std = {0.2470, 0.2435, 0.2616};
    b.augment = cfg.augment;
  } else if (cfg.name == "synthetic") {
    // Train and test come from one draw so they share class prototypes.
    Dataset all = make_synthetic(cfg.synthetic_train + cfg.synthetic_test, cfg.synthetic_channels,
                                 cfg.synthetic_size, cfg.synthetic_classes, cfg.synthetic_noise,
                                 /*seed=*/20240601);
    train = {all.images.narrow(0, 0, cfg.synthetic_train),
             all.labels.narrow(0, 0, cfg.synthetic_train)};
    test = {all.images.narrow(0, cfg.synthetic_train, cfg.synthetic_test),
            all.labels.narrow(0, cfg.synthetic_train, cfg.synthetic_test)};
    b.mean.assign(cfg.synthetic_channels, 0.5);
    b.std.assign(cfg.synthetic_channels, 0.19);
  }
  for (const Dataset* d : {&train, &test})
    if (d->images.size(1) != shape.channels || d->images.size(2) != shape.height ||
        d->images.size(3) != shape.width)
      throw DataError(fmt::format("{}: images are {}x{}x{}, expected {}x{}x{} for {}",
                                  cfg.dir.empty() ? cfg.name : cfg.dir, d->images.size(1),
                                  d->images.size(2), d->images.size(3), shape.channels,
                                  shape.height, shape.width, cfg.name));

  auto limit = [](Dataset& d, int64_t n) {
    if (n > 0 && n < d.size()) d = {d.images.narrow(0, 0, n), d.labels.narrow(0, 0, n)};
  };
  limit(train, cfg.train_limit);
  limit(test, cfg.test_limit);
  if (cfg.val_fraction > 0) {
    int64_t n_val = int64_t(double(train.size()) * cfg.val_fraction);
    if (n_val < 1 || n_val >= train.size())
      throw ConfigError(
          fmt::format("data.val_fraction: {} of {} training examples leaves an empty split",
                      cfg.val_fraction, train.size()));
    int64_t n_train = train.size() - n_val;
    b.val = {train.images.narrow(0, n_train, n_val), train.labels.narrow(0, n_train, n_val)};
    train = {train.images.narrow(0, 0, n_train), train.labels.narrow(0, 0, n_train)};
  }
  b.train = train;
  b.test = test;
  b.channels = train.images.size(1);
  b.height = train.images.size(2);
  b.width = train.images.size(3);
  return b;
}

torch::Tensor pad_crop_flip(const torch::Tensor& x, const torch::Tensor& offsets,
                            const torch::Tensor& flips, int64_t pad) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  auto padded = torch::constant_pad_nd(x, {pad, pad, pad, pad}, 0);
  auto opt = offsets.options();
  // Row r of image k is padded row offsets[k][0] + r; column j is offsets[k][1] + j, or
  // offsets[k][1] + (w - 1 - j) where the image is flipped (a crop, then a flip of the crop).
  auto rows = offsets.select(1, 0).view({n, 1}) + torch::arange(h, opt).view({1, h});
  auto j = torch::arange(w, opt).view({1, w});
  auto cols = offsets.select(1, 1).view({n, 1}) + torch::where(flips.view({n, 1}), (w - 1) - j, j);
  auto picked_rows = padded.gather(2, rows.view({n, 1, h, 1}).expand({n, c, h, w + 2 * pad}));
  return picked_rows.gather(3, cols.view({n, 1, 1, w}).expand({n, c, h, w})).contiguous();
}

void place_on(DataBundle& bundle, torch::Device device) {
  for (Dataset* d : {&bundle.train, &bundle.val, &bundle.test})
    if (d->images.defined() && d->images.device() != device)
      d->images = d->images.to(device), d->labels = d->labels.to(device);
}

BatchLoader::BatchLoader(const DataBundle& bundle, const Dataset& data, int64_t batch_size,
                         bool train, uint64_t seed, int64_t epoch, torch::Device device)
    : bundle_(bundle),
      data_(data),
      batch_size_(batch_size),
      train_(train),
      seed_(seed),
      epoch_(epoch),
      device_(device) {
  if (train_) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(mix_seed(seed, uint64_t(epoch), 1));
    order_ = torch::randperm(data_.size(), gen, torch::kInt64).to(data_.images.device());
  }
  if (train_ && bundle_.augment) {
    // Every batch's crop offsets and flips, drawn on the host from the batch's own generator
    // (the same draws, in the same order, as ever), moved to the data's device once per epoch:
    // a copy per step would make the GPU wait for the host each step.
    std::vector<torch::Tensor> offsets, flips;
    for (int64_t i = 0; i < num_batches(); ++i) {
      const int64_t n = std::min(batch_size_, data_.size() - i * batch_size_);
      auto gen = at::make_generator<at::CPUGeneratorImpl>(mix_seed(seed_, uint64_t(epoch_), 2 + uint64_t(i)));
      offsets.push_back(torch::randint(0, 9, {n, 2}, gen, torch::kInt64));
      flips.push_back(torch::rand({n}, gen) < 0.5);
    }
    offsets_ = torch::cat(offsets).to(data_.images.device());
    flips_ = torch::cat(flips).to(data_.images.device());
  }
  auto c = bundle_.channels;
  std::vector<float> m(c, 0.f), s(c, 1.f);
  if (bundle_.normalize)
    for (int64_t i = 0; i < c; ++i)
      m[i] = float(bundle_.mean[i]), s[i] = float(1.0 / bundle_.std[i]);
  mean_ = torch::tensor(m).view({1, c, 1, 1}).to(device_);
  inv_std_ = torch::tensor(s).view({1, c, 1, 1}).to(device_);
}

int64_t BatchLoader::num_batches() const { return (data_.size() + batch_size_ - 1) / batch_size_; }

std::pair<torch::Tensor, torch::Tensor> BatchLoader::batch(int64_t i) const {
  int64_t start = i * batch_size_, n = std::min(batch_size_, data_.size() - start);
  torch::Tensor x, y;
  if (train_) {
    auto idx = order_.narrow(0, start, n);
    x = data_.images.index_select(0, idx);
    y = data_.labels.index_select(0, idx);
  } else {
    x = data_.images.narrow(0, start, n);
    y = data_.labels.narrow(0, start, n);
  }
  if (train_ && bundle_.augment)  // pad 4 with zeros, crop back at a random offset, flip half
    x = pad_crop_flip(x, offsets_.narrow(0, start, n), flips_.narrow(0, start, n), 4);
  auto xf = x.to(device_).to(torch::kFloat32).mul_(1.0 / 255.0);
  xf = (xf - mean_) * inv_std_;
  return {xf, y.to(device_)};
}

}  // namespace lowbit
