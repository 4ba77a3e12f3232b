// A plug-in as built against an SDK from before the identity check: it registers a noise process
// straight into the registry, not through sim::Registrar, so it reports no SDK identity. The
// loader must refuse it rather than trust its class layouts.
#include "sim/plugins.h"

namespace {
using namespace ptc;

class Nothing : public hw::NoiseProcess {
 public:
  std::string acts_on() const override { return hw::kRingPhase; }
  std::unique_ptr<hw::PhaseNoise> bind(const hw::CoreArray&, const hw::RandomStream&) const override { return nullptr; }
};

const bool registered = [] {
  sim::Registry<hw::NoiseProcess>::get().add(
      {"test_no_sdk_identity", "test plug-in: registered without an SDK identity", {}, [](sim::Params&) {
         return std::make_unique<Nothing>();
       }});
  return true;
}();
}  // namespace
