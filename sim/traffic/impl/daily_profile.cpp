// Traffic source `daily_profile`: Poisson arrivals with a piecewise-constant rate per hour of the
// day (windowed_poisson.h).
#include <algorithm>

#include "sim/traffic/impl/windowed_poisson.h"

namespace ptc::sim {
namespace {
using traffic_impl::kBatch;
using traffic_impl::kFirst;
using traffic_impl::WindowedPoisson;

const Registrar<TrafficSource> reg_daily{
    {"daily_profile",
     "Poisson arrivals with a piecewise-constant daily rate profile",
     {{"hourly_rate_hz", "1/s",
       Json::array({20, 15, 10, 10, 10, 15, 30, 60, 90, 100, 100, 100, 100, 100, 100, 100, 100, 90, 80, 70, 60, 50, 40, 30}),
       "mean arrival rate for each hour of the day (24 values), piecewise constant; a window of batch_s holds the rate "
       "integrated over it",
       0, 1e12},
      kBatch,
      kFirst},
     [](Params& p) {
       std::vector<double> h = p.nums("hourly_rate_hz");
       if (h.size() != 24) throw Error(p.path_of("hourly_rate_hz") + ": expected 24 values, got " + std::to_string(h.size()));
       // (poisson's rate_hz is > 0 too: a run of such traffic served nothing and reported no accuracy)
       if (std::all_of(h.begin(), h.end(), [](double r) { return r == 0; }))
         throw Error(p.path_of("hourly_rate_hz") + ": every hour's rate is 0: no request would ever arrive");
       return std::make_unique<WindowedPoisson>(h, p.num("batch_s"), p.integer("first_image"));
     }}};

}  // namespace
}  // namespace ptc::sim
