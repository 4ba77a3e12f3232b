#include "hw/device/swim_variation.h"

#include <algorithm>
#include <cmath>

#include "models/error.h"

namespace ptc::hw {

SwimVariation::SwimVariation(const models::CompiledWorkload& wl, const SwimVariationConfig& cfg, const RandomStream& rng)
    : m_wl(wl), m_cfg(cfg), m_base_rng(rng), m_rng(rng) {
  if (cfg.bits_per_device < 1 || cfg.device_bits < cfg.bits_per_device || cfg.device_bits % cfg.bits_per_device)
    throw Error("swim_variation: device_bits must be a positive multiple of bits_per_device");
  m_devices = cfg.device_bits / cfg.bits_per_device;
  double v = 0;
  for (int64_t i = 1; i <= m_devices; ++i) v += std::pow(4.0, -static_cast<double>(i * cfg.bits_per_device));
  m_unit = std::sqrt(v);
  m_layer_max.assign(wl.layers.size(), 0.0f);
  for (size_t l = 0; l < wl.layers.size(); ++l) {
    m_groups.emplace_back();
    for (const auto& t : wl.layers[l].gemms) {
      Group g;
      g.latent = t.blocks;
      g.verified.assign(t.blocks.size(), 0);
      m_groups.back().push_back(std::move(g));
      m_writes += static_cast<int64_t>(t.blocks.size()) * m_devices;
    }
    for (size_t g = 0; g < m_groups[l].size(); ++g) draw(l, g);
    refresh_layer(l);
  }
}

void SwimVariation::draw(size_t l, size_t gi) {
  Group& g = m_groups[l][gi];
  g.z.resize(g.latent.size());
  const RandomStream s = m_rng.derive(31).derive(static_cast<uint64_t>(g.programmings)).derive(l << 20 | gi);
  s.fill_normal(0, static_cast<int64_t>(g.z.size()), g.z.data());
}

void SwimVariation::refresh_layer(size_t l) {
  float mx = 0;
  for (const Group& g : m_groups[l])
    for (float w : g.latent) mx = std::max(mx, std::abs(w));
  m_layer_max[l] = mx;
  const double delta = m_cfg.weight_bits > 0 ? mx / std::pow(2.0, m_cfg.weight_bits) : 0.0;
  for (Group& g : m_groups[l]) {
    g.wn.resize(g.latent.size());
    for (size_t j = 0; j < g.latent.size(); ++j) {
      double w = g.latent[j];
      if (delta > 0) w = std::nearbyint(w / delta) * delta;
      const double sigma = g.verified[j] ? m_cfg.write_var : m_cfg.dev_var;
      const double eff = w + static_cast<double>(mx) * sigma * m_unit * g.z[j];
      g.wn[j] = mx > 0 ? static_cast<float>(eff / mx) : 0.0f;
    }
  }
}

int64_t SwimVariation::program(int64_t layer, int64_t group, const std::vector<float>& blocks, double) {
  if (m_instance != 0)
    throw Error("swim_variation: programming while Monte-Carlo instance " + std::to_string(m_instance) + " is selected");
  Group& g = m_groups.at(layer).at(group);
  if (blocks.size() != g.latent.size())
    throw Error("swim_variation program: layer " + std::to_string(layer) + " expects " + std::to_string(g.latent.size()) +
                " weights, got " + std::to_string(blocks.size()));
  int64_t changed = 0;
  for (size_t j = 0; j < blocks.size(); ++j) changed += blocks[j] != g.latent[j] || g.verified[j];
  g.latent = blocks;
  g.verified.assign(blocks.size(), 0);
  ++g.programmings;
  draw(static_cast<size_t>(layer), static_cast<size_t>(group));
  refresh_layer(static_cast<size_t>(layer));
  m_writes += changed * m_devices;
  return changed * m_devices;
}

void SwimVariation::set_times(uint64_t, const std::vector<NoiseTime>& times) {
  if (times.empty()) throw Error("swim_variation: no read instant given");
}

VerifyResult SwimVariation::verify(int64_t layer, int64_t group, const std::vector<uint8_t>& mask, const VerifySpec&, double) {
  if (m_instance != 0)
    throw Error("swim_variation: write-verify while Monte-Carlo instance " + std::to_string(m_instance) + " is selected");
  Group& g = m_groups.at(layer).at(group);
  if (mask.size() != g.latent.size())
    throw Error("swim_variation verify: layer " + std::to_string(layer) + " has " + std::to_string(g.latent.size()) +
                " weights, mask has " + std::to_string(mask.size()));
  const size_t kk = static_cast<size_t>(m_wl.spec.block_size * m_wl.spec.block_size);
  VerifyResult r;
  r.block_reads.assign(g.latent.size() / kk, 0);
  r.block_rewrites.assign(g.latent.size() / kk, 0);
  const int64_t n = m_cfg.verify_iterations;
  for (size_t j = 0; j < mask.size(); ++j) {
    if (!mask[j]) continue;
    ++r.weights;
    g.verified[j] = 1;
    r.block_reads[j / kk] += n;
    r.block_rewrites[j / kk] += n;
  }
  r.reads = r.weights * n;
  r.writes = r.weights * n * m_devices;
  m_writes += r.writes;
  refresh_layer(static_cast<size_t>(layer));
  return r;
}

bool SwimVariation::select_instance(int64_t k) {
  if (k < 0) throw Error("swim_variation: Monte-Carlo instance must be >= 0");
  if (k == m_instance) return true;
  m_instance = k;
  m_rng = k == 0 ? m_base_rng : m_base_rng.derive(0x4d43).derive(static_cast<uint64_t>(k));
  for (size_t l = 0; l < m_groups.size(); ++l) {
    for (size_t g = 0; g < m_groups[l].size(); ++g) draw(l, g);
    refresh_layer(l);
  }
  return true;
}

void SwimVariation::realize(int64_t layer, int64_t group, uint64_t, float* wn, float* scale) const {
  const Group& g = m_groups.at(layer).at(group);
  std::copy(g.wn.begin(), g.wn.end(), wn);
  const auto& t = m_wl.layers.at(layer).gemms.at(group);
  const float s = m_layer_max[static_cast<size_t>(layer)] > 0 ? m_layer_max[static_cast<size_t>(layer)] : 1.0f;
  std::fill(scale, scale + t.P * t.Q, s);
}

}  // namespace ptc::hw
