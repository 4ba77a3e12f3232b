// A PCM pair device with its own stochastic law, registered in one line (docs/devices.md §2.5).
// The device is the built-in "pcm" in everything but the law: weights map onto differential
// conductance pairs (one or several per weight, f_lst), scaled per block, per aihwkit tile or per
// column; it supports Monte-Carlo chip instances, write-verify (SWIM) and drift compensation.
// The law (hw/physics/pcm_law.h) turns standard normals into conductances; its constructor takes
// the device's Params and reads its own parameters (and any shared one, such as g_max_us):
//
//   class MyLaw : public hw::PcmLaw {
//    public:
//     explicit MyLaw(Params& p) : m_a(p.num("a")) {}
//     ...the three methods...
//   };
//   const Registrar<hw::DeviceModel> reg{pcm_law_device<MyLaw>("pcm_my", "what it models",
//       {{"a", "", 0.1, "what a is", 0, 1}})};
//
// The built-in "pcm" itself is a pcm_law_device whose law is hw::PcmLikeLaw with the device's
// parameters (AihwkitPcmLaw in hw/device/impl/pcm.cpp).
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "hw/device/impl/pcm_scale_tile.h"
#include "hw/device/pcm_pair.h"
#include "models/error.h"
#include "sim/plugins.h"

namespace ptc::sim {

// The parameters every PCM pair device has, whatever its law: the mapping's g_max, the three
// switches, the conductance pairs per weight and the conductance-scaling tiles.
inline std::vector<ParamSpec> pcm_pair_params() {
  std::vector<ParamSpec> v{
      {"g_max_us", "uS", 25.0, "maximum conductance (aihwkit SinglePair)", 1e-6, 1e6},
      {"g_min_us", "uS", 0.0,
       "minimum conductance, the weights' logical zero (aihwkit SinglePair g_min): both devices of a pair sit g_min above "
       "their target, weights span g_max - g_min; below g_max_us, one pair per weight only (docs/devices.md §2)",
       0, 1e6},
      {"programming_noise", "", true, "programming noise (off: every device is programmed exactly to its target)"},
      {"drift", "", true, "drift (off: every drift coefficient is 0)"},
      {"read_noise", "", true, "read noise per read instant (off: noiseless reads)"},
      {"f_lst",
       "",
       Json::array({1.0}),
       "conductance pairs per weight and their significance factors, least significant first (aihwkit "
       "NPairConductanceConverter f_lst; [1]: SinglePair): the weight maps onto sum f_i g_max, the lower pairs fill "
       "first, each device drawing its own noise and drift (docs/devices.md §2.2)",
       1e-3,
       1e3,
       {},
       "number[]"},
      {"reconvert_at_read", "", false,
       "aihwkit's reads (BaseNoiseModel.apply_drift_noise): re-convert the programmed weights to conductance pairs at every "
       "read instant (each scale tile's max|w_prog| to the full range, the other device at g_min, pairs re-filled) before "
       "drift and read noise; false: every device keeps its own programmed conductance (docs/devices.md §2)"}};
  for (auto& s : pcm_scale_tile_params()) v.push_back(s);
  return v;
}

// The device: the shared parameters, then the law built from the same Params.
template <class Law>
class PcmLawDevice : public hw::DeviceModel {
 public:
  PcmLawDevice(Params& p, std::string name) : m_tile(p) {
    m_cfg.name = std::move(name);
    m_cfg.device.g_max_us = p.num("g_max_us");
    m_cfg.programming_noise = p.flag("programming_noise");
    m_cfg.drift = p.flag("drift");
    m_cfg.read_noise = p.flag("read_noise");
    m_cfg.f_lst = p.nums("f_lst");
    m_cfg.reconvert_at_read = p.flag("reconvert_at_read");
    if (m_cfg.f_lst.empty() || m_cfg.f_lst.size() > 8)
      throw Error("device.f_lst: one to eight conductance pairs per weight (one significance factor each), got " +
                  std::to_string(m_cfg.f_lst.size()));
    m_cfg.g_min_us = p.num("g_min_us");
    if (!(m_cfg.g_min_us < m_cfg.device.g_max_us)) {
      char b[96];
      std::snprintf(b, sizeof b, "%g uS), got %g", m_cfg.device.g_max_us, m_cfg.g_min_us);
      throw Error(std::string("device.g_min_us: must be below device.g_max_us (") + b);
    }
    if (m_cfg.g_min_us > 0 && m_cfg.f_lst.size() > 1)
      throw Error(
          "device.g_min_us: a minimum conductance is modelled for one conductance pair per weight (device.f_lst [1]), "
          "not for " +
          std::to_string(m_cfg.f_lst.size()) + " pairs");
    m_cfg.law = std::make_shared<const Law>(p);
  }
  std::unique_ptr<hw::Technology> build(const hw::DeviceBuild& b) const override {
    hw::PcmPairConfig cfg = m_cfg;
    cfg.scale_tile = m_tile.resolve();
    return std::make_unique<hw::PcmPair>(b.wl, cfg, b.rng);
  }
  hw::PcmLawOf pcm_law() const override { return {m_cfg.law, m_cfg.device.g_max_us}; }

 private:
  hw::PcmPairConfig m_cfg;
  PcmScaleTileParams m_tile;
};

// The built-in "pcm" law (aihwkit PCMLike, hw/device/impl/pcm.cpp): its parameters (after the
// shared pair parameters) and the law read from them; `ptcsim device pcm --set` uses both. Defined
// in ptcsim itself: a plug-in must not define these names.
namespace builtin {
std::vector<ParamSpec> pcm_like_law_params();
hw::PcmLikeParams pcm_like_params(Params& p);
}  // namespace builtin

// The registry entry of a PCM pair device named `name` with law `Law` and the law's own
// parameters (after the shared ones of pcm_pair_params()). Its tag "pcm_law" lets `ptcsim device
// pcm --device NAME` characterise single devices of the law.
template <class Law>
DeviceRegistry::Entry pcm_law_device(const std::string& name, const std::string& description,
                                     const std::vector<ParamSpec>& law_params) {
  std::vector<ParamSpec> params = pcm_pair_params();
  for (const auto& s : law_params) params.push_back(s);
  return {name,
          description,
          params,
          [name](Params& p) { return std::make_unique<PcmLawDevice<Law>>(p, name); },
          {"mc_instances", "write_verify", "read_draws", "nonvolatile", "pcm_law"}};
}

}  // namespace ptc::sim
