#include <doctest/doctest.h>
#include <torch/torch.h>

#include "core/data/dataset.h"
#include "core/error.h"
#include "tests/test_util.h"

using namespace lowbit;
using namespace lowbit::test;

namespace {
std::string data_error(const std::function<void()>& f) { return error_message<DataError>(f); }
const std::string kHint = "install dataset-fashion-mnist (scripts/install-deps.sh) or set data.dir";
}  // namespace

TEST_CASE("idx: reads gzip and plain files with the right shapes and values") {
  TempDir d;
  write_gz(d / "img.gz", idx_images(5, 4, 3));
  write_file(d / "lab", idx_labels(5));
  auto img = read_idx(d / "img.gz", "hint");
  auto lab = read_idx(d / "lab", "hint");
  CHECK(img.sizes() == torch::IntArrayRef({5, 1, 4, 3}));
  CHECK(img.dtype() == torch::kUInt8);
  CHECK(img[2][0][1][2].item<int>() == 2 + 1 + 2);
  CHECK(lab.sizes() == torch::IntArrayRef({5}));
  CHECK(lab[3].item<int64_t>() == 3);
}

TEST_CASE("idx: wrong magic, truncated, wrong size, missing, corrupt gzip") {
  TempDir d;
  write_file(d / "magic", be32(0x0000) + be32(1) + be32(2) + be32(2) + "abcd");
  CHECK(data_error([&] { read_idx(d / "magic", kHint); }) ==
        d / "magic" + ": not an IDX file (magic 0x00000000, expected 0x00000803 or 0x00000801); " + kHint);
  std::string full = idx_images(3, 4, 4);
  write_file(d / "trunc", full.substr(0, full.size() - 5));
  CHECK(data_error([&] { read_idx(d / "trunc", kHint); }) ==
        d / "trunc" + ": wrong size (43 bytes of data, expected 48 for dimensions 3x4x4); " +
            kHint);
  write_file(d / "long", full + "xx");
  CHECK(data_error([&] { read_idx(d / "long", kHint); }) ==
        d / "long" + ": wrong size (50 bytes of data, expected 48 for dimensions 3x4x4); " + kHint);
  write_file(d / "tiny", "ab");
  CHECK(data_error([&] { read_idx(d / "tiny", kHint); }) ==
        d / "tiny" + ": truncated (2 bytes, shorter than an IDX header); " + kHint);
  CHECK(data_error([&] { read_idx(d / "nope.gz", kHint); }) ==
        d / "nope.gz" + ": no such file; " + kHint);
  // A gzip stream cut in the middle.
  write_gz(d / "full.gz", full);
  std::ifstream in(d / "full.gz", std::ios::binary);
  std::string gz((std::istreambuf_iterator<char>(in)), {});
  write_file(d / "cut.gz", gz.substr(0, gz.size() / 2));
  CHECK(data_error([&] { read_idx(d / "cut.gz", kHint); }).find(d / "cut.gz" + ": ") == 0);
}

TEST_CASE("data: fashion_mnist-format directory loads, limits and validation split apply") {
  TempDir d;
  write_mnist_dir(d.path, 50, 20);
  DataConfig c;
  c.dir = d.path;
  c.train_limit = 40;
  c.val_fraction = 0.25;
  auto b = load_data(c);
  CHECK(b.train.size() == 30);
  CHECK(b.val.size() == 10);
  CHECK(b.test.size() == 20);
  CHECK(b.channels == 1);
  CHECK(b.height == 28);
  CHECK(b.mean[0] == doctest::Approx(0.2860));
  CHECK(b.std[0] == doctest::Approx(0.3530));
  // The validation split is the end of the (limited) training set.
  CHECK(b.val.labels[0].item<int64_t>() == 30 % 10);
}

TEST_CASE("data: a missing file names the file and the fix") {
  TempDir d;
  DataConfig c;
  c.dir = d.path;
  CHECK(data_error([&] { load_data(c); }) ==
        d / "train-images-idx3-ubyte.gz" + ": no such file; " + kHint);
}

