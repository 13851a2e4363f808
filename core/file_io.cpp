#include "core/file_io.h"

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "core/error.h"

namespace lowbit {

namespace {

std::string human_bytes(int64_t b) {
  if (b >= (int64_t(1) << 30)) return fmt::format("{:.1f} GiB", double(b) / double(1 << 30));
  if (b >= (int64_t(1) << 20)) return fmt::format("{:.1f} MiB", double(b) / double(1 << 20));
  if (b >= 1024) return fmt::format("{:.1f} KiB", double(b) / 1024.0);
  return fmt::format("{} bytes", b);
}

std::string parent_dir(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

[[noreturn]] void fail_write(const std::string& path, const std::string& tmp, int err,
                             int64_t needed) {
  if (!tmp.empty()) ::unlink(tmp.c_str());  // give back whatever the partial file took
  if (is_disk_full_errno(err)) throw DiskFullError(disk_full_message(path, needed));
  if (err == ENOENT || err == EACCES || err == EROFS || err == ENOTDIR)  // the user's path
    throw ConfigError(fmt::format("cannot write {}: {} (choose a writable directory)", path,
                                  std::strerror(err)));
  throw Error(fmt::format("cannot write {}: {} (check that its directory exists and is writable)",
                          path, std::strerror(err)));
}

}  // namespace

bool is_disk_full_errno(int err) { return err == ENOSPC || err == EDQUOT; }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

int64_t free_bytes(const std::string& path) {
  struct statvfs s;
  if (::statvfs(path.c_str(), &s) != 0 && ::statvfs(parent_dir(path).c_str(), &s) != 0) return -1;
  return int64_t(s.f_bavail) * int64_t(s.f_frsize);
}

void throw_write_error(const std::string& path, int err) { fail_write(path, "", err, -1); }

std::string free_space_advice(const std::string& dir, const std::string& needed) {
  const int64_t free = free_bytes(dir);
  std::string have = free >= 0 ? human_bytes(free) + " free" : "free space unknown";
  return fmt::format("({}{} on the file system of {}): free space there (df -h {})", needed, have,
                     dir, dir);
}

std::string disk_full_message(const std::string& path, int64_t needed) {
  return fmt::format("disk full writing {} {}", path,
                     free_space_advice(parent_dir(path),
                                       needed > 0 ? human_bytes(needed) + " needed, " : ""));
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail_write(path, "", errno, int64_t(bytes.size()));
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : ENOSPC;
      ::close(fd);
      fail_write(path, tmp, err, int64_t(bytes.size()));
    }
    off += size_t(n);
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    fail_write(path, tmp, err, int64_t(bytes.size()));
  }
  if (::close(fd) != 0) fail_write(path, tmp, errno, int64_t(bytes.size()));
  if (std::rename(tmp.c_str(), path.c_str()) != 0) fail_write(path, tmp, errno, int64_t(bytes.size()));
}

void remove_tree(const std::string& path) {
  // Depth first (FTW_DEPTH), without following links (FTW_PHYS): files and links, then folders.
  ::nftw(
      path.c_str(),
      [](const char* p, const struct stat*, int type, struct FTW*) {
        (type == FTW_DP ? ::rmdir(p) : ::unlink(p));
        return 0;
      },
      16, FTW_DEPTH | FTW_PHYS);
}

int64_t file_size_or_minus1(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return -1;
  return int64_t(st.st_size);
}

}  // namespace lowbit
