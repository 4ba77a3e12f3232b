// Dispatcher `least_loaded`: each request to the chip that would finish it first (booked and
// queued work included), lowest index on ties; blind to calibration (a calibrating chip's
// booked downtime shows only once the calibration has booked the array).
#include "sim/dispatch/dispatcher.h"

namespace ptc::sim {
namespace {

class LeastLoaded : public Dispatcher {
 public:
  void assign(const Arrivals& a, const std::vector<ChipState>& chips, std::vector<int>& out) override {
    assign_least_loaded(a, chips, std::vector<bool>(chips.size(), true), out);
  }
};

const Registrar<Dispatcher> reg{{"least_loaded",
                                 "each request to the chip that completes it first (booked + queued work), lowest index on ties",
                                 {},
                                 [](Params&) { return std::make_unique<LeastLoaded>(); }}};

}  // namespace
}  // namespace ptc::sim
