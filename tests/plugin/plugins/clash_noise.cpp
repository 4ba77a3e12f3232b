// Registers a new noise process, then one under a built-in name.
#include "sim/scenario.h"

namespace {
using namespace ptc::sim;
class Nothing : public NoiseProcess {
 public:
  void configure(DeviceSetup&) const override {}
  std::vector<std::string> devices() const override { return {"mrr"}; }
};
const Registrar<NoiseProcess> reg_new{{"test_fresh_name", "fine", {}, [](Params&) { return std::make_unique<Nothing>(); }}};
const Registrar<NoiseProcess> reg_old{{"thermal_crosstalk", "clash", {}, [](Params&) { return std::make_unique<Nothing>(); }}};
}  // namespace
