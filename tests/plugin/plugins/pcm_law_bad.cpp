// A PCM law with a mistake (tests/plugin/test_plugin.sh): programming returns a negative
// conductance. The device refuses it where the law's result enters it, so `validate` (which builds
// and programs the device as `run` does) reports it in one line.
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

const sim::Registrar<hw::DeviceModel> reg{
    sim::pcm_law_device<NegativeProgramming>("test_pcm_negative", "test plug-in: a PCM law programming -1 uS", {})};
}  // namespace