TEST_CASE("cifar: reads records, rejects wrong sizes and labels") {
  TempDir d;
  std::string rec;
  for (int i = 0; i < 3; ++i) {
    rec += char(i);
    for (int k = 0; k < 3072; ++k) rec += char((k + i) % 256);
  }
  write_file(d / "b.bin", rec);
  auto ds = read_cifar_batches({d / "b.bin"});
  CHECK(ds.images.sizes() == torch::IntArrayRef({3, 3, 32, 32}));
  CHECK(ds.labels[2].item<int64_t>() == 2);
  CHECK(ds.images[1][0][0][1].item<int>() == 2);  // k = 1, i = 1
  write_file(d / "short.bin", rec.substr(0, 5000));
  CHECK(data_error([&] { read_cifar_batches({d / "short.bin"}); })
            .rfind(d / "short.bin" +
                       ": wrong size (5000 bytes, not a multiple of the 3073-byte record)",
                   0) == 0);
  std::string bad = rec;
  bad[0] = char(42);
  write_file(d / "bad.bin", bad);
  CHECK(data_error([&] {
          read_cifar_batches({d / "bad.bin"});
        }).rfind(d / "bad.bin" + ": label 42 at record 0 out of range 0..9", 0) == 0);
}

TEST_CASE("cifar: augmentation is seeded and keeps shapes") {
  TempDir d;
  std::string rec;
  for (int i = 0; i < 8; ++i) {
    rec += char(i % 10);
    for (int k = 0; k < 3072; ++k) rec += char((k * 7 + i) % 256);
  }
  for (int i = 1; i <= 5; ++i) write_file(d / ("data_batch_" + std::to_string(i) + ".bin"), rec);
  write_file(d / "test_batch.bin", rec);
  DataConfig c;
  c.name = "cifar10";
  c.dir = d.path;
  auto b = load_data(c);
  CHECK(b.train.size() == 40);
  CHECK(b.augment);
  BatchLoader l1(b, b.train, 16, true, 7, 3, torch::kCPU),
      l2(b, b.train, 16, true, 7, 3, torch::kCPU), l3(b, b.train, 16, true, 8, 3, torch::kCPU);
  auto [x1, y1] = l1.batch(1);
  auto [x2, y2] = l2.batch(1);
  auto [x3, y3] = l3.batch(1);
  CHECK(x1.sizes() == torch::IntArrayRef({16, 3, 32, 32}));
  CHECK(torch::equal(x1, x2));
  CHECK(torch::equal(y1, y2));
  CHECK(!torch::equal(x1, x3));
}

TEST_CASE("synthetic: deterministic, balanced enough, and learnable shape") {
  auto a = make_synthetic(200, 3, 8, 5, 0.5, 1), b = make_synthetic(200, 3, 8, 5, 0.5, 1);
  CHECK(torch::equal(a.images, b.images));
  CHECK(a.images.sizes() == torch::IntArrayRef({200, 3, 8, 8}));
  auto counts = torch::bincount(a.labels, {}, 5);
  CHECK(counts.min().item<int64_t>() > 20);
  // Class means differ more than the noise: nearest-class-mean classifies most examples.
  auto x = a.images.to(torch::kFloat).flatten(1);
  std::vector<torch::Tensor> means;
  for (int k = 0; k < 5; ++k) means.push_back(x.index({a.labels == k}).mean(0));
  auto dist = torch::cdist(x, torch::stack(means));
  double acc = dist.argmin(1).eq(a.labels).to(torch::kFloat).mean().item<double>();
  CHECK(acc > 0.9);
}

