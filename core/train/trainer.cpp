#include "core/train/trainer.h"
#include "core/nn/torch_compat.h"

#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <set>

#include <fmt/format.h>

#include "core/data/dataset.h"
#include "core/error.h"
#include "core/models/models.h"
#include "core/nn/qlayers.h"
#include "core/nn/state_bn.h"
#include "core/quant/export.h"
#include "core/quant/registry.h"
#include "core/train/health.h"
#include "core/train/interrupt.h"
#include "core/schedule/schedules.h"
#include "core/train/keys.h"

namespace lowbit {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

const void* key_of(const torch::Tensor& t) { return t.unsafeGetTensorImpl(); }

struct EvalResult {
  double loss = 0, acc = 0;
};

// On the CPU an evaluation batch goes through the network at most this many examples at a
// time: beyond it the activations overflow the cores' caches, and the pass gets slower (on
// small_cnn, 10,000 test images take 1.15 s at 128 and 1.53 s at 1000). Evaluation mode makes
// every example's output independent of its batch, so accuracy does not depend on it; the
// loss sum only to float rounding. Not so where batch norm uses each batch's statistics
// (BNState::kBatch): there evaluation keeps eval_batch_size on every device.
constexpr int64_t kCpuEvalChunk = 128;

bool normalises_with_batch(Network& model) {
  for (const auto& m : model.modules(false))
    if (auto bn = std::dynamic_pointer_cast<StateBatchNormImpl>(m))
      return bn->state() == BNState::kBatch;
  return false;
}

// One pass over `data` without gradients, in eval mode. Inference mode (no autograd
// bookkeeping at all, no version counters) where nothing made here is kept: the loss and the
// count are summed on the device (double, as on the host) and read once, at the end, so that
// a GPU is never made to wait for the host between batches.
EvalResult evaluate(Network& model, const DataBundle& bundle, const Dataset& data,
                    int64_t batch_size, torch::Device device) {
  c10::InferenceMode inference;
  model.eval();
  // Chunks change nothing unless batch norm normalises with the batch's own statistics.
  if (device.is_cpu() && !normalises_with_batch(model)) batch_size = std::min(batch_size, kCpuEvalChunk);
  BatchLoader loader(bundle, data, batch_size, /*train=*/false, 0, 0, device);
  auto loss_sum = torch::zeros({}, torch::dtype(torch::kFloat64).device(device));
  auto correct = torch::zeros({}, torch::dtype(torch::kInt64).device(device));
  for (int64_t b = 0; b < loader.num_batches(); ++b) {
    auto [x, y] = loader.batch(b);
    auto out = model.forward(x);
    loss_sum += torch::nn::functional::cross_entropy(
                    out, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .to(torch::kFloat64);
    correct += out.argmax(1).eq(y).sum();
  }
  double n = double(std::max<int64_t>(1, data.size()));
  return {loss_sum.item<double>() / n, double(correct.item<int64_t>()) / n};
}

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

// bn_mode = calibrate_port: the golden-stick port's BNCalibrationCallback. One pass of the
// one-hot forward over the whole training set, augmented and shuffled as training is (the
// port runs model.eval on its training dataset), continues the running average at the
// ordinary momentum (0.1; MindSpore's 0.9 is 1 - 0.1): no reset. The order and augmentation
// come from a seed of their own, so that training's own data order is that of every mode.
void calibrate_bn_port(Network& model, const std::vector<LayerRef>& qlayers, const DataBundle& data,
                       const RunConfig& cfg, int64_t epoch, torch::Device device) {
  torch::NoGradGuard no_grad;
  force_hard(qlayers, true);
  model.train();
  BatchLoader loader(data, data.train, cfg.batch_size, /*train=*/true,
                     mix_seed(uint64_t(cfg.seed), kPortCalibrationStream, uint64_t(epoch)), epoch, device);
  for (int64_t b = 0; b < loader.num_batches(); ++b) model.forward(loader.batch(b).first);
  force_hard(qlayers, false);
}

// Everything the steps of one run share.
struct Run {
  const RunConfig& cfg;
  torch::Device device;
  DataBundle data;
  ModelSpec spec;
  std::shared_ptr<Network> model;
  std::vector<LayerRef> layers;   ///< every conv/linear layer
  std::vector<LayerRef> qlayers;  ///< the quantized ones
  std::vector<std::pair<std::string, std::shared_ptr<ActImpl>>> acts;
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  std::vector<torch::Tensor>
      owned_weights;             ///< updated by their quantizer (Bop), not the optimizer
  bool soft = false;             ///< a quantizer trains through a soft forward (SLB)
  BnMode bn_mode = BnMode::kNone;  ///< quant.bn_mode where soft, else none
  GradSpikeMonitor spike{0};     ///< health.grad_spike
  bool port_calibrated = false;  ///< calibrate_port has run once: use_batch_statistics is on
  /// Each quantized layer's discrete levels (packed codes) at the end of the last epoch, for
  /// flip_rate; by layer name, empty until an epoch has ended in this process.
  std::map<std::string, std::vector<uint8_t>> last_codes = {};
  /// The same after the last optimizer step, for diag.step_flips; empty until a step in this
  /// process.
  std::map<std::string, std::vector<uint8_t>> step_codes = {};
  bool bn_discrete() const { return bn_mode == BnMode::kState; }
  /// The statistics evaluation normalises with.
  BNState eval_bn_state() const {
    return bn_discrete() ? BNState::kDiscrete : port_calibrated ? BNState::kBatch : BNState::kContinuous;
  }
};

// Data, model, quantizers and optimizer: all bad input surfaces here, before any training.
Run make_run(const RunConfig& cfg, const TrainOptions& opt) {
  check_device(opt.device);  // before loading any data
  const torch::Device device(opt.device);
  Run run{cfg, device, load_data(cfg.data), {}, nullptr, {}, {}, {}, nullptr, {}};
  place_on(run.data, device);  // a GPU holds the data: no host-to-device copy per step
  run.spike = GradSpikeMonitor(cfg.health.grad_spike);
  run.spec = {run.data.channels, run.data.height, run.data.width, run.data.classes};
  run.model = build_network(cfg, run.spec);
  run.layers = quant_layers(*run.model);
  for (auto& l : run.layers)
    if (l.layer->quantizer()) run.qlayers.push_back(l);
  run.acts = act_layers(*run.model);
  run.model->to(run.device);
  run.optimizer = make_optimizer(parameter_groups(*run.model, cfg), cfg.optim);
  for (auto& l : run.layers)
    if (auto& q = l.layer->quantizer(); q && q->updates_latent_weight())
      run.owned_weights.push_back(l.layer->weight);
  run.soft = std::any_of(run.qlayers.begin(), run.qlayers.end(), [](const LayerRef& l) {
    return l.layer->quantizer()->soft_in_training();
  });
  if (run.soft) run.bn_mode = cfg.quant.bn_mode;
  if ((run.bn_mode == BnMode::kCalibrateEachEpoch || run.bn_mode == BnMode::kCalibrateAfter) &&
      calibration_batches(cfg, run.data.train.size()) == 0)
    throw ConfigError(fmt::format(
        "quant.bn_mode: {} needs at least one full training batch, but the training set "
        "has {} examples and batch_size is {} (lower batch_size or use more data)",
        choice_name(run.bn_mode), run.data.train.size(), cfg.batch_size));
  return run;
}

// What one epoch of training produced. The sums stay on the run's device, read at the
// progress line (every 10 steps) and at the end of the epoch, never per step.
struct EpochTraining {
  explicit EpochTraining(torch::Device d)
      : loss_sum(torch::zeros({}, torch::dtype(torch::kFloat64).device(d))),
        correct(torch::zeros({}, torch::dtype(torch::kInt64).device(d))),
        first_nonfinite(torch::full({}, -1, torch::dtype(torch::kInt64).device(d))) {}
  torch::Tensor loss_sum, correct;
  torch::Tensor first_nonfinite;  ///< off the CPU: the first batch whose loss was NaN/Inf, or -1
  int64_t seen = 0, batches = 0;
  std::vector<torch::Tensor> grad_norm;                  ///< per layer, summed over steps
  std::map<std::string, torch::Tensor> param_grad_norm;  ///< "layer\tparameter" of quantizers
  double seconds = 0, state_bn_seconds = 0;
  std::string diverged;  ///< why the run diverged; "" if it did not
  std::string stopped;   ///< the health rule a step broke (health.grad_spike); "" if none
  torch::Tensor step_sq;  ///< this step's squared gradient norm, when health.grad_spike is on
  /// diag.step_flips: per quantized layer, the sum of the steps' flip rates and their count.
  std::map<std::string, std::pair<double, int64_t>> step_flips;
  double loss() const { return loss_sum.item<double>() / double(std::max<int64_t>(1, seen)); }
  double acc() const {
    return double(correct.item<int64_t>()) / double(std::max<int64_t>(1, seen));
  }
};

// After a step: Bop's own update, and the gradient norms of every latent weight and
// quantizer parameter, summed for the epoch mean.
void after_step(Run& run, EpochTraining& tr) {
  torch::NoGradGuard g;
  for (size_t i = 0; i < run.layers.size(); ++i) {
    auto& layer = run.layers[i].layer;
    auto& q = layer->quantizer();
    if (q && q->updates_latent_weight()) q->update(layer->weight);
    // SLB has no latent weight (its weight has no gradient); its logits still get theirs below.
    torch::Tensor grad = layer->weight.grad();
    if (grad.defined()) {
      auto n = grad.norm().to(torch::kFloat64);
      tr.grad_norm[i] = tr.grad_norm[i].defined() ? tr.grad_norm[i] + n : n;
      if (run.spike.active()) tr.step_sq = tr.step_sq.defined() ? tr.step_sq + n * n : n * n;
    }
    if (!q) continue;
    for (auto& p : q->named_parameters(false)) {
      if (!p.value().grad().defined()) continue;
      auto n = p.value().grad().norm().to(torch::kFloat64);
      auto& acc = tr.param_grad_norm[run.layers[i].name + "\t" + p.key()];
      acc = acc.defined() ? acc + n : n;
    }
  }
}

// diag.step_flips: each quantized layer's share of weights whose level this step changed.
void count_step_flips(Run& run, EpochTraining& tr) {
  torch::NoGradGuard g;
  for (auto& l : run.qlayers)
    if (auto f = flip_rate(*l.layer->quantizer(), l.layer->weight.detach(), run.step_codes[l.name])) {
      auto& [sum, n] = tr.step_flips[l.name];
      sum += *f, ++n;
    }
}

std::string diverged_message(const char* value, int64_t epoch, int64_t batch) {
  return fmt::format("loss is {} at epoch {}, batch {} (lower optim.lr or check the data)", value,
                     epoch + 1, batch + 1);
}

// Off the CPU the loss is not read per step (that would make the GPU wait for the host each
// step): the first non-finite batch is noted on the device, and read with the progress line.
// The run is marked diverged at that read, naming that batch; the up to 9 steps between were
// taken with a non-finite loss, on weights the run no longer uses.
bool nonfinite_seen(EpochTraining& tr, int64_t epoch) {
  const int64_t bad = tr.first_nonfinite.item<int64_t>();
  if (bad < 0) return false;
  tr.diverged = diverged_message("NaN or Inf", epoch, bad);
  return true;
}

// One epoch of training steps. Interrupts throw (after on_run_end); a NaN/Inf loss stops
// the epoch with `diverged` set.
EpochTraining train_epoch(Run& run, int64_t epoch, Observer& obs) {
  const RunConfig& cfg = run.cfg;
  const auto t0 = Clock::now();
  const bool on_cpu = run.device.is_cpu();
  EpochTraining tr(run.device);
  tr.grad_norm.resize(run.layers.size());
  run.model->train();
  BatchLoader loader(run.data, run.data.train, cfg.batch_size, /*train=*/true, uint64_t(cfg.seed),
                     epoch, run.device);
  const int64_t nb = tr.batches = loader.num_batches();
  for (int64_t b = 0; b < nb; ++b) {
    if (interrupt_count().load() > 0) {
      obs.on_run_end({RunStatus::kInterrupted,
                      fmt::format("interrupted at epoch {}, batch {}", epoch + 1, b + 1),
                      {}});
      throw Interrupted("interrupted at epoch " + std::to_string(epoch + 1) +
                        "; re-run the same command to resume");
    }
    const double t = double(epoch) + double(b) / double(nb);
    const double lr = lr_at(cfg.optim, cfg.epochs, t);
    for (auto& g : run.optimizer->param_groups()) g.options().set_lr(lr);
    for (auto& l : run.qlayers) l.layer->quantizer()->set_progress(t, cfg.epochs);

    auto [x, y] = loader.batch(b);
    auto out = run.model->forward(x);
    auto loss = torch::nn::functional::cross_entropy(out, y);
    if (on_cpu) {  // a CPU tensor's value costs nothing to read: stop before the step
      if (const double v = loss.item<double>(); !std::isfinite(v)) {
        tr.diverged = diverged_message(std::isnan(v) ? "NaN" : "Inf", epoch, b);
        return tr;
      }
    } else {
      torch::NoGradGuard g;
      auto first = tr.first_nonfinite;
      first.copy_(torch::where((first < 0) & ~torch::isfinite(loss.detach()),
                               torch::full({}, b, first.options()), first));
    }
    run.optimizer->zero_grad();
    for (auto& w : run.owned_weights)
      if (w.grad().defined()) w.grad().zero_();
    loss.backward();
    run.optimizer->step();
    after_step(run, tr);
    if (cfg.diag.step_flips) count_step_flips(run, tr);
    if (tr.step_sq.defined()) {
      auto verdict = run.spike.step(std::sqrt(tr.step_sq.item<double>()), epoch, b);
      tr.step_sq = torch::Tensor();
      if (verdict) {
        tr.stopped = *verdict;
        return tr;
      }
    }
    {
      torch::NoGradGuard g;
      tr.loss_sum += loss.detach().to(torch::kFloat64) * double(y.size(0));
      tr.correct += out.argmax(1).eq(y).sum();
    }
    tr.seen += y.size(0);
    if (run.bn_discrete() && (epoch * nb + b) % cfg.quant.state_bn_every == 0) {
      const auto s0 = Clock::now();
      // After the step: the discrete statistics of the new weights.
      discrete_bn_pass(*run.model, run.qlayers, x);
      tr.state_bn_seconds += seconds_since(s0);
    }
    if (b % 10 == 9 || b == nb - 1) {
      if (!on_cpu && nonfinite_seen(tr, epoch)) return tr;
      double secs = std::max(1e-9, seconds_since(t0));
      obs.on_batch({epoch, b + 1, nb, tr.loss(), tr.acc(), double(tr.seen) / secs});
    }
  }
  tr.seconds = seconds_since(t0);
  return tr;
}

// diag.soft_eval: the soft network's test accuracy (expected weights at the current
// temperature, the continuous batch-norm statistics).
double soft_test_accuracy(Run& run) {
  struct Soft {  // the one-hot forward comes back even when evaluation throws
    Run& run;
    explicit Soft(Run& r) : run(r) { set(true); }
    ~Soft() { set(false); }
    void set(bool on) {
      for (auto& l : run.qlayers) l.layer->quantizer()->set_force_soft(on);
    }
  } soft(run);
  set_bn_state(*run.model, BNState::kContinuous);
  return evaluate(*run.model, run.data, run.data.test, run.cfg.eval_batch_size, run.device).acc;
}

// Batch-norm calibration (calibrate modes), then evaluation on the test set with activation
// sparsity and every layer's input sparsity, and on the validation split if there is one.
EpochEvent evaluate_epoch(Run& run, int64_t epoch, const EpochTraining& tr) {
  const RunConfig& cfg = run.cfg;
  EpochEvent ev;
  ev.epoch = epoch;
  ev.epochs = cfg.epochs;
  auto& m = ev.metrics;
  if (run.soft && cfg.diag.soft_eval) m[key::kTestAccSoft] = soft_test_accuracy(run);  // before calibrating
  const bool port = run.bn_mode == BnMode::kCalibratePort && port_calibrates(cfg, epoch + 1);
  const bool calibrate = port || run.bn_mode == BnMode::kCalibrateEachEpoch ||
                         (run.bn_mode == BnMode::kCalibrateAfter && epoch + 1 == cfg.epochs);
  double calib_seconds = 0;
  if (calibrate) {
    if (cfg.diag.before_calib)  // an observation: one more pass over the test set
      m[key::kTestAccBeforeCalib] =
          evaluate(*run.model, run.data, run.data.test, cfg.eval_batch_size, run.device).acc;
    const auto t0 = Clock::now();
    if (port)
      calibrate_bn_port(*run.model, run.qlayers, run.data, cfg, epoch, run.device);
    else
      calibrate_bn(*run.model, run.qlayers, run.data, cfg, run.device);
    calib_seconds = seconds_since(t0);
    run.port_calibrated = run.port_calibrated || port;
  }
  if (run.soft) {
    m[key::kTemperature] = run.qlayers.front().layer->quantizer()->temperature_value();
    m[key::kStateBnSeconds] = tr.state_bn_seconds;
    m[key::kCalibSeconds] = calib_seconds;
  }
  set_bn_state(*run.model, run.eval_bn_state());
  for (auto& [name, a] : run.acts) a->output_zeros.start();
  for (auto& l : run.layers) l.layer->input_zeros.start();
  EvalResult test = evaluate(*run.model, run.data, run.data.test, cfg.eval_batch_size, run.device);
  double act_mean = 0;
  for (auto& [name, a] : run.acts) {
    double s = a->output_zeros.stop();
    act_mean += s / double(run.acts.size());
    ev.layers.push_back({name, key::kActSparsity, s});
  }
  for (auto& l : run.layers)
    ev.layers.push_back({l.name, key::kInSparsity, l.layer->input_zeros.stop()});
  m[key::kTrainLoss] = tr.loss();
  m[key::kTrainAcc] = tr.acc();
  m[key::kTestLoss] = test.loss;
  m[key::kTestAcc] = test.acc;
  if (run.data.val.size() > 0) {
    EvalResult val = evaluate(*run.model, run.data, run.data.val, cfg.eval_batch_size, run.device);
    m[key::kValLoss] = val.loss, m[key::kValAcc] = val.acc;
  }
  set_bn_state(*run.model, BNState::kContinuous);  // training always updates the continuous set
  m[key::kLr] = lr_at(cfg.optim, cfg.epochs, double(epoch));
  m[key::kActSparsityMean] = act_mean;
  m[key::kTrainSeconds] = tr.seconds;
  m[key::kImagesPerSecond] = double(tr.seen) / std::max(1e-9, tr.seconds);
  return ev;
}


// Per-layer statistics at the end of an epoch: shape facts for the energy and size tables,
// epoch-mean gradient norms, and what each quantizer reports.
void layer_stats(Run& run, const EpochTraining& tr, EpochEvent& ev) {
  const double nb = double(tr.batches);
  // Every activation position has the same quantizer (or none: ReLU, 32-bit values).
  const std::shared_ptr<ActQuantizer> act_q = run.acts.empty() ? nullptr : run.acts.front().second->quantizer();
  const int act_bits = act_q ? act_q->activation_bits() : 32;
  for (size_t i = 0; i < run.layers.size(); ++i) {
    auto& l = run.layers[i];
    auto& q = l.layer->quantizer();
    ev.layers.push_back({l.name, key::kMacs, double(l.layer->macs())});
    ev.layers.push_back({l.name, key::kWeights, double(l.layer->weight.numel())});
    if (l.first) ev.layers.push_back({l.name, key::kFirst, 1.0});
    ev.layers.push_back({l.name, key::kInBits, double(l.first ? 32 : act_bits)});
    ev.layers.push_back({l.name, key::kWeightBits, double(q ? q->weight_bits() : 32)});
    if (tr.grad_norm[i].defined())
      ev.layers.push_back({l.name, key::kGradNorm, tr.grad_norm[i].item<double>() / nb});
    if (!q) continue;
    ev.layers.push_back({l.name, key::kWeightLevels, double(q->weight_levels())});
    StatMap s;
    torch::NoGradGuard g;
    q->collect_stats(l.layer->weight.detach(), s);
    for (auto& [k, v] : s) ev.layers.push_back({l.name, k, v});
    if (auto f = flip_rate(*q, l.layer->weight.detach(), run.last_codes[l.name]))
      ev.layers.push_back({l.name, key::kFlipRate, *f});
    if (auto it = tr.step_flips.find(l.name); it != tr.step_flips.end() && it->second.second > 0)
      ev.layers.push_back({l.name, key::kFlipRateStep, it->second.first / double(it->second.second)});
  }
  for (auto& [layer_param, v] : tr.param_grad_norm) {
    auto tab = layer_param.find('\t');
    ev.layers.push_back({layer_param.substr(0, tab), key::kGradNormPrefix + layer_param.substr(tab + 1),
                         v.item<double>() / nb});
  }
}

// The run's summary: final and best accuracy, sizes, memory and time.
std::map<std::string, double> run_summary(Run& run, const TrainingState& state,
                                          Clock::time_point run_t0) {
  std::map<std::string, double> s;
  const bool val = run.data.val.size() > 0;
  auto& last = state.last_metrics;
  if (last.count(key::kTestAcc)) {
    s[key::kFinalTestAcc] = last.at(key::kTestAcc);
    s[key::kFinalTrainLoss] = last.at(key::kTrainLoss);
    s[key::kFinalActSparsityMean] = last.at(key::kActSparsityMean);
    if (last.count(key::kValAcc)) s[key::kFinalValAcc] = last.at(key::kValAcc);
  }
  if (state.best_epoch >= 0) {
    s[val ? key::kBestValAcc : key::kBestTestAcc] = state.best_acc;
    s[key::kBestEpoch] = double(state.best_epoch + 1);
  }
  s[key::kParameters] = double(count_parameters(*run.model));
  double logits_bytes = 0, param_bytes = 0;
  for (auto& l : run.qlayers)
    for (auto& p : l.layer->quantizer()->named_parameters(false))
      if (p.key() == "logits") logits_bytes += double(p.value().numel() * p.value().element_size());
  if (logits_bytes > 0) s[key::kLogitsBytes] = logits_bytes;
  for (auto& p : run.model->parameters())
    if (p.requires_grad()) param_bytes += double(p.numel() * p.element_size());
  s[key::kParamBytes] = param_bytes;
  // Deployed size: exactly what `lowbit export` writes for this model.
  if (auto packed = packed_model_bytes(*run.model, run.cfg, run.spec, run.eval_bn_state()))
    s[key::kPackedModelBytes] = double(*packed);
  s[key::kPeakRssBytes] = double(peak_rss_bytes());
  s[key::kWallSeconds] = seconds_since(run_t0);
  // Over every epoch of the run, also those trained before a resume.
  if (state.epochs_timed > 0)
    s[key::kMeanEpochSeconds] = state.epoch_seconds / double(state.epochs_timed);
  if (state.epochs_timed > 0 && run.soft)
    s[key::kMeanBnSeconds] = state.bn_seconds / double(state.epochs_timed);
  return s;
}

}  // namespace

void check_device(const std::string& device) {
  std::optional<torch::Device> d;
  try {
    d = torch::Device(device);
  } catch (const std::exception&) {
  }
  if (!d || (!d->is_cpu() && !d->is_cuda()))
    throw ConfigError("--device " + device + ": expected cpu, cuda or cuda:N");
  if (!d->is_cuda()) return;
  const std::string build = libtorch_build();
  if (!libtorch_has_cuda())
    throw ConfigError("--device " + device + ": this lowbit is built against LibTorch " + build +
                      ", without CUDA; use --device cpu, or build with make build TORCH=pip (README, CUDA)");
  if (!torch::cuda::is_available())
    throw ConfigError("--device " + device + ": LibTorch " + build + " has CUDA, but no GPU is visible here; use --device cpu");
  if (d->has_index() && d->index() >= int(torch::cuda::device_count()))
    throw ConfigError(fmt::format("--device {}: {} GPU(s) visible (cuda:0 to cuda:{})", device,
                                  torch::cuda::device_count(), torch::cuda::device_count() - 1));
}

std::optional<double> flip_rate(WeightQuantizer& q, const torch::Tensor& w, std::vector<uint8_t>& last) {
  if (!q.supports_pack()) return std::nullopt;
  std::vector<uint8_t> codes = q.pack(w).codes;
  std::optional<double> rate;
  if (!last.empty() && last.size() == codes.size()) {
    size_t changed = 0;
    for (size_t i = 0; i < codes.size(); ++i) changed += codes[i] != last[i];
    rate = codes.empty() ? 0.0 : double(changed) / double(codes.size());
  }
  last = std::move(codes);
  return rate;
}

void discrete_bn_pass(Network& model, const std::vector<LayerRef>& qlayers,
                      const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  set_bn_state(model, BNState::kDiscrete);
  force_hard(qlayers, true);
  model.forward(x);
  force_hard(qlayers, false);
  set_bn_state(model, BNState::kContinuous);
}

bool port_calibrates(const RunConfig& cfg, int64_t epoch) {
  return epoch > int64_t(double(cfg.epochs) * cfg.quant.temp_start);
}

int64_t calibration_batches(const RunConfig& cfg, int64_t train_size) {
  return std::min(cfg.quant.bn_calib_batches, train_size / cfg.batch_size);
}

std::vector<ParamGroup> parameter_groups(Network& model, const RunConfig& cfg) {
  // Latent weights a quantizer does not use (SLB) are frozen; weights a quantizer updates
  // itself (Bop) stay out of every group.
  std::set<const void*> frozen, owned, scales, quantizer_own, bn_and_bias, clips;
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
    if (a->quantizer()) {
      for (auto& s : a->quantizer()->scale_parameters()) scales.insert(key_of(s));  // LSQ's step
      for (auto& p : a->quantizer()->parameters()) clips.insert(key_of(p));        // PACT's alpha
    }
  for (auto& bn : state_bns(model))
    bn_and_bias.insert(key_of(bn->weight)), bn_and_bias.insert(key_of(bn->bias));
  const double wd = cfg.optim.weight_decay;
  std::vector<ParamGroup> g = {{"weights", {}, wd},
                               {"bn_and_bias", {}, cfg.optim.bn_weight_decay ? wd : 0.0},
                               {"scales", {}, cfg.quant.scale_weight_decay ? wd : 0.0},
                               // SLB logits: decay would pull every distribution towards uniform.
                               {"quantizer", {}, 0.0},
                               // PACT's alpha: the paper's L2 (weights), or as the scales.
                               {"act_clip", {}, cfg.quant.act_alpha_decay == AlphaDecay::kWeights ||
                                                        cfg.quant.scale_weight_decay
                                                    ? wd
                                                    : 0.0}};
  for (auto& p : model.parameters()) {
    const void* k = key_of(p);
    if (frozen.count(k))
      p.set_requires_grad(false);
    else if (owned.count(k))
      continue;
    else if (scales.count(k))
      g[2].params.push_back(p);
    else if (clips.count(k))
      g[4].params.push_back(p);
    else if (quantizer_own.count(k))
      g[3].params.push_back(p);
    else if (bn_and_bias.count(k))
      g[1].params.push_back(p);
    else
      g[0].params.push_back(p);
  }
  return g;
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::vector<ParamGroup>& groups,
                                                        const OptimConfig& o) {
  std::vector<torch::optim::OptimizerParamGroup> pg;
  for (auto& g : groups) {
    if (g.params.empty()) continue;
    if (o.name == OptimizerName::kSgd)
      pg.emplace_back(
          g.params, std::make_unique<torch::optim::SGDOptions>(torch::optim::SGDOptions(o.lr)
                                                                   .momentum(o.momentum)
                                                                   .nesterov(o.nesterov)
                                                                   .weight_decay(g.weight_decay)));
    else
      pg.emplace_back(
          g.params, std::make_unique<torch::optim::AdamOptions>(torch::optim::AdamOptions(o.lr)
                                                                    .betas({o.beta1, o.beta2})
                                                                    .weight_decay(g.weight_decay)));
  }
  if (o.name == OptimizerName::kSgd)
    return std::make_unique<torch::optim::SGD>(pg, torch::optim::SGDOptions(o.lr));
  return std::make_unique<torch::optim::Adam>(pg, torch::optim::AdamOptions(o.lr));
}

int64_t peak_rss_bytes() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return int64_t(ru.ru_maxrss) * 1024;
}

