#include "hw/noise/noise_process.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "hw/noise/static_variation.h"
#include "models/error.h"

namespace ptc::hw {

std::vector<std::pair<std::shared_ptr<const NoiseProcess>, size_t>> ring_phase_processes(const NoiseList& noise) {
  std::vector<std::pair<std::shared_ptr<const NoiseProcess>, size_t>> procs;
  for (size_t i = 0; i < noise.size(); ++i)
    if (noise[i] && noise[i]->acts_on() == kRingPhase) procs.emplace_back(noise[i], i);
  std::stable_sort(procs.begin(), procs.end(), [](const auto& a, const auto& b) { return a.first->stage() < b.first->stage(); });
  return procs;
}

std::string noise_where(const std::vector<std::string>& labels, size_t i) {
  return i < labels.size() && !labels[i].empty() ? labels[i] : "noise[" + std::to_string(i) + "]";
}

std::unique_ptr<PhaseNoise> bind_phase_noise(const NoiseProcess& p, size_t i, const std::string& where, const CoreArray& array,
                                             const RandomStream& rng) {
  const std::string path = "noise[" + std::to_string(i) + "]";
  std::unique_ptr<PhaseNoise> inst;
  try {
    inst = p.bind(array, rng);
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& x) {
    const std::string what = x.what();
    if (what.rfind(path + ".", 0) == 0 || what.rfind(path + ":", 0) == 0) throw Error(what);
    throw Error(where + ": bind: " + what);
  } catch (...) {
    throw Error(where + ": bind: threw an exception that is not a std::exception");
  }
  if (!inst) throw Error(where + ": bind returned no process instance");
  return inst;
}

namespace {
// A std in a message: %g, so a tiny negative value does not print as -0.000000.
std::string std_text(float v) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", static_cast<double>(v));
  return b;
}

// One process's read_std at `step` checked against the contract (one finite value >= 0 per ring).
void check_read_std(const std::vector<float>& s, const std::string& who, int64_t step, int64_t rings) {
  if (static_cast<int64_t>(s.size()) != rings)
    throw Error(who + ": read_std at step " + std::to_string(step) + " gives " + std::to_string(s.size()) +
                (s.size() == 1 ? " value" : " values") + "; the array has " + std::to_string(rings) +
                " rings (one std per ring, [R, C, k, k])");
  for (size_t i = 0; i < s.size(); ++i)
    if (!(s[i] >= 0) || !std::isfinite(s[i]))
      throw Error(who + ": read_std at step " + std::to_string(step) + " gives ring " + std::to_string(i) + " the std " +
                  std_text(s[i]) + " rad; a std must be finite and >= 0");
}
}  // namespace

bool per_read_std(const std::vector<std::unique_ptr<PhaseNoise>>& procs, const std::vector<std::string>& where, int64_t step,
                  int64_t rings, std::vector<float>& sd) {
  sd.clear();
  std::vector<const std::vector<float>*> got;
  for (size_t j = 0; j < procs.size(); ++j) {
    const std::vector<float>* s = procs[j]->read_std(step);
    if (!s) continue;
    check_read_std(*s, j < where.size() ? where[j] : "a ring-phase noise process", step, rings);
    got.push_back(s);
  }
  if (got.empty()) return false;
  if (got.size() == 1) {  // one process: its std as it is
    sd = *got[0];
    return true;
  }
  // Independent processes add in variance. (For one process the same formula gives the same
  // bits: sqrt of a float's exact double square is that float.)
  std::vector<double> var(static_cast<size_t>(rings), 0.0);
  for (const auto* s : got)
    for (size_t i = 0; i < var.size(); ++i) var[i] += static_cast<double>((*s)[i]) * (*s)[i];
  sd.resize(var.size());
  for (size_t i = 0; i < var.size(); ++i) sd[i] = static_cast<float>(std::sqrt(var[i]));
  return true;
}

namespace {

// ---------------------------------------------------------------- DOCTOR phase variation
class PhaseVariationInstance : public PhaseNoise {
 public:
  PhaseVariationInstance(const CoreArray& a, const PhaseVariationParams& p, const RandomStream& rng) : m_pv(a, p, rng) {}
  const std::vector<float>* read_std(int64_t step) override { return &m_pv.std_map(step); }

