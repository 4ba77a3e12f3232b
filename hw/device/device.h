// A device technology as a plug-in (docs/architecture.md §4): a DeviceModel is the configured
// device kind (its scenario parameters read and checked, files loaded); build() makes one chip's
// Technology for a compiled workload, with the chip's own random stream and the noise processes
// that act on the device. Registrations live in hw/device/impl/, one file per device, each with
// its parameters and tags (sim/plugins.h); nothing outside the registry names a device.
#pragma once

#include <memory>

#include "hw/device/technology.h"
#include "hw/noise/noise_process.h"
#include "hw/physics/rng.h"
#include "models/compiler.h"

namespace ptc::hw {

class PcmLaw;

// A PCM pair device's stochastic law (hw/physics/pcm_law.h) with the g_max its targets are
// fractions of: what `ptcsim device pcm --device NAME` characterises.
struct PcmLawOf {
  std::shared_ptr<const PcmLaw> law;  // nullptr: the device has no such law
  double g_max_us = 0;
};

struct DeviceBuild {
  const models::CompiledWorkload& wl;
  RandomStream rng;       // the chip's device stream
  NoiseList noise;        // the scenario's noise processes (a device uses those acting on its traits)
  int64_t instances = 1;  // Monte-Carlo chip instances measured (accuracy.instances)
  // How messages name noise[i]: `noise[i] "name"`, plus " (plug-in libX.so)" for a plug-in's
  // process (empty: "noise[i]"; hw::noise_where).
  std::vector<std::string> noise_labels = {};
};

class DeviceModel {
 public:
  virtual ~DeviceModel() = default;
  virtual std::unique_ptr<Technology> build(const DeviceBuild& b) const = 0;
  // Checks that need the compiled workload (e.g. the core size), made by `ptcsim validate` as by
  // `run` before the first event; throws ptc::Error naming the parameter and the rule.
  virtual void check(const models::CompiledWorkload& /*wl*/) const {}
  // A PCM pair device built by sim::pcm_law_device (tag "pcm_law") returns its law; others none.
  virtual PcmLawOf pcm_law() const { return {}; }
};

}  // namespace ptc::hw
