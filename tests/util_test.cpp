#include <doctest/doctest.h>

#include <unistd.h>

#include <fstream>
#include <iterator>

#include "core/error.h"
#include "core/file_io.h"
#include "core/util.h"
#include "tests/test_util.h"

using namespace lowbit;

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