 private:
  PhaseVariation m_pv;
};

class PhaseVariationProcess : public NoiseProcess {
 public:
  explicit PhaseVariationProcess(const PhaseVariationParams& p) : m_p(p) {}
  std::string acts_on() const override { return kRingPhase; }
  PhaseStage stage() const override { return PhaseStage::per_read; }
  // The device stream's sub-stream 11 (kept from the first release: same seed, same bits).
  std::unique_ptr<PhaseNoise> bind(const CoreArray& a, const RandomStream& rng) const override {
    return std::make_unique<PhaseVariationInstance>(a, m_p, rng.derive(11));
  }
  std::vector<std::string> needs() const override { return {"cyclic_mapping"}; }

 private:
  PhaseVariationParams m_p;
};

// ---------------------------------------------------------------- DOCTOR global temperature
class GlobalTemperatureInstance : public PhaseNoise {
 public:
  GlobalTemperatureInstance(const CoreArray& a, const GlobalTemperatureParams& p) : m_a(a), m_t0(p.t0_k), m_gt(a, p) {}
  bool add_offset(const NoiseTime& t, float* off) const override {
    m_gt.add_shift(static_cast<double>(t.step), off);
    for (size_t i = 0; i < m_ref.size(); ++i) off[i] -= m_ref[i];
    return true;
  }
  void relock(const NoiseTime& t, const std::vector<char>* rings) override {
    // The shift of a re-tuned ring is measured from T(relock) from now on.
    std::vector<float> now(static_cast<size_t>(m_a.rings()), 0.0f);
    if (rings && rings->size() != now.size())
      throw Error("global temperature: relock mask has " + std::to_string(rings->size()) + " rings, the array " +
                  std::to_string(now.size()));
    m_gt.add_shift(static_cast<double>(t.step), now.data());
    if (m_ref.empty()) m_ref.assign(now.size(), 0.0f);
    for (size_t i = 0; i < now.size(); ++i)
      if (!rings || (*rings)[i]) m_ref[i] = now[i];
  }
  double mean_temperature_k(int64_t step) const override {
    const double T = m_gt.temperature_k(static_cast<double>(step));
    double s = 0;
    for (double h : m_gt.hotspot_map()) s += m_t0 + (T - m_t0) * h;
    return s / static_cast<double>(m_gt.hotspot_map().size());
  }

 private:
  CoreArray m_a;
  double m_t0;
  GlobalTemperature m_gt;
  std::vector<float> m_ref;  // shift at the last relock (empty: locked at T0)
};

class GlobalTemperatureProcess : public NoiseProcess {
 public:
  explicit GlobalTemperatureProcess(const GlobalTemperatureParams& p) : m_p(p) {}
  std::string acts_on() const override { return kRingPhase; }
  PhaseStage stage() const override { return PhaseStage::scheduled_offset; }
  std::unique_ptr<PhaseNoise> bind(const CoreArray& a, const RandomStream&) const override {
    return std::make_unique<GlobalTemperatureInstance>(a, m_p);
  }

 private:
  GlobalTemperatureParams m_p;
};

// ---------------------------------------------------------------- thermal crosstalk
class CrosstalkInstance : public PhaseNoise {
 public:
  CrosstalkInstance(int64_t k, const CrosstalkParams& p) : m_xt(k, p) {}
  const ThermalCrosstalk* coupling() const override { return &m_xt; }

 private:
  ThermalCrosstalk m_xt;
};

class CrosstalkProcess : public NoiseProcess {
 public:
  explicit CrosstalkProcess(const CrosstalkParams& p) : m_p(p) {}
  std::string acts_on() const override { return kRingPhase; }
  PhaseStage stage() const override { return PhaseStage::coupling; }
  std::unique_ptr<PhaseNoise> bind(const CoreArray& a, const RandomStream&) const override {
    return std::make_unique<CrosstalkInstance>(a.k, m_p);
  }

 private:
  CrosstalkParams m_p;
};

// ---------------------------------------------------------------- fixed per-ring offsets
class OffsetInstance : public PhaseNoise {
 public:
  explicit OffsetInstance(std::vector<float> off) : m_off(std::move(off)) {}
  bool add_offset(const NoiseTime&, float* off) const override {
    for (size_t i = 0; i < m_off.size(); ++i) off[i] += m_off[i];
    return true;
  }

