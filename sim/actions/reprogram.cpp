// Full re-programming (docs/doctor.md §7).
#include "sim/actions/actions.h"

namespace ptc::sim::actions {

int64_t reprogram_all(Env& e, const std::string& reason) {
  hw::Accelerator& acc = e.chip();
  const auto& wl = e.ctx().wl;
  int64_t writes = 0;
  for (size_t l = 0; l < wl.layers.size(); ++l)
    for (size_t g = 0; g < wl.layers[l].gemms.size(); ++g)
      writes += acc.program(static_cast<int64_t>(l), static_cast<int64_t>(g), acc.ideal(l, g), e.now_s());
  const double t_s = e.occupy_writes();  // non-volatile cells: the write pulses, priced by the accelerator
  if (acc.tech().thermally_coupled()) {
    // Rings: every ring is re-tuned against the current temperature: a full identity-probe
    // read-back of every chunk (k vectors and one settle per chunk), then one settle; one write
    // per ring weight.
    e.charge_cycles(e.probe_cycles(), wl.chunks, "program");
    e.occupy_settles(1);
    writes += acc.relock(e.now_s());
  }
  e.log_event("program", {{"reason", reason}, {"writes", writes}, {"time_s", t_s}});
  return writes;
}

}  // namespace ptc::sim::actions
