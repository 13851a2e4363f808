// SHA-256 of bytes and files: run identity hashes, artifact digests, database digests. On an
// x86-64 CPU with the SHA extensions (cpuid checked at run time) the blocks go through them;
// LOWBIT_SHA256=portable forces the plain C++ path.
#pragma once
#include <string>

namespace lowbit {

/// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(const std::string& data);

/// The same computed without the CPU's SHA extensions (for tests and LOWBIT_SHA256=portable).
std::string sha256_hex_portable(const std::string& data);
/// Whether sha256_hex and sha256_file use the x86 SHA extensions on this CPU.
bool sha256_uses_hardware();

/// Lower-case hex SHA-256 of a file's bytes; throws DataError when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace lowbit