TEST_CASE("loader: order is a function of (seed, epoch) and covers every example once") {
  DataBundle b;
  b.train = make_synthetic(50, 1, 4, 3, 0.1, 2);
  b.channels = 1, b.height = 4, b.width = 4, b.classes = 3, b.mean = {0.5}, b.std = {0.2};
  BatchLoader e0(b, b.train, 16, true, 1, 0, torch::kCPU),
      e0b(b, b.train, 16, true, 1, 0, torch::kCPU), e1(b, b.train, 16, true, 1, 1, torch::kCPU);
  CHECK(e0.num_batches() == 4);
  std::vector<torch::Tensor> ys;
  for (int i = 0; i < 4; ++i) ys.push_back(e0.batch(i).second);
  CHECK(torch::cat(ys).size(0) == 50);
  CHECK(torch::equal(e0.batch(2).first, e0b.batch(2).first));
  CHECK(!torch::equal(e0.batch(0).first, e1.batch(0).first));
  // Normalisation: (x/255 - mean) / std.
  BatchLoader ev(b, b.train, 50, false, 0, 0, torch::kCPU);
  auto x = ev.batch(0).first;
  double expect = (b.train.images[0][0][0][0].item<int>() / 255.0 - 0.5) / 0.2;
  CHECK(x[0][0][0][0].item<double>() == doctest::Approx(expect).epsilon(1e-5));
}

TEST_CASE("data: a label out of range names the label file, the label and its index") {
  TempDir d;
  write_mnist_dir(d.path, 50, 20);
  DataConfig c;
  c.dir = d.path;
  std::string labels = idx_labels(20);
  labels[8 + 7] = char(255);  // test label 7 of 20
  write_gz(d / "t10k-labels-idx1-ubyte.gz", labels);
  CHECK(data_error([&] { load_data(c); }) ==
        d / "t10k-labels-idx1-ubyte.gz" + ": label 255 at index 7 out of range 0..9 for 10 classes; " + kHint);
}

TEST_CASE("idx: dimensions whose product wraps around 64 bits are a wrong size, not a huge tensor") {
  TempDir d;
  // 2^28 x 2^28 x 2^28 = 2^84 = 0 modulo 2^64: an empty data section used to match it.
  write_file(d / "wrap", be32(0x803) + be32(1u << 28) + be32(1u << 28) + be32(1u << 28));
  CHECK(data_error([&] { read_idx(d / "wrap", kHint); }) ==
        d / "wrap" + ": wrong size (0 bytes of data, expected 1.93e+25 for dimensions "
                     "268435456x268435456x268435456); " + kHint);
}

TEST_CASE("augmentation: the batched pad-crop-flip equals each image cropped and flipped in turn") {
  // The loop the loader ran before it was one gather (commit 0722bec): the reference.
  auto reference = [](const torch::Tensor& x, const torch::Tensor& off, const torch::Tensor& flip) {
    auto padded = torch::constant_pad_nd(x, {4, 4, 4, 4}, 0);
    auto out = torch::empty_like(x);
    for (int64_t k = 0; k < x.size(0); ++k) {
      auto crop = padded[k].narrow(1, off[k][0].item<int64_t>(), x.size(2))
                      .narrow(2, off[k][1].item<int64_t>(), x.size(3));
      out[k].copy_(flip[k].item<bool>() ? crop.flip({2}) : crop);
    }
    return out;
  };
  torch::manual_seed(3);
  for (auto shape : {std::vector<int64_t>{37, 3, 32, 32}, std::vector<int64_t>{9, 1, 28, 20}}) {
    auto x = torch::randint(0, 256, shape, torch::kUInt8);
    const int64_t n = shape[0];
    auto off = torch::randint(0, 9, {n, 2}, torch::kInt64);
    off[0][0] = 0, off[0][1] = 8, off[1][0] = 8, off[1][1] = 0;  // both extremes
    auto flip = torch::rand({n}) < 0.5;
    flip[0] = true, flip[1] = false;
    auto got = pad_crop_flip(x, off, flip, 4);
    CHECK(got.dtype() == torch::kUInt8);
    CHECK(torch::equal(got, reference(x, off, flip)));
  }
}
