#include <doctest/doctest.h>

#include "core/util.h"

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
