#include "core/data/formats.h"

#include <zlib.h>

#include <fmt/format.h>

#include "core/error.h"
#include "core/util.h"

namespace lowbit {

namespace {
uint32_t be32(const std::string& s, size_t off) {
  auto b = [&](size_t i) { return uint32_t(uint8_t(s[off + i])); };
  return b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
}
}  // namespace

std::string read_maybe_gz(const std::string& path, const std::string& hint) {
  if (!is_file(path)) throw DataError(path + ": no such file; " + hint);
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw DataError(path + ": cannot be opened; " + hint);
  std::string out;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, size_t(n));
  int err = 0;
  const char* msg = gzerror(f, &err);
  bool failed = n < 0 || (err != Z_OK && err != Z_STREAM_END);
  std::string why = failed ? std::string(msg) : "";
  gzclose(f);
  if (failed) throw DataError(path + ": corrupt gzip stream (" + why + "); " + hint);
  return out;
}

IdxLayout parse_idx(const std::string& bytes, const std::string& path, const std::string& hint) {
  if (bytes.size() < 8)
    throw DataError(fmt::format("{}: truncated ({} bytes, shorter than an IDX header); {}", path,
                                bytes.size(), hint));
  const uint32_t magic = be32(bytes, 0);
  if (magic != 0x0803 && magic != 0x0801)
    throw DataError(fmt::format("{}: not an IDX file (magic 0x{:08x}, expected 0x00000803 or "
                                "0x00000801); {}",
                                path, magic, hint));
  IdxLayout out;
  const size_t ndim = magic & 0xff;
  out.header = 4 + 4 * ndim;
  if (bytes.size() < out.header)
    throw DataError(fmt::format("{}: truncated header ({} bytes); {}", path, bytes.size(), hint));
  // Each dimension is at most 2^28 and there are at most three, so the product fits in
  // 128 bits; in size_t it could wrap around and match a short file.
  const size_t data = bytes.size() - out.header;
  unsigned __int128 expected = 1;
  for (size_t i = 0; i < ndim; ++i) {
    const uint32_t d = be32(bytes, 4 + 4 * i);
    if (d == 0 || d > (1u << 28))
      throw DataError(fmt::format("{}: implausible dimension {} = {}; {}", path, i, d, hint));
    out.dims.push_back(d);
    expected *= d;
  }
  if (expected != data)
    throw DataError(fmt::format(
        "{}: wrong size ({} bytes of data, expected {} for dimensions {}); {}", path, data,
        expected >> 64 ? fmt::format("{:.3g}", double(expected)) : std::to_string(uint64_t(expected)),
        fmt::join(out.dims, "x"), hint));
  return out;
}

int64_t parse_cifar(const std::string& bytes, const std::string& path, const std::string& hint) {
  if (bytes.empty() || bytes.size() % kCifarRecord != 0)
    throw DataError(
        fmt::format("{}: wrong size ({} bytes, not a multiple of the {}-byte record); {}", path,
                    bytes.size(), kCifarRecord, hint));
  const size_t n = bytes.size() / kCifarRecord;
  for (size_t i = 0; i < n; ++i)
    if (uint8_t label = uint8_t(bytes[i * kCifarRecord]); label > 9)
      throw DataError(fmt::format(
          "{}: label {} at record {} out of range 0..9 (not a CIFAR-10 binary file); {}", path,
          label, i, hint));
  return int64_t(n);
}

}  // namespace lowbit
