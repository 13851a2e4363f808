// SHA-256 of bytes and files: run identity hashes, artifact digests, database digests.
#pragma once
#include <string>

namespace lowbit {

/// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(const std::string& data);

/// Lower-case hex SHA-256 of a file's bytes; throws DataError when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace lowbit
