// The on-disk formats of the datasets, parsed without torch: gzip or plain files, IDX
// headers (MNIST, Fashion-MNIST) and CIFAR-10 binary records. Every check that a file can
// fail lives here, so that the fuzzers (tests/fuzz) reach all of it; dataset.cpp only
// copies the validated bytes into tensors.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace lowbit {

/// The whole file, through zlib (which passes plain files through unchanged). Throws
/// DataError naming the file: missing, unreadable, corrupt gzip stream.
std::string read_maybe_gz(const std::string& path, const std::string& hint);

/// A validated IDX file: its dimensions and where the data starts.
struct IdxLayout {
  std::vector<int64_t> dims;  ///< 1 (labels [N]) or 3 (images [N, H, W]) dimensions
  size_t header = 0;          ///< bytes before the data
};

/// Checks magic (0x0801 or 0x0803), header, dimensions (each 1..2^28) and that the data is
/// exactly their product long. Throws DataError naming `path`, what is wrong and `hint`.
IdxLayout parse_idx(const std::string& bytes, const std::string& path, const std::string& hint);

/// Bytes of one CIFAR-10 binary record: a label byte and a 3x32x32 image.
constexpr size_t kCifarRecord = 1 + 3072;

/// Checks a CIFAR-10 binary file: a non-zero multiple of the record size, every label in
/// 0..9. Returns the number of records; throws DataError naming `path`.
int64_t parse_cifar(const std::string& bytes, const std::string& path, const std::string& hint);

}  // namespace lowbit
