// PCM laws with mistakes (tests/plugin/test_plugin.sh), each refused by `validate` (which builds
// and programs the device as `run` does) in one line:
// - test_pcm_negative: programming returns a negative conductance, refused where the law's
//   result enters the device;
// - test_pcm_own_rng: read noise from a generator of its own, so the same read gives another
//   conductance each time (the device replays reads: a law must be a pure function);
// - test_pcm_throws: reads after a day throw something that is not a std::exception, named as
//   the law's read_us by validate and by `ptcsim device pcm` (one line, no abort).
#include <random>

#include "sim/pcm_law_device.h"

namespace {
using namespace ptc;

class NegativeProgramming : public hw::PcmLaw {
 public:
  explicit NegativeProgramming(sim::Params&) {}
  double program_us(double g_target_us, double) const override { return g_target_us > 0 ? -1.0 : 0.0; }
  double drift_coefficient(double, double) const override { return 0.0; }
  double read_us(double g_prog_us, double, double, double, double, bool) const override { return g_prog_us; }
};

class OwnGenerator : public hw::PcmLaw {
 public:
  explicit OwnGenerator(sim::Params&) {}
  double program_us(double g_target_us, double) const override { return g_target_us; }
  double drift_coefficient(double, double) const override { return 0.0; }
  double read_us(double g_prog_us, double, double, double, double, bool noiseless) const override {
    return noiseless ? g_prog_us : g_prog_us * (1.0 + 0.01 * m_normal(m_gen));
  }

 private:
  mutable std::mt19937 m_gen{42};
  mutable std::normal_distribution<double> m_normal;
};

class Throwing : public hw::PcmLaw {
 public:
  explicit Throwing(sim::Params&) {}
  double program_us(double g_target_us, double) const override { return g_target_us; }
  double drift_coefficient(double, double) const override { return 0.0; }
  double read_us(double g_prog_us, double, double, double t_inf_s, double, bool) const override {
    if (t_inf_s > 86400) throw 42;
    return g_prog_us;
  }
};

const sim::Registrar<hw::DeviceModel> reg{
    sim::pcm_law_device<NegativeProgramming>("test_pcm_negative", "test plug-in: a PCM law programming -1 uS", {})};
const sim::Registrar<hw::DeviceModel> reg_rng{sim::pcm_law_device<OwnGenerator>(
    "test_pcm_own_rng", "test plug-in: a PCM law with a random generator of its own (impure)", {})};
const sim::Registrar<hw::DeviceModel> reg_throws{
    sim::pcm_law_device<Throwing>("test_pcm_throws", "test plug-in: a PCM law whose reads after a day throw 42", {})};
}  // namespace
