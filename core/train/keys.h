// The output keys: every value a run records, in one table. The trainer, the quantizers, the
// health rules, the reports, lowbit query, lowbit reproduce and docs/OUTPUTS.md (generated:
// `lowbit list outputs --docs`) read it; a key's string is written here only. Torch-free and
// header-only, so that the torch-free rooms (tracker/, reports/) read the same table.
#pragma once
#include <cstring>
#include <string>
#include <vector>

namespace lowbit {

/// Where a key is recorded: `metrics` (per epoch), `layer_stats` (per epoch and layer) or
/// `summaries` (per run).
enum class KeyScope { kEpoch, kLayer, kRun };
/// Which way a key is better, where it has one (a report marks the best row by it).
enum class Better { kNeither, kHigher, kLower };

struct OutputKey {
  const char* name;  ///< the key; a family ends in '*' (hist_* is hist_0, hist_1, ...)
  KeyScope scope;
  const char* unit;  ///< "fraction" (shown as %), "seconds", "bytes", "count", "nats", ...
  Better better;
  /// Depends on the machine and its load (times, memory): no rerun reproduces it, and a
  /// comparison of it across machines compares the machines.
  bool machine_dependent;
  const char* who;          ///< the runs that record it
  const char* description;  ///< one sentence for docs/OUTPUTS.md
  bool percent() const { return std::strcmp(unit, "fraction") == 0; }
};

/// The keys as constants: code names a key through these, never as a string.
namespace key {
// metrics, per epoch
inline constexpr const char kTrainLoss[] = "train_loss";
inline constexpr const char kTrainAcc[] = "train_acc";
inline constexpr const char kTestLoss[] = "test_loss";
inline constexpr const char kTestAcc[] = "test_acc";
inline constexpr const char kValLoss[] = "val_loss";
inline constexpr const char kValAcc[] = "val_acc";
inline constexpr const char kLr[] = "lr";
inline constexpr const char kEpochSeconds[] = "epoch_seconds";
inline constexpr const char kTrainSeconds[] = "train_seconds";
inline constexpr const char kImagesPerSecond[] = "images_per_second";
inline constexpr const char kActSparsityMean[] = "act_sparsity_mean";
inline constexpr const char kTemperature[] = "temperature";
inline constexpr const char kStateBnSeconds[] = "state_bn_seconds";
inline constexpr const char kCalibSeconds[] = "calib_seconds";
inline constexpr const char kTestAccBeforeCalib[] = "test_acc_before_calib";
inline constexpr const char kTestAccSoft[] = "test_acc_soft";
// layer_stats, per epoch and layer
inline constexpr const char kMacs[] = "macs";
inline constexpr const char kWeights[] = "weights";
inline constexpr const char kWeightBits[] = "weight_bits";
inline constexpr const char kFirst[] = "first";
inline constexpr const char kGradNorm[] = "grad_norm";
inline constexpr const char kInSparsity[] = "in_sparsity";
inline constexpr const char kInBits[] = "in_bits";
inline constexpr const char kActSparsity[] = "act_sparsity";
inline constexpr const char kWeightLevels[] = "weight_levels";
inline constexpr const char kSparsity[] = "sparsity";
inline constexpr const char kFracPos[] = "frac_pos";
inline constexpr const char kFlipRate[] = "flip_rate";
inline constexpr const char kFlipRateStep[] = "flip_rate_step";
inline constexpr const char kFracNeg[] = "frac_neg";
inline constexpr const char kWp[] = "wp";
inline constexpr const char kWn[] = "wn";
inline constexpr const char kDelta[] = "delta";
inline constexpr const char kAlpha[] = "alpha";
inline constexpr const char kLevelsUsed[] = "levels_used";
inline constexpr const char kFlips[] = "flips";
inline constexpr const char kMAbsMean[] = "m_abs_mean";
inline constexpr const char kHard[] = "hard";
inline constexpr const char kEntropy[] = "entropy";
inline constexpr const char kArgmaxChanged[] = "argmax_changed";
inline constexpr const char kSoftHardGap[] = "soft_hard_gap";
inline constexpr const char kHistPrefix[] = "hist_";  ///< hist_0 .. hist_{K-1}
inline constexpr const char kScale[] = "scale";
inline constexpr const char kGradNormPrefix[] = "grad_norm_";  ///< grad_norm_<parameter>
inline constexpr const char kGradNormWp[] = "grad_norm_wp";
inline constexpr const char kGradNormWn[] = "grad_norm_wn";
inline constexpr const char kGradNormLogits[] = "grad_norm_logits";
inline constexpr const char kGradNormScale[] = "grad_norm_scale";
// summaries, per run
inline constexpr const char kFinalTestAcc[] = "final_test_acc";
inline constexpr const char kFinalValAcc[] = "final_val_acc";
inline constexpr const char kBestTestAcc[] = "best_test_acc";
inline constexpr const char kBestValAcc[] = "best_val_acc";
inline constexpr const char kBestEpoch[] = "best_epoch";
inline constexpr const char kFinalTrainLoss[] = "final_train_loss";
inline constexpr const char kFinalActSparsityMean[] = "final_act_sparsity_mean";
inline constexpr const char kParameters[] = "parameters";
inline constexpr const char kParamBytes[] = "param_bytes";
inline constexpr const char kPackedModelBytes[] = "packed_model_bytes";
inline constexpr const char kLogitsBytes[] = "logits_bytes";
inline constexpr const char kPeakRssBytes[] = "peak_rss_bytes";
inline constexpr const char kWallSeconds[] = "wall_seconds";
inline constexpr const char kMeanEpochSeconds[] = "mean_epoch_seconds";
inline constexpr const char kMeanBnSeconds[] = "mean_bn_seconds";
// Network-level metrics that reports and claims derive from the layer statistics (not stored).
inline constexpr const char kNetWeightSparsity[] = "net_weight_sparsity";
inline constexpr const char kNetFlipRate[] = "net_flip_rate";
}  // namespace key

/// Every output key, metrics first, then layer statistics, then summaries.
inline const std::vector<OutputKey>& output_keys() {
  using S = KeyScope;
  using B = Better;
  static const std::vector<OutputKey> table = {
      {key::kTrainLoss, S::kEpoch, "nats", B::kLower, false, "every run",
       "mean cross-entropy over the epoch's training batches, as trained (the soft forward while SLB's window is open)"},
      {key::kTrainAcc, S::kEpoch, "fraction", B::kHigher, false, "every run",
       "fraction of the epoch's training examples classified correctly, as trained"},
      {key::kTestLoss, S::kEpoch, "nats", B::kLower, false, "every run",
       "mean cross-entropy on the test set in eval mode (quantized weights hard: SLB's one-hot network)"},
      {key::kTestAcc, S::kEpoch, "fraction", B::kHigher, false, "every run",
       "fraction of the test set classified correctly in eval mode (quantized weights hard)"},
      {key::kValLoss, S::kEpoch, "nats", B::kLower, false, "runs with data.val_fraction",
       "mean cross-entropy on the validation split"},
      {key::kValAcc, S::kEpoch, "fraction", B::kHigher, false, "runs with data.val_fraction",
       "accuracy on the validation split; with it, the best epoch is chosen on it, not on the test set"},
      {key::kLr, S::kEpoch, "", B::kNeither, false, "every run", "learning rate at the epoch's first step"},
      {key::kEpochSeconds, S::kEpoch, "seconds", B::kLower, true, "every run",
       "wall time of the epoch's training, batch-norm passes, evaluation and layer statistics (not its recording or checkpoint)"},
      {key::kTrainSeconds, S::kEpoch, "seconds", B::kLower, true, "every run",
       "wall time of the epoch's training steps"},
      {key::kImagesPerSecond, S::kEpoch, "images/s", B::kHigher, true, "every run",
       "training examples per second of train_seconds"},
      {key::kActSparsityMean, S::kEpoch, "fraction", B::kNeither, false, "every run",
       "mean over the activation layers of the fraction of exact zeros in their outputs on the test set"},
      {key::kTemperature, S::kEpoch, "", B::kNeither, false, "SLB (soft quantizers)",
       "the softmax temperature T at the end of the epoch"},
      {key::kNetWeightSparsity, S::kEpoch, "fraction", B::kNeither, false,
       "quantized layers (derived from the layer statistics by reports and claims; not stored)",
       "zero weights over weights of the quantized layers: each layer's sparsity weighted by its weight count"},
      {key::kNetFlipRate, S::kEpoch, "fraction", B::kNeither, false,
       "quantized layers (derived from the layer statistics by reports and claims; not stored)",
       "fraction of the quantized layers' weights whose discrete level changed since the previous epoch: each "
       "layer's flip_rate weighted by its weight count; none at the first epoch and the first after a resume"},
      {key::kStateBnSeconds, S::kEpoch, "seconds", B::kLower, true, "SLB",
       "seconds of the per-step discrete passes of quant.bn_mode = state; 0 in the other modes"},
      {key::kCalibSeconds, S::kEpoch, "seconds", B::kLower, true, "SLB",
       "seconds of this epoch's batch-norm calibration; 0 where none"},
      {key::kTestAccBeforeCalib, S::kEpoch, "fraction", B::kHigher, false, "SLB with diag.before_calib",
       "test accuracy of the discrete network before the epoch's batch-norm calibration"},
      {key::kTestAccSoft, S::kEpoch, "fraction", B::kHigher, false, "SLB with diag.soft_eval",
       "test accuracy of the soft network (expected weights at the epoch's last temperature, "
       "continuous batch-norm statistics), scored before the epoch's calibration; test_acc is the "
       "one-hot network's"},
      {key::kMacs, S::kLayer, "MACs", B::kNeither, false, "every layer", "multiply-accumulates per example"},
      {key::kWeights, S::kLayer, "count", B::kNeither, false, "every layer", "weights of the layer"},
      {key::kWeightBits, S::kLayer, "bits", B::kNeither, false, "every layer",
       "bits per weight at inference: 32 for a float layer"},
      {key::kFirst, S::kLayer, "", B::kNeither, false, "the first layer",
       "1 for the layer that sees the image (its inputs are 32-bit in the energy model)"},
      {key::kGradNorm, S::kLayer, "", B::kNeither, false, "every layer",
       "norm of the latent weight's gradient, mean over the epoch's steps"},
      {key::kInSparsity, S::kLayer, "fraction", B::kNeither, false, "every layer",
       "fraction of exact zeros in the layer's input as it reaches the layer (after pooling), on the test set: "
       "the energy model's per-layer input sparsity"},
      {key::kInBits, S::kLayer, "bits", B::kNeither, false, "every layer (not in runs recorded before it was added: the energy tables read their configs)",
       "bits of one input value at inference: 32 for the first layer (the image) and where activations are not "
       "quantized, else the activation quantizer's (sign: 1); the energy model's operand width"},
      {key::kActSparsity, S::kLayer, "fraction", B::kNeither, false, "activation layers",
       "fraction of exact zeros in the activation layer's output on the test set"},
      {key::kWeightLevels, S::kLayer, "count", B::kNeither, false, "quantized layers",
       "distinct weight values: 3 ternary, 2 binary, 2^k k-bit, |V| SLB"},
      {key::kSparsity, S::kLayer, "fraction", B::kNeither, false, "quantized layers",
       "fraction of the quantized weights that are zero"},
      {key::kFlipRate, S::kLayer, "fraction", B::kNeither, false, "quantized layers",
       "fraction of the layer's weights whose discrete level (the packed code: sign, ternary "
       "level, k-bit level, SLB's arg-max) changed since the previous epoch; none at the first "
       "epoch and at the first after a resume"},
      {key::kFlipRateStep, S::kLayer, "fraction", B::kNeither, false, "quantized layers with diag.step_flips",
       "mean over the epoch's steps of the fraction of the layer's weights whose discrete level "
       "changed in one optimizer step; the first step after a start or resume is not counted"},
      {key::kFracPos, S::kLayer, "fraction", B::kNeither, false, "quantized layers",
       "fraction of the quantized weights that are positive"},
      {key::kFracNeg, S::kLayer, "fraction", B::kNeither, false, "quantized layers",
       "fraction of the quantized weights that are negative"},
      {key::kWp, S::kLayer, "", B::kNeither, false, "TTQ", "the positive scale W_p"},
      {key::kWn, S::kLayer, "", B::kNeither, false, "TTQ", "the negative scale W_n (its magnitude)"},
      {key::kDelta, S::kLayer, "", B::kNeither, false, "TTQ, TWN", "the threshold Delta of the ternary quantizer"},
      {key::kAlpha, S::kLayer, "", B::kNeither, false, "TWN, sign, absmean, LSQ",
       "the scale of the quantized weights: TWN's and sign's alpha, absmean's gamma, LSQ's step (per channel: their mean)"},
      {key::kLevelsUsed, S::kLayer, "count", B::kNeither, false, "DoReFa, LSQ",
       "distinct quantized weight values in use"},
      {key::kFlips, S::kLayer, "count", B::kNeither, false, "Bop", "sign flips since the last epoch's statistics"},
      {key::kMAbsMean, S::kLayer, "", B::kNeither, false, "Bop", "mean magnitude of Bop's gradient momentum m"},
      {key::kTemperature, S::kLayer, "", B::kNeither, false, "SLB", "the layer's softmax temperature T"},
      {key::kHard, S::kLayer, "", B::kNeither, false, "SLB", "1 once the layer's forward is the one-hot argmax"},
      {key::kEntropy, S::kLayer, "nats", B::kNeither, false, "SLB",
       "mean entropy of the weights' softmax distributions over the values"},
      {key::kSoftHardGap, S::kLayer, "", B::kNeither, false, "SLB",
       "relative distance of the soft network's weights from the discrete one's at the epoch's "
       "temperature: ||E_p[v] - v[argmax]|| / ||v[argmax]||, p = softmax(T logits); 0 once the "
       "distributions are one-hot"},
      {key::kArgmaxChanged, S::kLayer, "fraction", B::kNeither, false, "SLB",
       "fraction of weights whose argmax value changed since the last epoch"},
      {"hist_*", S::kLayer, "fraction", B::kNeither, false, "SLB",
       "hist_k: fraction of weights whose argmax is value k (k = 0 .. K-1)"},
      {key::kScale, S::kLayer, "", B::kNeither, false, "SLB with a learned scale", "the layer's learned scale"},
      {key::kGradNormWp, S::kLayer, "", B::kNeither, false, "TTQ", "gradient norm of W_p, mean over the epoch"},
      {key::kGradNormWn, S::kLayer, "", B::kNeither, false, "TTQ", "gradient norm of W_n, mean over the epoch"},
      {key::kGradNormLogits, S::kLayer, "", B::kNeither, false, "SLB",
       "gradient norm of the logits, mean over the epoch; absent after the window with after_window = freeze"},
      {key::kGradNormScale, S::kLayer, "", B::kNeither, false, "SLB with a learned scale",
       "gradient norm of the learned scale, mean over the epoch"},
      {key::kFinalTestAcc, S::kRun, "fraction", B::kHigher, false, "every run", "test_acc at the last epoch"},
      {key::kFinalValAcc, S::kRun, "fraction", B::kHigher, false, "runs with data.val_fraction",
       "val_acc at the last epoch"},
      {key::kBestTestAcc, S::kRun, "fraction", B::kHigher, false, "runs without a validation split",
       "the highest test_acc of any epoch (selected on the test set: report it as such)"},
      {key::kBestValAcc, S::kRun, "fraction", B::kHigher, false, "runs with data.val_fraction",
       "the highest val_acc of any epoch"},
      {key::kBestEpoch, S::kRun, "epoch", B::kNeither, false, "every run", "the epoch of the best accuracy (1-based)"},
      {key::kFinalTrainLoss, S::kRun, "nats", B::kLower, false, "every run", "train_loss at the last epoch"},
      {key::kFinalActSparsityMean, S::kRun, "fraction", B::kNeither, false, "every run",
       "act_sparsity_mean at the last epoch"},
      {key::kParameters, S::kRun, "count", B::kNeither, false, "every run", "trainable parameters of the model"},
      {key::kParamBytes, S::kRun, "bytes", B::kLower, false, "every run", "the parameters as float32"},
      {key::kPackedModelBytes, S::kRun, "bytes", B::kLower, false, "runs lowbit export can pack",
       "size of the .lbt file lowbit export writes for the final model: quantized layers at their bits per weight "
       "with their decode tables, everything else float32, both batch-norm statistic sets, and the JSON header"},
      {key::kLogitsBytes, S::kRun, "bytes", B::kLower, false, "SLB", "the latent logits as float32"},
      {key::kPeakRssBytes, S::kRun, "bytes", B::kLower, true, "every run", "peak resident memory of the worker"},
      {key::kWallSeconds, S::kRun, "seconds", B::kLower, true, "every run", "wall time of the run"},
      {key::kMeanEpochSeconds, S::kRun, "seconds", B::kLower, true, "every run", "mean of epoch_seconds"},
      {key::kMeanBnSeconds, S::kRun, "seconds", B::kLower, true, "SLB",
       "mean per epoch of state_bn_seconds + calib_seconds"},
  };
  return table;
}

/// The layer statistic a derived network-level metric averages (weighted by the layers' weight
/// counts), or null for a metric that is stored.
inline const char* derived_layer_key(const std::string& metric) {
  if (metric == key::kNetWeightSparsity) return key::kSparsity;
  if (metric == key::kNetFlipRate) return key::kFlipRate;
  return nullptr;
}

/// The row of `name` in `scope` (a family row for hist_3), or null for a key not in the table.
inline const OutputKey* find_output_key(const std::string& name, KeyScope scope) {
  for (const auto& k : output_keys()) {  // no allocation: lowbit query asks once per column
    if (k.scope != scope) continue;
    const size_t n = std::strlen(k.name);
    if (k.name[n - 1] == '*' ? name.compare(0, n - 1, k.name, n - 1) == 0 : name == k.name) return &k;
  }
  return nullptr;
}

/// The row of a summary or per-epoch metric `name` (a column of lowbit query, a --metric), or
/// null; no name is both.
inline const OutputKey* find_metric_key(const std::string& name) {
  const OutputKey* k = find_output_key(name, KeyScope::kRun);
  return k ? k : find_output_key(name, KeyScope::kEpoch);
}

}  // namespace lowbit

