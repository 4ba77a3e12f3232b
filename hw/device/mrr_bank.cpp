#include "hw/device/mrr_bank.h"

#include <cmath>

#include "models/error.h"

namespace ptc::hw {

MrrBank::MrrBank(const models::CompiledWorkload& wl, const MrrBankConfig& cfg, const RandomStream& rng)
    : m_wl(wl), m_cfg(cfg), m_array{wl.spec.rows, wl.spec.cols, wl.spec.block_size}, m_rng(rng) {
  if (wl.spec.mapping != "cyclic" && cfg.phase_variation)
    throw Error("MRR phase variation follows DOCTOR's chunk schedule and needs the cyclic mapping");
  const int64_t kk = m_array.k * m_array.k;
  for (const auto& L : wl.layers) {
    m_phase.emplace_back();
    m_scale.emplace_back();
    for (const auto& t : L.gemms) {
      std::vector<float> ph(t.blocks.size()), sc(t.P * t.Q);
      for (int64_t b = 0; b < t.P * t.Q; ++b)
        mrr_encode_block(m_cfg.ring, t.blocks.data() + b * kk, kk, ph.data() + b * kk, sc[b]);
      m_phase.back().push_back(std::move(ph));
      m_scale.back().push_back(std::move(sc));
    }
  }
  if (cfg.phase_variation) m_pv = std::make_unique<PhaseVariation>(m_array, *cfg.phase_variation, rng.derive(11));
  if (cfg.global_temperature) m_gtd = std::make_unique<GlobalTemperature>(m_array, *cfg.global_temperature);
  if (cfg.crosstalk) m_xt = std::make_unique<ThermalCrosstalk>(m_array.k, *cfg.crosstalk);
  set_step(0);
}

void MrrBank::set_step(int64_t step) {
  if (step < 0) throw Error("MRR bank: negative step");
  m_step = step;
  if (m_pv) m_std = m_pv->std_map(step);
  m_offset.assign(m_array.rings(), 0.0f);
  if (m_gtd) m_gtd->add_shift(static_cast<double>(step), m_offset.data());
}

void MrrBank::realize(int64_t layer, int64_t group, uint64_t draw, float* wn, float* scale) const {
  const models::GemmTiles& t = m_wl.layers.at(layer).gemms.at(group);
  const std::vector<float>& ph = m_phase.at(layer).at(group);
  const std::vector<float>& sc = m_scale.at(layer).at(group);
  const int64_t kk = m_array.k * m_array.k;
  const double a = m_cfg.ring.a, r = m_cfg.ring.r;
  const double A = a * a + r * r, B = 2 * a * r, D = 1 + a * a * r * r;
  // Phase-variation draws: one full-array sample per (draw, layer, group, chunk).
  RandomStream base = m_rng.derive(12).derive(draw).derive(static_cast<uint64_t>(layer) << 20 | static_cast<uint64_t>(group));
  std::vector<float> phase(kk);
  for (int64_t b = 0; b < t.P * t.Q; ++b) {
    const int64_t core = t.core[b];
    const float* off = m_offset.data() + core * kk;
    for (int64_t i = 0; i < kk; ++i) phase[i] = ph[b * kk + i] + off[i];
    if (m_pv) {
      RandomStream s = base.derive(static_cast<uint64_t>(t.chunk[b]));
      const float* sd = m_std.data() + core * kk;
      for (int64_t i = 0; i < kk; ++i) phase[i] += sd[i] * static_cast<float>(s.normal(static_cast<uint64_t>(core * kk + i)));
    }
    if (m_xt) m_xt->apply(phase.data(), 1);
    float* w = wn + b * kk;
    for (int64_t i = 0; i < kk; ++i) {
      double c = std::cos(static_cast<double>(phase[i]));
      w[i] = static_cast<float>(2 * (A - B * c) / (D - B * c) - 1);
    }
    scale[b] = sc[b];
  }
}

}  // namespace ptc::hw
