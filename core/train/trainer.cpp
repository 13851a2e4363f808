#include "core/train/trainer.h"

#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <set>

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>

#include "core/data/dataset.h"
#include "core/error.h"
#include "core/models/models.h"
#include "core/nn/qlayers.h"
#include "core/nn/state_bn.h"
#include "core/quant/registry.h"
#include "core/train/interrupt.h"
#include "core/train/schedules.h"

namespace lowbit {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct EvalResult {
  double loss = 0, acc = 0;
};

// One pass over `data` without gradients, in eval mode.
EvalResult evaluate(Network& model, const DataBundle& bundle, const Dataset& data, int64_t batch_size,
                    torch::Device device) {
  torch::NoGradGuard no_grad;
  model.eval();
  BatchLoader loader(bundle, data, batch_size, /*train=*/false, 0, 0, device);
  double loss_sum = 0;
  int64_t correct = 0;
  for (int64_t b = 0; b < loader.num_batches(); ++b) {
    auto [x, y] = loader.batch(b);
    auto out = model.forward(x);
    loss_sum += torch::nn::functional::cross_entropy(
                    out, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    correct += out.argmax(1).eq(y).sum().item<int64_t>();
  }
  double n = double(std::max<int64_t>(1, data.size()));
  return {loss_sum / n, double(correct) / n};
}

const void* key_of(const torch::Tensor& t) { return t.unsafeGetTensorImpl(); }

std::vector<std::shared_ptr<StateBatchNormImpl>> state_bns(Network& model) {
  std::vector<std::shared_ptr<StateBatchNormImpl>> bns;
  for (const auto& m : model.modules(false))
    if (auto bn = std::dynamic_pointer_cast<StateBatchNormImpl>(m)) bns.push_back(bn);
  return bns;
}

void force_hard(const std::vector<LayerRef>& qlayers, bool on) {
  for (auto& l : qlayers) l.layer->quantizer()->set_force_hard(on);
}

// bn_mode = calibrate_*: recomputes the running statistics (the one set) as the plain
// average over the calibration batches of the discrete network's batch statistics: the
// first n full training batches in file order, no augmentation, the same for every seed
// and epoch (PyTorch's momentum=None cumulative average).
void calibrate_bn(Network& model, const std::vector<LayerRef>& qlayers, const DataBundle& data,
                  const RunConfig& cfg, torch::Device device) {
  torch::NoGradGuard no_grad;
  auto bns = state_bns(model);
  for (auto& bn : bns) bn->reset_running_stats(), bn->set_cumulative(true);
  force_hard(qlayers, true);
  model.train();
  BatchLoader loader(data, data.train, cfg.batch_size, /*train=*/false, 0, 0, device);
  const int64_t n = calibration_batches(cfg, data.train.size());
  for (int64_t b = 0; b < n; ++b) model.forward(loader.batch(b).first);
  for (auto& bn : bns) bn->set_cumulative(false);
  force_hard(qlayers, false);
}

// bn_mode = state: one discrete (one-hot) forward of the batch without gradient, in training
// mode, so that the discrete statistics take the usual momentum update from the hard-weight
// activations. The continuous statistics and the weights are untouched.
void discrete_bn_pass(Network& model, const std::vector<LayerRef>& qlayers, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  set_bn_state(model, BNState::kDiscrete);
  force_hard(qlayers, true);
  model.forward(x);
  force_hard(qlayers, false);
  set_bn_state(model, BNState::kContinuous);
}

// Reads tensor `dotted` ("layer1.0.conv1.weight") from an archive written by Module::save,
// which nests one archive per child module.
bool read_nested(torch::serialize::InputArchive& root, const std::string& dotted, torch::Tensor& out, bool buffer) {
  auto dot = dotted.find('.');
  if (dot == std::string::npos) return root.try_read(dotted, out, buffer);
  torch::serialize::InputArchive child;
  if (!root.try_read(dotted.substr(0, dot), child)) return false;
  return read_nested(child, dotted.substr(dot + 1), out, buffer);
}

// Copies every parameter/buffer of `path` whose name and shape match into `model`.
void load_init_checkpoint(Network& model, const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw ConfigError("init.from_checkpoint: " + path + ": no such file (train the full-precision run first, or fix the path)");
  std::fclose(f);
  torch::serialize::InputArchive archive, model_archive;
  try {
    archive.load_from(path);
    archive.read("model", model_archive);
  } catch (const c10::Error& e) {
    throw DataError(path + ": not a lowbit checkpoint (" + std::string(e.what_without_backtrace()).substr(0, 120) + ")");
  }
  torch::NoGradGuard g;
  int64_t loaded = 0;
  for (auto& p : model.named_parameters()) {
    torch::Tensor t;
    if (read_nested(model_archive, p.key(), t, false) && t.sizes() == p.value().sizes()) p.value().copy_(t), ++loaded;
  }
  for (auto& b : model.named_buffers()) {
    torch::Tensor t;
    if (read_nested(model_archive, b.key(), t, true) && t.sizes() == b.value().sizes()) b.value().copy_(t);
  }
  if (loaded == 0)
    throw ConfigError("init.from_checkpoint: " + path + ": no parameter matches this model (was it trained with another model?)");
}

}  // namespace

int64_t calibration_batches(const RunConfig& cfg, int64_t train_size) {
  return std::min(cfg.quant.bn_calib_batches, train_size / cfg.batch_size);
}

std::vector<ParamGroup> parameter_groups(Network& model, const RunConfig& cfg) {
  // Latent weights a quantizer does not use (SLB) are frozen; weights a quantizer updates
  // itself (Bop) stay out of every group.
  std::set<const void*> frozen, owned, scales, quantizer_own, bn_and_bias;
  for (auto& l : quant_layers(model)) {
    if (l.layer->bias.defined()) bn_and_bias.insert(key_of(l.layer->bias));
    if (auto& q = l.layer->quantizer()) {
      if (!q->uses_latent_weight()) frozen.insert(key_of(l.layer->weight));
      if (q->updates_latent_weight()) owned.insert(key_of(l.layer->weight));
      for (auto& s : q->scale_parameters()) scales.insert(key_of(s));
      for (auto& p : q->parameters()) quantizer_own.insert(key_of(p));
    }
  }
  for (auto& [name, a] : act_layers(model))
    if (a->quantizer())
      for (auto& p : a->quantizer()->parameters()) scales.insert(key_of(p));  // PACT's clip
  for (auto& bn : state_bns(model)) bn_and_bias.insert(key_of(bn->weight)), bn_and_bias.insert(key_of(bn->bias));
  const double wd = cfg.optim.weight_decay;
  std::vector<ParamGroup> g = {{"weights", {}, wd},
                               {"bn_and_bias", {}, cfg.optim.bn_weight_decay ? wd : 0.0},
                               {"scales", {}, cfg.quant.scale_weight_decay ? wd : 0.0},
                               // SLB logits: decay would pull every distribution towards uniform.
                               {"quantizer", {}, 0.0}};
  for (auto& p : model.parameters()) {
    const void* k = key_of(p);
    if (frozen.count(k)) p.set_requires_grad(false);
    else if (owned.count(k)) continue;
    else if (scales.count(k)) g[2].params.push_back(p);
    else if (quantizer_own.count(k)) g[3].params.push_back(p);
    else if (bn_and_bias.count(k)) g[1].params.push_back(p);
    else g[0].params.push_back(p);
  }
  return g;
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::vector<ParamGroup>& groups, const OptimConfig& o) {
  std::vector<torch::optim::OptimizerParamGroup> pg;
  for (auto& g : groups) {
    if (g.params.empty()) continue;
    if (o.name == "sgd")
      pg.emplace_back(g.params, std::make_unique<torch::optim::SGDOptions>(
                                    torch::optim::SGDOptions(o.lr).momentum(o.momentum).nesterov(o.nesterov).weight_decay(g.weight_decay)));
    else
      pg.emplace_back(g.params, std::make_unique<torch::optim::AdamOptions>(
                                    torch::optim::AdamOptions(o.lr).betas({o.beta1, o.beta2}).weight_decay(g.weight_decay)));
  }
  if (o.name == "sgd") return std::make_unique<torch::optim::SGD>(pg, torch::optim::SGDOptions(o.lr));
  return std::make_unique<torch::optim::Adam>(pg, torch::optim::AdamOptions(o.lr));
}

std::string checkpoint_path(const std::string& dir) { return dir + "/checkpoint.pt"; }

int64_t peak_rss_bytes() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return int64_t(ru.ru_maxrss) * 1024;
}