std::shared_ptr<Network> build_network(const RunConfig& cfg, const ModelSpec& spec,
                                       bool load_init) {
  torch::manual_seed(uint64_t(cfg.seed));
  auto model = make_model(cfg.model, spec);
  if (load_init && !cfg.init_from_checkpoint.empty())
    load_init_checkpoint(*model, cfg.init_from_checkpoint);
  attach_quantizers(*model, cfg.quant);
  return model;
}

double test_accuracy(Network& model, const RunConfig& cfg, const std::string& device) {
  DataBundle data = load_data(cfg.data);
  place_on(data, torch::Device(device));
  model.to(torch::Device(device));
  return evaluate(model, data, data.test, cfg.eval_batch_size, torch::Device(device)).acc;
}

TrainResult train_run(const RunConfig& cfg, const TrainOptions& opt, Observer& obs) {
  const auto run_t0 = Clock::now();
  Run run = make_run(cfg, opt);
  const std::string ckpt = opt.checkpoint_dir.empty() ? "" : checkpoint_path(opt.checkpoint_dir);
  TrainingState state;  // epoch: the last finished one
  if (opt.resume && !ckpt.empty())
    if (auto resumed = resume_checkpoint(ckpt, cfg, *run.model, *run.optimizer)) state = *resumed;
  run.port_calibrated = run.bn_mode == BnMode::kCalibratePort &&
                        state.epoch >= 0 && port_calibrates(cfg, state.epoch + 1);
  const int64_t batches =
      BatchLoader(run.data, run.data.train, cfg.batch_size, true, 0, 0, torch::kCPU).num_batches();
  obs.on_run_start({&cfg, config_hash(cfg), state.epoch + 1, cfg.epochs, batches,
                    run.data.train.size(), count_parameters(*run.model)});

  TrainResult result;
  result.status = RunStatus::kDone;
  bool simulated_kill = false;  // opt.stop_after_epoch: the run ends as if killed, unrecorded
  result.already_finished = state.epoch + 1 >= cfg.epochs;
  for (int64_t epoch = state.epoch + 1; epoch < cfg.epochs; ++epoch) {
    const auto epoch_t0 = Clock::now();
    EpochTraining tr = train_epoch(run, epoch, obs);
    if (!tr.diverged.empty() || !tr.stopped.empty()) {  // the epoch is not finished: not recorded
      result.status = tr.diverged.empty() ? RunStatus::kStopped : RunStatus::kDiverged;
      result.error = tr.diverged.empty() ? tr.stopped : tr.diverged;
      break;
    }
    EpochEvent ev = evaluate_epoch(run, epoch, tr);
    layer_stats(run, tr, ev);
    auto& m = ev.metrics;
    const double selection = run.data.val.size() > 0 ? m[key::kValAcc] : m[key::kTestAcc];
    if (selection > state.best_acc) state.best_acc = selection, state.best_epoch = epoch;
    state.epoch = epoch;
    m[key::kEpochSeconds] = seconds_since(epoch_t0);
    state.epoch_seconds += m[key::kEpochSeconds];
    state.bn_seconds += tr.state_bn_seconds + (m.count(key::kCalibSeconds) ? m[key::kCalibSeconds] : 0.0);
    ++state.epochs_timed;
    state.last_metrics = m;
    // Observers first, checkpoint second: if the process dies between the two, the resumed
    // run repeats this epoch (deterministically) and rewrites its rows; the reverse order
    // could lose them.
    obs.on_epoch_end(ev);
    if (!ckpt.empty() && ((epoch + 1) % cfg.checkpoint_every == 0 || epoch + 1 == cfg.epochs))
      write_checkpoint(ckpt, *run.model, *run.optimizer, cfg, run.spec, run.eval_bn_state(), state);
    // A broken health rule stops the run after its epoch is recorded.
    if (auto verdict = epoch_health(cfg.health, ev, run.data.classes, run.data.val.size() > 0);
        verdict && epoch + 1 < cfg.epochs) {
      result.status = RunStatus::kStopped, result.error = *verdict;
      break;
    }
    if (opt.stop_after_epoch > 0 && epoch + 1 >= opt.stop_after_epoch && epoch + 1 < cfg.epochs) {
      result.status = RunStatus::kStopped;
      simulated_kill = true;
      break;
    }
  }
  result.summary = run_summary(run, state, run_t0);
  if (!simulated_kill) obs.on_run_end({result.status, result.error, result.summary});
  return result;
}

}  // namespace lowbit
