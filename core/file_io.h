// Writing files so that a full disk or a kill never leaves a half-written one behind:
// the bytes go to `path.tmp`, are synced, then renamed over `path`.
#pragma once
#include <cstdint>
#include <string>

namespace lowbit {

/// Writes `bytes` to `path` atomically (tmp file, fsync, rename). On failure the tmp file
/// is removed and nothing at `path` changes; ENOSPC/EDQUOT throw DiskFullError
/// ("disk full writing <path> ..."), any other error Error naming the path and errno.
void write_file_atomic(const std::string& path, const std::string& bytes);

/// The whole content of `path`, or "" when it cannot be read (the caller says what is missing).
std::string read_file(const std::string& path);

/// Removes `path` and everything under it, ignoring errors (a scratch folder's clean-up). POSIX,
/// not std::filesystem: the torch 2.x wheel's libtorch.so exports std::filesystem symbols of
/// another libstdc++, which calls from lowbit-torch would bind to (and crash in).
void remove_tree(const std::string& path);

/// The size of a regular file in bytes, or -1 when it cannot be read (missing included).
int64_t file_size_or_minus1(const std::string& path);

/// Bytes available to this user on the file system holding `path` (a file or directory),
/// or -1 when it cannot be told.
int64_t free_bytes(const std::string& path);

/// "disk full writing <path> (<needed> needed, <free> free on the file system of <dir>): free
/// space there (df -h <dir>)": the caller adds what to run next.
std::string disk_full_message(const std::string& path, int64_t needed = -1);

/// "(<needed><free> free on the file system of <dir>): free space there (df -h <dir>)".
std::string free_space_advice(const std::string& dir, const std::string& needed = "");

/// Throws what write_file_atomic throws for errno `err` while writing `path` (streams that
/// append, such as metrics.jsonl, use it when a write fails).
[[noreturn]] void throw_write_error(const std::string& path, int err);

/// True when errno `err` means the file system is full (ENOSPC, EDQUOT).
bool is_disk_full_errno(int err);

}  // namespace lowbit
