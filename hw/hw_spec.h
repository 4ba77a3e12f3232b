// Hardware description read from JSON (the part of it that the workload compiler needs: the
// tensor-core array and the mapping). Later hardware sections (devices, converters, laser,
// thermal) join this file's parser.
// Format (every key optional, defaults from hw/energy.h):
//   {"cores": {"rows": 4, "cols": 4, "block_size": 8}, "mapping": {"name": "cyclic"},
//    (mapping may add "batchnorm": "fold" | "digital" and "digital_layers": [node names]),
//    "device": {"name": "mrr"}, "clock_ghz": 5, "dac": {"bits": 8}, "adc": {"bits": 8}}
// Contract: unknown keys and out-of-range values are ptc::Error naming the JSON path and rule.
// The device name is kept as given: the caller resolves it in the device registry (which knows
// the device's weight-cell kind, energy.cell) -- hw does not know devices by name.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "hw/energy.h"
#include "models/compiler.h"

namespace ptc::hw {

struct HwSpec {
  models::TilingSpec tiling;
  EnergyParams energy;  // energy.cell: set by the caller from the device registry
  std::string device = "mrr";
  bool device_given = false;  // the JSON named a device (else the default above)
  std::string device_path;    // JSON path of the device name (for the caller's messages)
};

HwSpec parse_hw_spec(const nlohmann::json& j, const std::string& path = "hw");
HwSpec load_hw_spec(const std::string& file);

}  // namespace ptc::hw