std::shared_ptr<Network> build_network(const RunConfig& cfg, const ModelSpec& spec, bool load_init) {
  torch::manual_seed(uint64_t(cfg.seed));
  auto model = make_model(cfg.model, spec);
  if (load_init && !cfg.init_from_checkpoint.empty()) load_init_checkpoint(*model, cfg.init_from_checkpoint);
  attach_quantizers(*model, cfg.quant);
  return model;
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
  if (!archive.try_read("config_json", v)) throw DataError(path + ": not a lowbit checkpoint (no config)");
  apply_json(cm.config, nlohmann::json::parse(v.toStringRef()), path);
  archive.read("spec", v);
  auto sp = v.toIntVector();
  cm.spec = {sp[0], sp[1], sp[2], sp[3]};
  archive.read("bn_discrete", v);
  cm.bn_discrete = v.toBool();
  cm.model = build_network(cm.config, cm.spec, /*load_init=*/false);
  archive.read("model", model_archive);
  cm.model->load(model_archive);
  set_bn_state(*cm.model, cm.bn_discrete ? BNState::kDiscrete : BNState::kContinuous);
  return cm;
}

double test_accuracy(Network& model, const RunConfig& cfg, const std::string& device) {
  DataBundle data = load_data(cfg.data);
  model.to(torch::Device(device));
  return evaluate(model, data, data.test, cfg.eval_batch_size, torch::Device(device)).acc;
}

