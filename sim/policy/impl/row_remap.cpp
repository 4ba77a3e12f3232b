// `row_remap`: row-based remapping of worn PCM rows to spare rows (the ageing-resilience idea of
// ELight's TCAD 2022 extension, Zhu et al., "ELight: Towards Efficient and Aging-Resilient Photonic
// In-Memory Neurocomputing"; ptcsim's spare-row form, docs/elight.md §6). Every interval the
// policy asks the chip which logical rows of its streamed PCM cores have at least `threshold` worn
// cells in use; each such row is moved to an unused spare row of the same core (device.spare_rows),
// whose fresh cells take its writes from then on. A row found worn when its core has no spare left
// stays worn (unrepaired). Streaming mapping with device endurance only.
#include "sim/policy/policy.h"

namespace ptc::sim {
namespace {

class RowRemap : public Policy {
 public:
  explicit RowRemap(Params& p)
      : m_every_s(p.num("interval_s")), m_every_req(p.integer("interval_requests")), m_threshold(p.integer("threshold")) {
    if (m_every_req > 0) m_every_s = 0;  // a request interval replaces the time interval
    if (m_every_s <= 0 && m_every_req <= 0)
      throw Error(p.path() + ": interval_s or interval_requests must be > 0 (the policy would never check)");
  }
  double timer_interval_s() const override { return m_every_s; }
  int64_t timer_interval_requests() const override { return m_every_req; }
  std::vector<std::string> capabilities_needed() const override { return {"row_remap"}; }
  void on_timer(Actions& a) override { a.remap_worn_rows(m_threshold); }

 private:
  double m_every_s;
  int64_t m_every_req, m_threshold;
};

const Registrar<Policy> reg{
    {"row_remap",
     "ELight (TCAD 2022) row-based remapping: worn rows of the streamed PCM cores move to spare rows (device.spare_rows)",
     {{"interval_s", "s", 3600.0, "check the cores' worn cells every this many simulated seconds (unless interval_requests)", 0,
       1e12},
      {"interval_requests", "requests", 0, "check every this many served requests instead (0 = use interval_s)", 0, 1e15},
      {"threshold", "cells", 1, "remap a row when at least this many of its cells in use are worn", 1, 1e9}},
     [](Params& p) { return std::make_unique<RowRemap>(p); }}};

}  // namespace
}  // namespace ptc::sim
