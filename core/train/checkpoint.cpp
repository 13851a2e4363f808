#include "core/train/checkpoint.h"

#include <cstdio>
#include <sstream>

#include <ATen/CPUGeneratorImpl.h>

#include "core/error.h"
#include "core/file_io.h"
#include "core/nn/state_bn.h"
#include "core/train/trainer.h"
#include "core/util.h"

namespace lowbit {

namespace {

// Reads tensor `dotted` ("layer1.0.conv1.weight") from an archive written by Module::save,
// which nests one archive per child module.
bool read_nested(torch::serialize::InputArchive& root, const std::string& dotted,
                 torch::Tensor& out, bool buffer) {
  auto dot = dotted.find('.');
  if (dot == std::string::npos) return root.try_read(dotted, out, buffer);
  torch::serialize::InputArchive child;
  if (!root.try_read(dotted.substr(0, dot), child)) return false;
  return read_nested(child, dotted.substr(dot + 1), out, buffer);
}

}  // namespace

std::string checkpoint_path(const std::string& dir) { return dir + "/checkpoint.pt"; }

void write_checkpoint(const std::string& path, Network& model, torch::optim::Optimizer& optimizer,
                      const RunConfig& cfg, const ModelSpec& spec, BNState bn_state,
                      const TrainingState& state) {
  torch::serialize::OutputArchive archive, model_archive, optim_archive;
  model.save(model_archive);
  optimizer.save(optim_archive);
  archive.write("model", model_archive);
  archive.write("optimizer", optim_archive);
  archive.write("epoch", c10::IValue(state.epoch));
  archive.write("best_acc", c10::IValue(state.best_acc));
  archive.write("best_epoch", c10::IValue(state.best_epoch));
  nlohmann::json totals = {{"last_metrics", state.last_metrics},
                           {"epoch_seconds", state.epoch_seconds},
                           {"bn_seconds", state.bn_seconds},
                           {"epochs_timed", state.epochs_timed}};
  archive.write("totals_json", c10::IValue(totals.dump()));
  archive.write("config_hash", c10::IValue(config_hash(cfg)));
  archive.write("config_json", c10::IValue(to_json(cfg).dump()));
  archive.write("spec", c10::IValue(std::vector<int64_t>{spec.channels, spec.height, spec.width,
                                                         spec.classes}));
  archive.write("bn_discrete", c10::IValue(bn_state == BNState::kDiscrete));  // lowbit < 33
  archive.write("bn_state", c10::IValue(std::string(bn_state_name(bn_state))));
  archive.write("rng_state", at::Generator(at::detail::getDefaultCPUGenerator()).get_state());
  // Serialize in memory, then write the bytes ourselves: LibTorch's file writer reports a
  // full disk from a destructor, which aborts the process instead of throwing.
  std::ostringstream bytes;
  archive.save_to(bytes);
  write_file_atomic(path, bytes.str());
}

std::optional<TrainingState> resume_checkpoint(const std::string& path, const RunConfig& cfg,
                                               Network& model, torch::optim::Optimizer& optimizer) {
  if (!is_file(path)) return std::nullopt;
  torch::serialize::InputArchive archive, model_archive, optim_archive;
  try {
    archive.load_from(path);
  } catch (const c10::Error&) {
    throw DataError(path + ": corrupt checkpoint (delete it to start the run again)");
  }
  const std::string hash = config_hash(cfg);
  c10::IValue v;
  archive.read("config_hash", v);
  std::string written = v.toStringRef();
  // A checkpoint written before schema 7 carries the hash of that version's rule; its config,
  // hashed by this version's, says whether it is this run (observation keys never count).
  if (written != hash && archive.try_read("config_json", v)) {
    try {
      written = config_hash(config_from_json(nlohmann::json::parse(v.toStringRef()), path));
    } catch (const std::exception&) {
      // a config this version cannot read is another run's
    }
  }
  if (written != hash)
    throw ConfigError(path + ": written by a different config (hash " + written +
                      ", this run " + hash +
                      "); use another --out directory or delete the checkpoint");
  archive.read("model", model_archive);
  model.load(model_archive);
  archive.read("optimizer", optim_archive);
  optimizer.load(optim_archive);
  TrainingState st;
  archive.read("epoch", v), st.epoch = v.toInt();
  archive.read("best_acc", v), st.best_acc = v.toDouble();
  archive.read("best_epoch", v), st.best_epoch = v.toInt();
  if (archive.try_read("totals_json", v)) {  // absent in checkpoints written before it existed
    auto t = nlohmann::json::parse(v.toStringRef());
    st.last_metrics = t.at("last_metrics").get<std::map<std::string, double>>();
    st.epoch_seconds = t.at("epoch_seconds"), st.bn_seconds = t.at("bn_seconds");
    st.epochs_timed = t.at("epochs_timed");
  }
  torch::Tensor rng;
  archive.read("rng_state", rng);
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  gen.set_state(rng);
  return st;
}

void load_init_checkpoint(Network& model, const std::string& path) {
  if (!is_file(path))
    throw ConfigError("init.from_checkpoint: " + path +
                      ": no such file (train the full-precision run first, or fix the path)");
  torch::serialize::InputArchive archive, model_archive;
  try {
    archive.load_from(path);
    archive.read("model", model_archive);
  } catch (const c10::Error& e) {
    throw DataError(path + ": not a lowbit checkpoint (" +
                    std::string(e.what_without_backtrace()).substr(0, 120) + ")");
  }
  torch::NoGradGuard g;
  int64_t loaded = 0;
  for (auto& p : model.named_parameters()) {
    torch::Tensor t;
    if (read_nested(model_archive, p.key(), t, false) && t.sizes() == p.value().sizes())
      p.value().copy_(t), ++loaded;
  }
  for (auto& b : model.named_buffers()) {
    torch::Tensor t;
    if (read_nested(model_archive, b.key(), t, true) && t.sizes() == b.value().sizes())
      b.value().copy_(t);
  }
  if (loaded == 0)
    throw ConfigError("init.from_checkpoint: " + path +
                      ": no parameter matches this model (was it trained with another model?)");
}

CheckpointModel load_checkpoint_model(const std::string& path) {
  torch::serialize::InputArchive archive, model_archive;
  try {
    archive.load_from(path);
  } catch (const c10::Error&) {
    throw DataError(path + ": not a lowbit checkpoint (cannot be read; check the path)");
  }
  c10::IValue v;
  CheckpointModel cm;
  if (!archive.try_read("config_json", v))
    throw DataError(path + ": not a lowbit checkpoint (no config)");
  cm.config = config_from_json(nlohmann::json::parse(v.toStringRef()), path);
  archive.read("spec", v);
  auto sp = v.toIntVector();
  cm.spec = {sp[0], sp[1], sp[2], sp[3]};
  if (archive.try_read("bn_state", v)) {
    cm.bn_state = bn_state_from_name(v.toStringRef(), path);
  } else {  // written before the port's calibration existed
    archive.read("bn_discrete", v);
    cm.bn_state = v.toBool() ? BNState::kDiscrete : BNState::kContinuous;
  }
  cm.model = build_network(cm.config, cm.spec, /*load_init=*/false);
  archive.read("model", model_archive);
  cm.model->load(model_archive);
  set_bn_state(*cm.model, cm.bn_state);
  return cm;
}

}  // namespace lowbit
