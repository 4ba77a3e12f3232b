// A per-read noise plug-in (a trial wrote one): fresh Gaussian phase noise of a constant std on every
// ring at every read, declared with the default stage (static_offset) or with per_read; `fault`
// makes its read_std break the contract (no noise: nullptr, a short vector, a NaN), which the
// device must report, not crash on or read past, or makes its factory or bind() throw.
#include <cmath>
#include <limits>
#include <stdexcept>

#include "sim/plugins.h"

namespace {
using namespace ptc;

class ConstantReadNoise : public hw::PhaseNoise {
 public:
  ConstantReadNoise(const hw::CoreArray& a, double sigma, const std::string& fault) : m_fault(fault) {
    const size_t n = fault == "short" ? 1 : static_cast<size_t>(a.rings());
    m_std.assign(n, static_cast<float>(sigma));
    if (fault == "nan") m_std[n / 2] = std::numeric_limits<float>::quiet_NaN();
  }
  const std::vector<float>* read_std(int64_t) override { return m_fault == "none" ? nullptr : &m_std; }

 private:
  std::string m_fault;
  std::vector<float> m_std;
};

class ConstantReadNoiseProcess : public hw::NoiseProcess {
 public:
  explicit ConstantReadNoiseProcess(sim::Params& p)
      : m_sigma(p.num("sigma_rad")), m_per_read(p.str("stage") == "per_read"), m_fault(p.str("fault")) {
    if (m_fault == "factory") throw std::runtime_error("the fit file went missing");
  }
  std::string acts_on() const override { return hw::kRingPhase; }
  hw::PhaseStage stage() const override { return m_per_read ? hw::PhaseStage::per_read : hw::PhaseStage::static_offset; }
  std::unique_ptr<hw::PhaseNoise> bind(const hw::CoreArray& a, const hw::RandomStream&) const override {
    if (m_fault == "bind") throw std::runtime_error("no calibration for this array size");
    return std::make_unique<ConstantReadNoise>(a, m_sigma, m_fault);
  }

 private:
  double m_sigma;
  bool m_per_read;
  std::string m_fault;
};

const sim::Registrar<hw::NoiseProcess> reg{
    {"test_read_noise",
     "test plug-in: fresh Gaussian ring-phase noise of a constant std at every read",
     {{"sigma_rad", "rad", 0.05, "std of the per-read noise", 0, 10},
      {"stage", "", "static_offset", "stage() the process declares", -1e300, 1e300, {"static_offset", "per_read"}},
      {"fault", "", "ok", "how read_std breaks the contract", -1e300, 1e300, {"ok", "none", "short", "nan", "factory", "bind"}}},
     [](sim::Params& p) { return std::make_unique<ConstantReadNoiseProcess>(p); }}};
}  // namespace