TrainResult train_run(const RunConfig& cfg, const TrainOptions& opt, Observer& obs) {
  const auto run_t0 = Clock::now();
  torch::Device device(opt.device);
  if (device.is_cuda() && !torch::cuda::is_available())
    throw ConfigError("--device cuda: this LibTorch has no CUDA support or no GPU is visible (use --device cpu, or build against a CUDA LibTorch)");
  const std::string hash = config_hash(cfg);

  // ---- data, model, quantizers (all bad input surfaces here, before any training) ----
  DataBundle data = load_data(cfg.data);
  const ModelSpec spec{data.channels, data.height, data.width, data.classes};
  auto model = build_network(cfg, spec);
  std::vector<LayerRef> qlayers;
  for (auto& l : quant_layers(*model))
    if (l.layer->quantizer()) qlayers.push_back(l);
  auto all_layers = quant_layers(*model);
  auto acts = act_layers(*model);
  model->to(device);

  auto optimizer = make_optimizer(parameter_groups(*model, cfg), cfg.optim);
  // Weights a quantizer updates itself (Bop) keep their gradient but stay out of the optimizer.
  std::vector<torch::Tensor> owned_weights;
  for (auto& l : all_layers)
    if (auto& q = l.layer->quantizer(); q && q->updates_latent_weight()) owned_weights.push_back(l.layer->weight);

  // ---- batch norm of a network trained through a soft forward (SLB): quant.bn_mode ----
  const bool soft = std::any_of(qlayers.begin(), qlayers.end(),
                                [](const LayerRef& l) { return l.layer->quantizer()->soft_in_training(); });
  const std::string bn_mode = soft ? cfg.quant.bn_mode : "none";
  const bool bn_state = bn_mode == "state";
  if ((bn_mode == "calibrate_each_epoch" || bn_mode == "calibrate_after") &&
      calibration_batches(cfg, data.train.size()) == 0)
    throw ConfigError(fmt::format("quant.bn_mode: {} needs at least one full training batch, but the training set "
                                  "has {} examples and batch_size is {} (lower batch_size or use more data)",
                                  bn_mode, data.train.size(), cfg.batch_size));

  // ---- resume ----
  int64_t start_epoch = 0, best_epoch = -1;
  double best_acc = -1;
  const std::string ckpt = opt.checkpoint_dir.empty() ? "" : checkpoint_path(opt.checkpoint_dir);
  if (opt.resume && !ckpt.empty()) {
    if (FILE* f = std::fopen(ckpt.c_str(), "rb")) {
      std::fclose(f);
      torch::serialize::InputArchive archive, model_archive, optim_archive;
      try {
        archive.load_from(ckpt);
      } catch (const c10::Error&) {
        throw DataError(ckpt + ": corrupt checkpoint (delete it to start the run again)");
      }
      c10::IValue v;
      archive.read("config_hash", v);
      if (v.toStringRef() != hash)
        throw ConfigError(ckpt + ": written by a different config (hash " + v.toStringRef() + ", this run " + hash +
                          "); use another --out directory or delete the checkpoint");
      archive.read("model", model_archive);
      model->load(model_archive);
      archive.read("optimizer", optim_archive);
      optimizer->load(optim_archive);
      archive.read("epoch", v), start_epoch = v.toInt() + 1;
      archive.read("best_acc", v), best_acc = v.toDouble();
      archive.read("best_epoch", v), best_epoch = v.toInt();
      torch::Tensor rng;
      archive.read("rng_state", rng);
      at::Generator gen = at::detail::getDefaultCPUGenerator();
      gen.set_state(rng);
    }
  }

  const int64_t batches = BatchLoader(data, data.train, cfg.batch_size, true, 0, 0, torch::kCPU).num_batches();
  RunStartEvent start{&cfg, hash, start_epoch, cfg.epochs, batches, data.train.size(), count_parameters(*model)};
  obs.on_run_start(start);

  TrainResult result;
  result.status = "done";
  std::map<std::string, double> last_metrics;
  double epoch_seconds_sum = 0, bn_seconds_sum = 0;
  int64_t epochs_run = 0;

  for (int64_t epoch = start_epoch; epoch < cfg.epochs; ++epoch) {
    const auto epoch_t0 = Clock::now();
    model->train();
    BatchLoader loader(data, data.train, cfg.batch_size, /*train=*/true, uint64_t(cfg.seed), epoch, device);
    const int64_t nb = loader.num_batches();
    const double lr0 = lr_at(cfg.optim, cfg.epochs, double(epoch));
    // Per-layer gradient norms, averaged over the epoch's steps.
    std::vector<torch::Tensor> grad_norm(all_layers.size());
    std::map<std::string, torch::Tensor> scale_grad_norm;
    torch::Tensor loss_sum = torch::zeros({}, torch::kFloat64), correct = torch::zeros({}, torch::kInt64);
    int64_t seen = 0;
    double state_bn_seconds = 0;
    for (int64_t b = 0; b < nb; ++b) {
      if (interrupt_count().load() > 0) {
        RunEndEvent end{"interrupted", fmt::format("interrupted at epoch {}, batch {}", epoch + 1, b + 1), {}};
        obs.on_run_end(end);
        throw Interrupted("interrupted at epoch " + std::to_string(epoch + 1) + "; re-run the same command to resume");
      }
      const double t = double(epoch) + double(b) / double(nb);
      const double lr = lr_at(cfg.optim, cfg.epochs, t);
      for (auto& g : optimizer->param_groups()) g.options().set_lr(lr);
      for (auto& l : qlayers) l.layer->quantizer()->set_progress(t, cfg.epochs);

      auto [x, y] = loader.batch(b);
      auto out = model->forward(x);
      auto loss = torch::nn::functional::cross_entropy(out, y);
      const double loss_value = loss.item<double>();
      if (!std::isfinite(loss_value)) {
        result.status = "diverged";
        result.error = fmt::format("loss is {} at epoch {}, batch {} (lower optim.lr or check the data)",
                                   std::isnan(loss_value) ? "NaN" : "Inf", epoch + 1, b + 1);
        break;
      }
      optimizer->zero_grad();
      for (auto& w : owned_weights)
        if (w.grad().defined()) w.grad().zero_();
      loss.backward();
      optimizer->step();
      {
        torch::NoGradGuard g;
        for (size_t i = 0; i < all_layers.size(); ++i) {
          auto& layer = all_layers[i].layer;
          if (auto& q = layer->quantizer(); q && q->updates_latent_weight()) q->update(layer->weight);
          torch::Tensor grad = layer->weight.grad();
          if (!grad.defined() && layer->quantizer() && !layer->quantizer()->uses_latent_weight()) continue;
          if (grad.defined()) {
            auto n = grad.norm().to(torch::kCPU, torch::kFloat64);
            grad_norm[i] = grad_norm[i].defined() ? grad_norm[i] + n : n;
          }
          if (auto& q = layer->quantizer()) {
            for (auto& p : q->named_parameters(false)) {
              if (!p.value().grad().defined()) continue;
              auto n = p.value().grad().norm().to(torch::kCPU, torch::kFloat64);
              auto& acc = scale_grad_norm[all_layers[i].name + "\t" + p.key()];
              acc = acc.defined() ? acc + n : n;
            }
          }
        }
        loss_sum += loss.detach().to(torch::kCPU, torch::kFloat64) * double(y.size(0));
        correct += out.argmax(1).eq(y).sum().to(torch::kCPU);
      }
      seen += y.size(0);
      if (bn_state && (epoch * nb + b) % cfg.quant.state_bn_every == 0) {
        const auto t0 = Clock::now();
        discrete_bn_pass(*model, qlayers, x);  // after the step: the statistics of the new weights
        state_bn_seconds += seconds_since(t0);
      }
      if (b % 10 == 9 || b == nb - 1) {
        double secs = std::max(1e-9, seconds_since(epoch_t0));
        obs.on_batch({epoch, b + 1, nb, loss_sum.item<double>() / double(seen),
                      double(correct.item<int64_t>()) / double(seen), double(seen) / secs});
      }
    }
    if (result.status == "diverged") break;
    const double train_seconds = seconds_since(epoch_t0);

    // ---- batch-norm calibration (calibrate modes), then evaluation on the test set with
    // activation sparsity and every layer's input sparsity ----
    EpochEvent ev;
    ev.epoch = epoch;
    ev.epochs = cfg.epochs;
    auto& m = ev.metrics;
    const bool calibrate = bn_mode == "calibrate_each_epoch" || (bn_mode == "calibrate_after" && epoch + 1 == cfg.epochs);
    double calib_seconds = 0;
    if (calibrate) {
      m["test_acc_before_calib"] = evaluate(*model, data, data.test, cfg.eval_batch_size, device).acc;
      const auto t0 = Clock::now();
      calibrate_bn(*model, qlayers, data, cfg, device);
      calib_seconds = seconds_since(t0);
    }
    if (soft) {
      m["temperature"] = qlayers.front().layer->quantizer()->temperature_value();
      m["state_bn_seconds"] = state_bn_seconds;
      m["calib_seconds"] = calib_seconds;
    }
    if (bn_state) set_bn_state(*model, BNState::kDiscrete);  // evaluation uses the discrete statistics
    for (auto& [name, a] : acts) a->output_zeros.start();
    for (auto& l : all_layers) l.layer->input_zeros.start();
    EvalResult test = evaluate(*model, data, data.test, cfg.eval_batch_size, device);
    double act_mean = 0;
    for (auto& [name, a] : acts) {
      double s = a->output_zeros.stop();
      act_mean += s / double(acts.size());
      ev.layers.push_back({name, "act_sparsity", s});
    }
    for (auto& l : all_layers) ev.layers.push_back({l.name, "in_sparsity", l.layer->input_zeros.stop()});
    m["train_loss"] = loss_sum.item<double>() / double(std::max<int64_t>(1, seen));
    m["train_acc"] = double(correct.item<int64_t>()) / double(std::max<int64_t>(1, seen));
    m["test_loss"] = test.loss;
    m["test_acc"] = test.acc;
    if (data.val.size() > 0) {
      EvalResult val = evaluate(*model, data, data.val, cfg.eval_batch_size, device);
      m["val_loss"] = val.loss, m["val_acc"] = val.acc;
    }
    set_bn_state(*model, BNState::kContinuous);  // training always uses the continuous statistics
    m["lr"] = lr0;
    m["act_sparsity_mean"] = act_mean;
    m["train_seconds"] = train_seconds;
    m["images_per_second"] = double(seen) / std::max(1e-9, train_seconds);

    // ---- per-layer statistics ----
    for (size_t i = 0; i < all_layers.size(); ++i) {
      auto& l = all_layers[i];
      // Shape facts for the energy and size tables: MACs per example, bits per weight.
      ev.layers.push_back({l.name, "macs", double(l.layer->macs())});
      ev.layers.push_back({l.name, "weights", double(l.layer->weight.numel())});
      if (l.first) ev.layers.push_back({l.name, "first", 1.0});
      ev.layers.push_back({l.name, "weight_bits", double(l.layer->quantizer() ? l.layer->quantizer()->weight_bits() : 32)});
      if (l.layer->quantizer()) ev.layers.push_back({l.name, "weight_levels", double(l.layer->quantizer()->weight_levels())});
      if (grad_norm[i].defined()) ev.layers.push_back({l.name, "grad_norm", grad_norm[i].item<double>() / double(nb)});
      if (auto& q = l.layer->quantizer()) {
        StatMap s;
        torch::NoGradGuard g;
        q->collect_stats(l.layer->weight.detach(), s);
        for (auto& [k, v] : s) ev.layers.push_back({l.name, k, v});
      }
    }
    for (auto& [key, v] : scale_grad_norm) {
      auto tab = key.find('\t');
      ev.layers.push_back({key.substr(0, tab), "grad_norm_" + key.substr(tab + 1), v.item<double>() / double(nb)});
    }

    const double sel = data.val.size() > 0 ? m["val_acc"] : m["test_acc"];
    if (sel > best_acc) best_acc = sel, best_epoch = epoch;
    m["epoch_seconds"] = seconds_since(epoch_t0);
    epoch_seconds_sum += m["epoch_seconds"];
    bn_seconds_sum += state_bn_seconds + calib_seconds;
    ++epochs_run;
    last_metrics = m;

    // Observers first, checkpoint second: if the process dies between the two, the resumed
    // run repeats this epoch (deterministically) and rewrites its rows; the reverse order
    // could lose them.
    obs.on_epoch_end(ev);
    // ---- checkpoint (atomic: write then rename) ----
    if (!ckpt.empty() && ((epoch + 1) % cfg.checkpoint_every == 0 || epoch + 1 == cfg.epochs)) {
      torch::serialize::OutputArchive archive, model_archive, optim_archive;
      model->save(model_archive);
      optimizer->save(optim_archive);
      archive.write("model", model_archive);
      archive.write("optimizer", optim_archive);
      archive.write("epoch", c10::IValue(epoch));
      archive.write("best_acc", c10::IValue(best_acc));
      archive.write("best_epoch", c10::IValue(best_epoch));
      archive.write("config_hash", c10::IValue(hash));
      archive.write("config_json", c10::IValue(to_json(cfg).dump()));
      archive.write("spec", c10::IValue(std::vector<int64_t>{spec.channels, spec.height, spec.width, spec.classes}));
      archive.write("bn_discrete", c10::IValue(bn_state));
      archive.write("rng_state", at::Generator(at::detail::getDefaultCPUGenerator()).get_state());
      archive.save_to(ckpt + ".tmp");
      if (std::rename((ckpt + ".tmp").c_str(), ckpt.c_str()) != 0)
        throw Error(ckpt + ": cannot write checkpoint (disk full or directory not writable?)");
    }
    if (opt.stop_after_epoch > 0 && epoch + 1 >= opt.stop_after_epoch && epoch + 1 < cfg.epochs) {
      result.status = "stopped";
      break;
    }
  }

  // ---- summary ----
  auto& s = result.summary;
  if (last_metrics.count("test_acc")) {
    s["final_test_acc"] = last_metrics["test_acc"];
    s["final_train_loss"] = last_metrics["train_loss"];
    s["final_act_sparsity_mean"] = last_metrics["act_sparsity_mean"];
    if (last_metrics.count("val_acc")) s["final_val_acc"] = last_metrics["val_acc"];
  }
  if (best_epoch >= 0) {
    s[data.val.size() > 0 ? "best_val_acc" : "best_test_acc"] = best_acc;
    s["best_epoch"] = double(best_epoch + 1);
  }
  s["parameters"] = double(count_parameters(*model));
  double logits_bytes = 0;
  for (auto& l : qlayers)
    for (auto& p : l.layer->quantizer()->named_parameters(false))
      if (p.key() == "logits") logits_bytes += double(p.value().numel() * p.value().element_size());
  if (logits_bytes > 0) s["logits_bytes"] = logits_bytes;
  double param_bytes = 0;
  for (auto& p : model->parameters())
    if (p.requires_grad()) param_bytes += double(p.numel() * p.element_size());
  s["param_bytes"] = param_bytes;
  // Deployed size: quantized layers at their bits per weight, everything else float32
  // (lowbit export writes this plus a small header).
  double packed = 0;
  for (auto& l : all_layers) {
    auto& q = l.layer->quantizer();
    packed += q ? std::ceil(double(l.layer->weight.numel() * q->weight_bits()) / 8.0) : 4.0 * double(l.layer->weight.numel());
    if (l.layer->bias.defined()) packed += 4.0 * double(l.layer->bias.numel());
  }
  for (const auto& m : model->modules(false))
    if (auto bn = std::dynamic_pointer_cast<StateBatchNormImpl>(m)) packed += 4.0 * 2 * double(bn->weight.numel());
  s["packed_model_bytes"] = packed;
  s["peak_rss_bytes"] = double(peak_rss_bytes());
  s["wall_seconds"] = seconds_since(run_t0);
  if (epochs_run > 0) s["mean_epoch_seconds"] = epoch_seconds_sum / double(epochs_run);
  if (epochs_run > 0 && soft) s["mean_bn_seconds"] = bn_seconds_sum / double(epochs_run);
  if (result.status != "stopped") obs.on_run_end({result.status, result.error, s});
  return result;
}

}  // namespace lowbit
