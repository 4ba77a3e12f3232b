#include "hw/device/pcm_optical.h"

#include <algorithm>
#include <cmath>

#include "models/error.h"

namespace ptc::hw {

PcmOptical::PcmOptical(const models::CompiledWorkload& wl, const PcmOpticalConfig& cfg, const RandomStream& rng)
    : m_wl(wl), m_cfg(cfg) {
  cfg.levels.validate();
  if (!(cfg.nu_opt >= 0) || !(cfg.t0_s > 0)) throw Error("optical PCM: nu_opt >= 0 and t0_s > 0 required");
  if (!(cfg.endurance_steps >= 0) || !(cfg.endurance_sigma >= 0))
    throw Error("optical PCM: endurance_steps >= 0 and endurance_sigma >= 0 required");
  const int64_t kk = wl.spec.block_size * wl.spec.block_size;
  if (cfg.spare_rows < 0 || (cfg.spare_rows > 0 && !(cfg.endurance_steps > 0)))
    throw Error("optical PCM: spare_rows >= 0 required, and spare rows (to replace worn rows) need endurance_steps > 0");
  if (cfg.endurance_steps > 0) {
    if (wl.spec.mapping != "streaming") throw Error("optical PCM: endurance_steps needs the streaming mapping");
    // B_i = B exp(sigma z_i), one standard normal per physical cell of the chip's stream: the core
    // rows' cells [cores, k, k], then the spare rows' [cores, spare_rows, k].
    const RandomStream budgets = rng.derive(0xe7d);
    const int64_t cores = wl.spec.rows * wl.spec.cols;
    m_budgets.resize(static_cast<size_t>(cores * kk + cores * cfg.spare_rows * wl.spec.block_size));
    for (size_t i = 0; i < m_budgets.size(); ++i)
      m_budgets[i] = cfg.endurance_steps * std::exp(cfg.endurance_sigma * budgets.normal(i));
  }
  for (const auto& L : wl.layers) {
    m_groups.emplace_back();
    for (const auto& t : L.gemms) {
      Group g;
      g.latent = t.blocks;
      g.levels.assign(t.blocks.size(), 0);  // fresh cells: both sides at the zero level
      std::vector<int> before = g.levels;
      quantize(g, kk);
      m_cost += write_cost(cfg.levels, before, g.levels);
      m_groups.back().push_back(std::move(g));
    }
  }
}

void PcmOptical::quantize(Group& g, int64_t kk) {
  const size_t blocks = g.latent.size() / static_cast<size_t>(kk);
  g.tanh_max.assign(blocks, 0.0);
  for (size_t b = 0; b < blocks; ++b) {
    QuantizedBlock q = quantize_block(m_cfg.levels, g.latent.data() + b * kk, kk);
    std::copy(q.levels.begin(), q.levels.end(), g.levels.begin() + static_cast<int64_t>(b) * kk);
    g.tanh_max[b] = q.tanh_max;
  }
}

int64_t PcmOptical::program(int64_t layer, int64_t group, const std::vector<float>& blocks, double t_s) {
  Group& g = m_groups.at(layer).at(group);
  if (blocks.size() != g.latent.size())
    throw Error("optical PCM program: layer " + std::to_string(layer) + " expects " + std::to_string(g.latent.size()) +
                " weights, got " + std::to_string(blocks.size()));
  std::vector<int> before = g.levels;
  g.latent = blocks;
  quantize(g, m_wl.spec.block_size * m_wl.spec.block_size);
  PcmWriteCost c = write_cost(m_cfg.levels, before, g.levels);
  m_cost += c;
  if (c.writes > 0) g.t_prog_s = t_s;
  return c.writes;
}

void PcmOptical::set_times(uint64_t, const std::vector<NoiseTime>& times) {
  if (times.empty()) throw Error("optical PCM: no read instant given");
  m_t_s = times.front().t_s;
}

void PcmOptical::realize(int64_t layer, int64_t group, uint64_t, float* wn, float* scale) const {
  const Group& g = m_groups.at(layer).at(group);
  const int64_t kk = m_wl.spec.block_size * m_wl.spec.block_size;
  const double drift = transmission_drift(g);
  for (size_t b = 0; b < g.tanh_max.size(); ++b) {
    // Weight each level realises right after programming (the inverse of ELight's normalisation);
    // the block scale is fixed then, as the digital side knows it.
    float mx = 0;
    // Worn cells of the block's core hold the zero level (streaming endurance).
    const char* worn = m_worn.empty() ? nullptr : m_worn.data() + m_wl.layers[layer].gemms[group].core[b] * kk;
    for (int64_t i = 0; i < kk; ++i) {
      size_t j = b * kk + static_cast<size_t>(i);
      const int level = worn && worn[i] ? 0 : g.levels[j];
      double u = std::clamp(level_weight(m_cfg.levels, level) * g.tanh_max[b], -0.999999, 0.999999);
      wn[j] = static_cast<float>(std::atanh(u));
      mx = std::max(mx, std::abs(wn[j]));
    }
    scale[b] = mx;
    // Drift scales both cells' transmissions, hence (the multiply being linear in transmission)
    // the analog weight: w(t) = d(t) w(0).
    for (int64_t i = 0; i < kk; ++i) wn[b * kk + i] = mx > 0 ? static_cast<float>(drift * wn[b * kk + i] / mx) : 0.0f;
  }
}

void PcmOptical::set_worn_cells(const std::vector<char>& worn) {
  const size_t cells = static_cast<size_t>(m_wl.spec.rows * m_wl.spec.cols * m_wl.spec.block_size * m_wl.spec.block_size);
  if (m_wl.spec.mapping != "streaming") throw Error("optical PCM: worn cells need the streaming mapping");
  if (!worn.empty() && worn.size() != cells)
    throw Error("optical PCM: " + std::to_string(worn.size()) + " worn flags for " + std::to_string(cells) + " cells");
  m_worn = worn;
}

double PcmOptical::transmission_drift(const Group& g) const {
  if (!(m_cfg.nu_opt > 0) || m_wl.spec.mapping == "streaming") return 1.0;
  return std::pow((std::max(0.0, m_t_s - g.t_prog_s) + m_cfg.t0_s) / m_cfg.t0_s, -m_cfg.nu_opt);
}

}  // namespace ptc::hw