 private:
  std::vector<float> m_off;
};

// Fabrication offsets of one chip; Monte-Carlo instance k >= 1 draws its own from sub-stream k.
class StaticPhaseInstance : public PhaseNoise {
 public:
  StaticPhaseInstance(const StaticVariationParams& sv, const CoreArray& a, const RandomStream& rng)
      : m_sv(sv), m_array(a), m_rng(rng), m_off(StaticVariation(sv, rng).offsets(a).phase_rad) {}
  bool add_offset(const NoiseTime&, float* off) const override {
    for (size_t i = 0; i < m_off.size(); ++i) off[i] += m_off[i];
    return true;
  }
  bool select_instance(int64_t k) override {
    if (k == m_instance) return true;
    m_instance = k;
    const RandomStream s = k == 0 ? m_rng : m_rng.derive(0x4d43).derive(static_cast<uint64_t>(k));
    m_off = StaticVariation(m_sv, s).offsets(m_array).phase_rad;
    return true;
  }

 private:
  StaticVariationParams m_sv;
  CoreArray m_array;
  RandomStream m_rng;
  std::vector<float> m_off;
  int64_t m_instance = 0;
};

class StaticPhaseProcess : public NoiseProcess {
 public:
  explicit StaticPhaseProcess(double sigma) : m_sigma(sigma) {
    if (!(sigma >= 0)) throw Error("static phase variation: sigma must be >= 0");
  }
  std::string acts_on() const override { return kRingPhase; }
  PhaseStage stage() const override { return PhaseStage::static_offset; }
  // The device stream's sub-stream 0x57 (kept from the first release: same seed, same bits).
  std::unique_ptr<PhaseNoise> bind(const CoreArray& a, const RandomStream& rng) const override {
    StaticVariationParams sv;
    sv.phase_sigma_rad = m_sigma;
    return std::make_unique<StaticPhaseInstance>(sv, a, rng.derive(0x57));
  }

 private:
  double m_sigma;
};

class FixedOffsetProcess : public NoiseProcess {
 public:
  explicit FixedOffsetProcess(std::vector<float> off) : m_off(std::move(off)) {}
  std::string acts_on() const override { return kRingPhase; }
  std::unique_ptr<PhaseNoise> bind(const CoreArray& a, const RandomStream&) const override {
    if (static_cast<int64_t>(m_off.size()) != a.rings())
      throw Error("fixed phase offset map: expected " + std::to_string(a.rings()) + " rings, got " +
                  std::to_string(m_off.size()));
    return std::make_unique<OffsetInstance>(m_off);
  }

 private:
  std::vector<float> m_off;
};

// ---------------------------------------------------------------- physical thermal field
class ThermalFieldProcess : public NoiseProcess {
 public:
  explicit ThermalFieldProcess(const ThermalFieldParams& p) : m_p(p) {}
  std::string acts_on() const override { return kTemperature; }
  std::optional<ThermalFieldParams> thermal_field() const override { return m_p; }

 private:
  ThermalFieldParams m_p;
};

}  // namespace

std::unique_ptr<NoiseProcess> phase_variation_noise(const PhaseVariationParams& p) {
  return std::make_unique<PhaseVariationProcess>(p);
}
std::unique_ptr<NoiseProcess> global_temperature_noise(const GlobalTemperatureParams& p) {
  return std::make_unique<GlobalTemperatureProcess>(p);
}
std::unique_ptr<NoiseProcess> crosstalk_noise(const CrosstalkParams& p) {
  return std::make_unique<CrosstalkProcess>(p);
}
std::unique_ptr<NoiseProcess> static_phase_noise(double phase_sigma_rad) {
  return std::make_unique<StaticPhaseProcess>(phase_sigma_rad);
}
std::unique_ptr<NoiseProcess> fixed_phase_offset(std::vector<float> offset_rad) {
  return std::make_unique<FixedOffsetProcess>(std::move(offset_rad));
}
std::unique_ptr<NoiseProcess> thermal_field_noise(const ThermalFieldParams& p) {
  return std::make_unique<ThermalFieldProcess>(p);
}

}  // namespace ptc::hw
