// Registers one fresh noise name and one that clashes with a built-in: loading must fail cleanly.
#include "sim/plugins.h"

namespace {
using namespace ptc;
class Nothing : public hw::NoiseProcess {
 public:
  std::string acts_on() const override { return hw::kRingPhase; }
};
const sim::Registrar<hw::NoiseProcess> reg_new{
    {"test_fresh_name", "fine", {}, [](sim::Params&) { return std::make_unique<Nothing>(); }}};
const sim::Registrar<hw::NoiseProcess> reg_old{
    {"thermal_crosstalk", "clash", {}, [](sim::Params&) { return std::make_unique<Nothing>(); }}};
}  // namespace
