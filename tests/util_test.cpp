#include <doctest/doctest.h>

#include <unistd.h>

#include <fstream>
#include <iterator>

#include "core/error.h"
#include "core/file_io.h"
#include "core/sha256.h"
#include "core/util.h"
#include "tests/test_util.h"

using namespace lowbit;
using namespace lowbit::test;

TEST_CASE("util: edit distance, did-you-mean, globs, durations") {
  CHECK(edit_distance("kitten", "sitting") == 3);
  CHECK(edit_distance("", "abc") == 3);
  CHECK(nearest("optim.lrr", {"optim.lr", "optim.momentum"}) == "optim.lr");
  CHECK(nearest("optim.mom", {"optim.lr", "optim.momentum"}) == "optim.momentum");
  CHECK(nearest("cosine", {"exp", "cos", "linear"}) == "cos");
  CHECK(nearest("zzzzzz", {"exp", "cos"}) == "");
  CHECK(did_you_mean("tqq", {"ttq", "twn"}) == ", did you mean 'ttq'?");
  CHECK(glob_match("layer3.*", "layer3.1.conv2"));
  CHECK(!glob_match("layer3.*", "layer2.0.conv1"));
  CHECK(glob_match("*.conv?", "layer1.0.conv1"));
  CHECK(glob_match("*", "fc"));
  CHECK(!glob_match("conv", "conv1"));
  CHECK(format_duration(59.6) == "1:00");
  CHECK(format_duration(3725) == "1:02:05");
}

TEST_CASE("write_file_atomic: a full disk throws DiskFullError naming the path; the old file is kept") {
  lowbit::test::TempDir d;
  const std::string path = d / "checkpoint.pt";
  lowbit::test::write_file(path, "old");
  // /dev/full answers every write with ENOSPC, as a full file system does.
  REQUIRE(::symlink("/dev/full", (path + ".tmp").c_str()) == 0);
  try {
    write_file_atomic(path, std::string(4096, 'x'));
    FAIL("no error");
  } catch (const DiskFullError& e) {
    CHECK(std::string(e.what()).rfind("disk full writing " + path + " (4.0 KiB needed, ", 0) == 0);
    CHECK(std::string(e.what()).find("free space there (df -h " + d.path + ")") != std::string::npos);
    CHECK(e.exit_code() == kExitDiskFull);
  }
  CHECK(::access((path + ".tmp").c_str(), F_OK) != 0);  // the partial file is gone
  std::ifstream in(path);
  CHECK(std::string(std::istreambuf_iterator<char>(in), {}) == "old");
  write_file_atomic(path, "new");
  std::ifstream again(path);
  CHECK(std::string(std::istreambuf_iterator<char>(again), {}) == "new");
  CHECK_THROWS_AS(write_file_atomic(d / "no/such/dir/f", "x"), ConfigError);
}

TEST_CASE("sha256: FIPS 180-2 test vectors, and the SHA-extension path equals the portable one") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(sha256_hex(std::string(1000000, 'a')) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  CHECK(sha256_hex_portable(std::string(1000000, 'a')) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  // Every length around the block and padding boundaries, and a long pseudo-random input.
  std::string data;
  uint32_t x = 12345;
  for (int i = 0; i < (1 << 20) + 77; ++i) data += char((x = x * 1103515245u + 12345u) >> 24);
  for (size_t n = 0; n <= 200; ++n) CHECK(sha256_hex(data.substr(0, n)) == sha256_hex_portable(data.substr(0, n)));
  CHECK(sha256_hex(data) == sha256_hex_portable(data));
  TempDir d;
  write_file(d / "f", data);
  CHECK(sha256_file(d / "f") == sha256_hex_portable(data));
  const std::string path = sha256_uses_hardware() ? "the CPU's SHA extensions" : "the portable code";
  MESSAGE("sha256 uses " << path);
}
