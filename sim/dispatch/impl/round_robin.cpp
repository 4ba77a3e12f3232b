// Dispatcher `round_robin`: request i of the run goes to chip i mod N, whatever the chips' load.
#include "sim/dispatch/dispatcher.h"

namespace ptc::sim {
namespace {

class RoundRobin : public Dispatcher {
 public:
  void assign(const Arrivals& a, const std::vector<ChipState>& chips, std::vector<int>& out) override {
    const int64_t n = static_cast<int64_t>(chips.size());
    out.resize(static_cast<size_t>(a.n));
    for (int64_t i = 0; i < a.n; ++i) out[static_cast<size_t>(i)] = static_cast<int>((m_next + i) % n);
    m_next = (m_next + a.n) % n;
  }

 private:
  int64_t m_next = 0;
};

const Registrar<Dispatcher> reg{
    {"round_robin", "request i of the run to chip i mod N (load- and calibration-blind)", {}, [](Params&) {
       return std::make_unique<RoundRobin>();
     }}};

}  // namespace
}  // namespace ptc::sim
