// libFuzzer target: an IDX file (gzip or plain), through zlib and the header checks that
// lowbit's reader applies before it copies the data into a tensor.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

#include "core/data/formats.h"
#include "core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/lowbit_fuzz_idx_" + std::to_string(::getpid());
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), std::streamsize(size));
  try {
    const std::string bytes = lowbit::read_maybe_gz(path, "fuzz");
    const lowbit::IdxLayout idx = lowbit::parse_idx(bytes, path, "fuzz");
    size_t n = 1;
    for (int64_t d : idx.dims) n *= size_t(d);
    // What read_idx then copies must lie inside the file.
    if (idx.header + n != bytes.size()) __builtin_trap();
    volatile uint8_t sink = 0;
    for (size_t i = idx.header; i < bytes.size(); i += 4096) sink = sink + uint8_t(bytes[i]);
  } catch (const lowbit::Error&) {
  }
  return 0;
}
