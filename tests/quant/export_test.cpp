#include <doctest/doctest.h>
#include <torch/torch.h>

#include <sys/stat.h>

#include "core/error.h"
#include "core/quant/export.h"
#include "core/train/trainer.h"
#include "tests/test_util.h"

using namespace lowbit;
using namespace lowbit::test;

TEST_CASE("export: bit packing round-trips for every width") {
  for (int bits = 1; bits <= 8; ++bits) {
    std::vector<uint8_t> codes;
    for (int i = 0; i < 37; ++i) codes.push_back(uint8_t((i * 7 + 3) % (1 << bits)));
    auto packed = pack_bits(codes, bits);
    CHECK(packed.size() == (37 * size_t(bits) + 7) / 8);
    CHECK(unpack_bits(packed, bits, codes.size()) == codes);
  }
}

namespace {
struct Quiet : Observer {};

// Trains a tiny run with `method`, exports it, and checks size and accuracy.
void round_trip(const std::string& method, const std::string& act = "none") {
  RunConfig c = tiny_config();
  c.epochs = 1;
  c.quant.method = method;
  c.quant.act_method = act;
  c.quant.bits = 2;
  TempDir d;
  TrainOptions o;
  o.checkpoint_dir = d.path;
  Quiet q;
  REQUIRE(train_run(c, o, q).status == "done");
  auto cm = load_checkpoint_model(checkpoint_path(d.path));
  double ckpt_acc = test_accuracy(*cm.model, cm.config);
  auto st = export_model(*cm.model, cm.config, cm.spec, cm.bn_state, d / "m.lbt");
  auto lm = load_packed_model(d / "m.lbt");
  double packed_acc = test_accuracy(*lm.model, lm.config);
  CHECK_MESSAGE(packed_acc == ckpt_acc, method);
  // Logits of a batch agree exactly.
  auto x = torch::randn({4, 1, 8, 8});
  cm.model->eval();
  lm.model->eval();
  CHECK_MESSAGE(torch::equal(cm.model->forward(x), lm.model->forward(x)), method);
  struct stat sb;
  ::stat((d / "m.lbt").c_str(), &sb);
  CHECK(st.packed_bytes == sb.st_size);
}
}  // namespace

TEST_CASE("export: ternary layers cost 2 bits per weight plus scales and header") {
  RunConfig c = tiny_config();
  c.epochs = 1;
  c.quant.method = "ttq";
  TempDir d;
  TrainOptions o;
  o.checkpoint_dir = d.path;
  Quiet q;
  train_run(c, o, q);
  auto cm = load_checkpoint_model(checkpoint_path(d.path));
  auto st = export_model(*cm.model, cm.config, cm.spec, cm.bn_state, d / "m.lbt");
  // small_cnn: conv2 (64*32*9) and conv3 (128*64*9) are ternary.
  int64_t ternary = 64 * 32 * 9 + 128 * 64 * 9;
  CHECK(st.packed_weights == ternary);
  CHECK(st.packed_layers == 2);
  // Float part: conv1 (32*9), BN (2*(32+64+128) params + 4*(32+64+128) buffers), fc (128*4+4).
  int64_t floats = 32 * 9 + 2 * 224 + 4 * 224 + 128 * 4 + 4;
  int64_t payload = ternary * 2 / 8 + floats * 4;
  // The rest is the JSON header (config, names, shapes, decode tables with Wp/Wn): bounded.
  CHECK(st.packed_bytes >= payload);
  CHECK(st.packed_bytes - payload < 12000);
  CHECK(st.float_bytes == 4 * (32 * 9 + 64 * 32 * 9 + 128 * 64 * 9 + 2 * 224 + 128 * 4 + 4));
}

TEST_CASE("export: reloaded accuracy equals the checkpoint's for every packable quantizer") {
  round_trip("ttq");
  round_trip("twn");
  round_trip("sign");
  round_trip("dorefa");
  round_trip("bop");
  round_trip("slb");
  round_trip("ttq", "pact");
  round_trip("lsq");
  round_trip("lsq", "lsq");
}

TEST_CASE("export: a file that is not a packed model is a DataError naming it") {
  TempDir d;
  write_file(d / "x.lbt", "not a model at all");
  CHECK_THROWS_WITH_AS(
      load_packed_model(d / "x.lbt"),
      (d / "x.lbt" + ": not a lowbit packed model (bad magic); re-export it with lowbit export")
          .c_str(),
      DataError);
}
