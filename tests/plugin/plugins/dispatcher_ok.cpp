// A working dispatcher plug-in built against the installed SDK (sim/scenario.h includes
// sim/dispatch/dispatcher.h, so the header must be installed): every request goes to chip
// `chip` (clamped to the fleet), whatever the chips' states.
#include <algorithm>

#include "sim/dispatch/dispatcher.h"

namespace {
using namespace ptc::sim;
class TestOneChip : public Dispatcher {
 public:
  explicit TestOneChip(Params& p) : m_chip(static_cast<int>(p.integer("chip"))) {}
  void assign(const Arrivals& a, const std::vector<ChipState>& chips, std::vector<int>& out) override {
    const int c = std::min(m_chip, static_cast<int>(chips.size()) - 1);
    out.assign(static_cast<size_t>(a.n), c);
  }

 private:
  int m_chip;
};
const Registrar<Dispatcher> reg{{"test_one_chip",
                                 "test plug-in: every request to one chip",
                                 {{"chip", "", 0, "chip index (clamped to the fleet)", 0, 1024}},
                                 [](Params& p) { return std::make_unique<TestOneChip>(p); }}};
}  // namespace
