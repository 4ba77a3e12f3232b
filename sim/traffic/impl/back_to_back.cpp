// `back_to_back`: a fixed number of requests, each issued when the previous one completes
// (DOCTOR's evaluation: request i classifies test image i).
#include "sim/traffic/traffic.h"

namespace ptc::sim {
namespace {

class BackToBack : public TrafficSource {
 public:
  explicit BackToBack(Params& p) : m_requests(p.integer("requests")), m_first(p.integer("first_image")) {}
  bool next(double prev_done_s, Arrivals& a) override {
    if (m_issued >= m_requests) return false;
    ++m_issued;
    a = Arrivals{};
    a.n = 1;
    a.ready_s = a.window_lo_s = a.window_hi_s = prev_done_s;
    a.arrival_s = {prev_done_s};
    return true;
  }
  int64_t total_requests() const override { return m_requests; }
  int64_t first_image() const override { return m_first; }

 private:
  int64_t m_requests, m_first, m_issued = 0;
};

const Registrar<TrafficSource> reg{
    {"back_to_back",
     "a fixed number of requests, each issued when the previous completes (DOCTOR)",
     {{"requests", "requests", 10000, "requests, each issued when the previous completes (DOCTOR: request i = test image i)", 1,
       1e12},
      {"first_image", "", 0, "request i classifies test image (first_image + i) mod N", 0, 1e12}},
     [](Params& p) { return std::make_unique<BackToBack>(p); },
     {"one_at_a_time"}}};

}  // namespace
}  // namespace ptc::sim
