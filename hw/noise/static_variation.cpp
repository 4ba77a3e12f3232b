#include "hw/noise/static_variation.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "models/error.h"

namespace ptc::hw {
namespace {

// Sub-stream ids of the four quantities (fixed: changing them changes every chip).
constexpr uint64_t kPhase = 41, kResonance = 42, kGain = 43, kOffset = 44;

void check_sigma(double v, const char* name) {
  if (!(std::isfinite(v) && v >= 0))
    throw Error(std::string("static variation: ") + name + " must be finite and >= 0, got " + std::to_string(v));
}

}  // namespace

void StaticVariationParams::validate() const {
  check_sigma(phase_sigma_rad, "phase_sigma_rad");
  check_sigma(resonance_sigma_nm, "resonance_sigma_nm");
  check_sigma(gain_sigma_rel, "gain_sigma_rel");
  check_sigma(offset_sigma_rel, "offset_sigma_rel");
}

StaticVariation::StaticVariation(const StaticVariationParams& p, const RandomStream& rng)
    : m_p(p),
      m_phase(rng.derive(kPhase)),
      m_resonance(rng.derive(kResonance)),
      m_gain(rng.derive(kGain)),
      m_offset(rng.derive(kOffset)) {
  m_p.validate();
}

double StaticVariation::phase_offset_rad(uint64_t device) const {
  return m_p.phase_sigma_rad * m_phase.normal(device);
}
double StaticVariation::resonance_offset_nm(uint64_t device) const {
  return m_p.resonance_sigma_nm * m_resonance.normal(device);
}
double StaticVariation::gain(uint64_t device) const {
  return std::max(0.0, 1.0 + m_p.gain_sigma_rel * m_gain.normal(device));
}
double StaticVariation::offset_rel(uint64_t device) const {
  return m_p.offset_sigma_rel * m_offset.normal(device);
}

StaticOffsetMap StaticVariation::offsets(const CoreArray& a) const {
  if (a.rows < 1 || a.cols < 1 || a.k < 1) throw Error("static variation: core array dimensions must be >= 1");
  const int64_t n = a.rings();
  StaticOffsetMap m;
  m.phase_rad.resize(n);
  m.resonance_nm.resize(n);
  m.gain.resize(n);
  m.offset_rel.resize(n);
  for (int64_t d = 0; d < n; ++d) {
    const auto u = static_cast<uint64_t>(d);
    m.phase_rad[d] = static_cast<float>(phase_offset_rad(u));
    m.resonance_nm[d] = static_cast<float>(resonance_offset_nm(u));
    m.gain[d] = static_cast<float>(gain(u));
    m.offset_rel[d] = static_cast<float>(offset_rel(u));
  }
  return m;
}

void StaticVariation::add_phase_offsets(const CoreArray& a, const std::vector<double>& phase_per_nm_rad, float* phase) const {
  if (static_cast<int64_t>(phase_per_nm_rad.size()) != a.k)
    throw Error("static variation: phase_per_nm_rad has " + std::to_string(phase_per_nm_rad.size()) +
                " entries, expected k = " + std::to_string(a.k));
  const int64_t n = a.rings();
  for (int64_t d = 0; d < n; ++d) {
    const auto u = static_cast<uint64_t>(d);
    double v = phase_offset_rad(u);
    if (m_p.resonance_sigma_nm > 0) v += resonance_offset_nm(u) * phase_per_nm_rad[d % a.k];
    phase[d] = static_cast<float>(phase[d] + v);
  }
}

}  // namespace ptc::hw