namespace lowbit {

/// docs/OUTPUTS.md: the table as markdown (`lowbit list outputs --docs`; a test compares).
inline std::string output_keys_markdown() {
  auto cell = [](const std::string& s) {  // a '|' of the text would end the cell
    std::string out;
    for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
    return out;
  };
  std::string md =
      "# Output keys\n\n"
      "Every value a run records, generated from the table in `core/train/keys.h` by\n"
      "`build/lowbit list outputs --docs > docs/OUTPUTS.md` (a test fails when this file differs).\n"
      "The code names a key only through that table's constants; docs/SCHEMA.md describes the\n"
      "tables that hold them.\n\n"
      "- **unit** `fraction`: a value in [0, 1], shown as a percentage in the reports.\n"
      "- **better**: the direction a report's best-per-column mark uses; blank where neither.\n"
      "- **machine**: yes where the value depends on the machine and its load (times, memory):\n"
      "  `lowbit reproduce` leaves it out of its comparison, and a comparison of it across\n"
      "  machines compares the machines.\n";
  const std::pair<KeyScope, const char*> sections[] = {
      {KeyScope::kEpoch, "## metrics: per run and epoch (table `metrics`, epochs 1-based)"},
      {KeyScope::kLayer, "## layer statistics: per run, epoch and layer (table `layer_stats`)"},
      {KeyScope::kRun, "## summaries: per run (table `summaries`)"}};
  for (const auto& [scope, title] : sections) {
    md += std::string("\n") + title + "\n\n| key | unit | better | machine | recorded by | description |\n"
                                      "| --- | --- | --- | --- | --- | --- |\n";
    for (const auto& k : output_keys()) {
      if (k.scope != scope) continue;
      const char* better = k.better == Better::kHigher ? "higher" : k.better == Better::kLower ? "lower" : "";
      md += std::string("| `") + k.name + "` | " + k.unit + " | " + better + " | " +
            (k.machine_dependent ? "yes" : "") + " | " + cell(k.who) + " | " + cell(k.description) + " |\n";
    }
  }
  return md;
}

}  // namespace lowbit
