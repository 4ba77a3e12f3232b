// A working noise-process plug-in, one file: a new stochastic law on ring phases -- a static
// per-ring offset uniform in [-a, a], drawn once per chip from the chip's device stream.
#include "sim/plugins.h"

namespace {
using namespace ptc;

class UniformOffset : public hw::PhaseNoise {
 public:
  UniformOffset(const hw::CoreArray& a, double amp, const hw::RandomStream& rng) {
    for (int64_t i = 0; i < a.rings(); ++i)
      m_off.push_back(static_cast<float>(amp * (2 * rng.uniform(static_cast<uint64_t>(i)) - 1)));
  }
  bool add_offset(const hw::NoiseTime&, float* off) const override {
    for (size_t i = 0; i < m_off.size(); ++i) off[i] += m_off[i];
    return true;
  }

 private:
  std::vector<float> m_off;
};

class UniformOffsetProcess : public hw::NoiseProcess {
 public:
  explicit UniformOffsetProcess(sim::Params& p) : m_amp(p.num("amplitude_rad")) {}
  std::string acts_on() const override { return hw::kRingPhase; }
  std::unique_ptr<hw::PhaseNoise> bind(const hw::CoreArray& a, const hw::RandomStream& rng) const override {
    return std::make_unique<UniformOffset>(a, m_amp, rng.derive(0x7e57));
  }

 private:
  double m_amp;
};

const sim::Registrar<hw::NoiseProcess> reg{{"test_ring_offset",
                                            "test plug-in: static per-ring phase offset, uniform in [-a, a]",
                                            {{"amplitude_rad", "rad", 0.02, "half-width a of the per-ring offset", 0, 10}},
                                            [](sim::Params& p) { return std::make_unique<UniformOffsetProcess>(p); }}};
}  // namespace
