// Dispatcher `drain_for_calibration`: least-loaded over the chips that are not draining; a chip
// whose controller runs an action (calibration, re-programming, remapping, probing) or whose
// array is held for non-inference work takes no new traffic while the others serve. When every
// chip drains, least-loaded over all of them (requests then queue behind the calibrations).
#include "sim/dispatch/dispatcher.h"

namespace ptc::sim {
namespace {

class DrainForCalibration : public Dispatcher {
 public:
  void assign(const Arrivals& a, const std::vector<ChipState>& chips, std::vector<int>& out) override {
    std::vector<bool> allowed(chips.size());
    for (size_t c = 0; c < chips.size(); ++c) allowed[c] = !chips[c].draining;
    assign_least_loaded(a, chips, allowed, out);
  }
};

const Registrar<Dispatcher> reg{
    {"drain_for_calibration",
     "least-loaded over the chips not under calibration; a calibrating chip takes no traffic while the others serve",
     {},
     [](Params&) { return std::make_unique<DrainForCalibration>(); }}};

}  // namespace
}  // namespace ptc::sim
