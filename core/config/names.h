// The names a config may use, one torch-free table per kind: {name, description}. The config
// field table takes its allowed values (and so its did-you-mean suggestions) from here,
// `lowbit list` prints these tables, and each factory (quantizer_registry, model_registry,
// make_act_quantizer, the schedules, load_data) is tested to cover exactly these names.
// Adding a method starts with one row here.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/config/run_config.h"

namespace lowbit {

struct NameEntry {
  std::string name;
  std::string description;
};

const std::vector<NameEntry>& quantizer_names();             ///< quant.method
const std::vector<NameEntry>& activation_quantizer_names();  ///< quant.act.method
const std::vector<NameEntry>& model_names();                 ///< model
const std::vector<NameEntry>& lr_schedule_names();           ///< optim.schedule
const std::vector<NameEntry>& temperature_schedule_names();  ///< quant.temperature.schedule
const std::vector<NameEntry>& dataset_names();               ///< data.name

/// The names of a table, in order.
std::vector<std::string> names_of(const std::vector<NameEntry>& table);

/// The shape of a dataset's examples, known without loading it: the one place that says
/// Fashion-MNIST and MNIST are 1x28x28 with 10 classes, CIFAR-10 3x32x32 with 10, and
/// synthetic data what its data.synthetic.* keys say.
struct DataShape {
  int64_t channels = 0, height = 0, width = 0, classes = 0;
};
/// Throws ConfigError naming data.name for a dataset not in dataset_names().
DataShape data_shape(const DataConfig& d);

}  // namespace lowbit
