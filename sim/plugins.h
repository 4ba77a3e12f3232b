// The plug-in axes of ptcsim and their registries (docs/architecture.md §4). Every axis is an
// interface plus an impl/ folder with one file per plug-in holding its one-line registration and
// declared parameters (sim/params.h Registrar); an out-of-tree --plugin registers the same way.
//   devices   hw::DeviceModel   hw/device/impl/     tags: capabilities, traits, weight-cell kind
//   noise     hw::NoiseProcess  hw/noise/impl/      acts on a device trait
//   traffic   TrafficSource     sim/traffic/impl/   tag "one_at_a_time": a batch of one request,
//                                                   the next issued when it completes
//   policies  Policy            sim/policy/impl/
//   dispatchers Dispatcher      sim/dispatch/impl/  (a fleet of chips; docs/fleet.md)
//
// Device tags (Registry::Entry::tags), declared as data so they are known without building:
// - capabilities: "remap" (DOCTOR's tile remapping; equals Technology::supports_remap()),
//   "mc_instances" (accuracy over several Monte-Carlo chip instances), "levels" (a transmission-level
//   ladder: Technology::level_spec(), needed by the streaming mapping), "write_verify"
//   (Technology::verify: selective write-verify, SWIM), "own_verify_model" (a write-verify device
//   with its own verification model, not iterations against a tolerance: the SWIM policy's
//   tolerance / max_iterations / reads are refused), "error_counters" (decoder counters, RNS),
//   "channel_counters" (Technology::ring_observations and relock_rings: per-ring corrected residues
//   and selective re-calibration, RNS),
//   "own_gemm" (the device computes with its own arithmetic, Technology::mapped_gemm; its effective
//   weights do not show its errors, so policies that back-propagate through them, DOCTOR's read-back
//   regression (capability weight_readback) and the monitor's probe test refuse it),
//   "own_converters" (the device quantises its inputs and reads its outputs with converters of its
//   own, Technology::output_adc_bits: hw.adc.* and hw.dac.* other than bits are refused), "backward_arithmetic" (an own-GEMM
//   device whose Technology::backward_gemm returns its backward arithmetic: on-chip training with arithmetic = chip,
//   docs/onchip_training.md §2; devices without own_gemm always have one), "read_draws" (reads take per-instant read-noise draws
//   keyed by hw::NoiseTime::draw_instant_s(): accuracy.read_draws changes its results, so the key stays in the resolved
//   configuration), "pcm_law" (a PCM pair device of sim::pcm_law_device: DeviceModel::pcm_law()
//   returns its law, which `ptcsim device pcm --device NAME` characterises);
// - traits noise processes act on: hw::kRingPhase ("ring_phase"), hw::kTemperature
//   ("temperature": the device couples to the chip's thermal field);
// - exactly one weight-cell kind, "thermo_optic" or "nonvolatile" (hw::WeightCell: how the
//   energy model prices holding and writing a weight, and whether the cyclic mapping re-tunes
//   the cores per chunk (thermo_optic) or keeps every block resident (nonvolatile);
//   docs/converters_energy.md §3).
#pragma once

#include <string>
#include <vector>

#include "hw/device/device.h"
#include "hw/energy.h"
#include "hw/noise/noise_process.h"
#include "sim/params.h"

namespace ptc::sim {

using DeviceRegistry = Registry<hw::DeviceModel>;
using NoiseRegistry = Registry<hw::NoiseProcess>;

// The registered device `name` (path: the JSON path that named it, for the error message).
const DeviceRegistry::Entry& find_device(const std::string& name, const std::string& path);
bool has_tag(const std::vector<std::string>& tags, const std::string& tag);
// The weight-cell kind a device declares (its "thermo_optic" or "nonvolatile" tag).
hw::WeightCell device_cell(const DeviceRegistry::Entry& e);
// Every tag of a device's registration is one sim/plugins.h lists, with exactly one weight-cell kind
// (checked for plug-in devices when they are loaded). Throws naming the device and the tag.
void check_device_tags(const DeviceRegistry::Entry& e);
// Names of the registered devices carrying `tag`, in name order.
std::vector<std::string> devices_with(const std::string& tag);

}  // namespace ptc::sim
