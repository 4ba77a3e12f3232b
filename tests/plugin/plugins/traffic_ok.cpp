// A working traffic plug-in: one request every period_s (from t = 0), each served at its arrival.
#include "sim/traffic/traffic.h"

namespace {
using namespace ptc::sim;
class TestPeriodic : public TrafficSource {
 public:
  explicit TestPeriodic(Params& p) : m_period_s(p.num("period_s")) {}
  bool next(double, Arrivals& a) override {
    const double t = static_cast<double>(m_i) * m_period_s;
    if (m_ctx.horizon_s > 0 && t >= m_ctx.horizon_s) return false;
    ++m_i;
    a = Arrivals{};
    a.n = 1;
    a.ready_s = a.window_lo_s = a.window_hi_s = t;
    a.arrival_s = {t};
    return true;
  }

 private:
  double m_period_s;
  long long m_i = 0;
};
const Registrar<TrafficSource> reg{{"test_periodic",
                                    "test plug-in: one request every period_s",
                                    {{"period_s", "s", 0.01, "time between requests", 1e-9, 1e9}},
                                    [](Params& p) { return std::make_unique<TestPeriodic>(p); }}};
}  // namespace
