// A working noise-process plug-in: a static per-ring phase offset set through DeviceSetup.
#include "sim/scenario.h"

namespace {
using namespace ptc::sim;
class TestOffset : public NoiseProcess {
 public:
  explicit TestOffset(Params& p) : m_sigma_rad(p.num("sigma_rad")) {}
  void configure(DeviceSetup& s) const override { s.static_phase_sigma_rad = m_sigma_rad; }
  std::vector<std::string> devices() const override { return {"mrr"}; }

 private:
  double m_sigma_rad;
};
const Registrar<NoiseProcess> reg{{"test_ring_offset", "test plug-in: static per-ring phase offset",
                                   {{"sigma_rad", "rad", 0.02, "std of the per-ring offset", 0, 10}},
                                   [](Params& p) { return std::make_unique<TestOffset>(p); }}};
}  // namespace
