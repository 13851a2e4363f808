// libFuzzer target: a CIFAR-10 binary file (gzip or plain), through zlib and the record
// and label checks that lowbit's reader applies before it copies the data into tensors.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

#include "core/data/formats.h"
#include "core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/lowbit_fuzz_cifar_" + std::to_string(::getpid());
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), std::streamsize(size));
  try {
    const std::string bytes = lowbit::read_maybe_gz(path, "fuzz");
    const int64_t n = lowbit::parse_cifar(bytes, path, "fuzz");
    if (size_t(n) * lowbit::kCifarRecord != bytes.size()) __builtin_trap();
    for (int64_t i = 0; i < n; ++i)
      if (uint8_t(bytes[size_t(i) * lowbit::kCifarRecord]) > 9) __builtin_trap();
  } catch (const lowbit::Error&) {
  }
  return 0;
}
