// Traffic source `poisson`: Poisson arrivals at a constant mean rate (windowed_poisson.h).
#include "sim/traffic/impl/windowed_poisson.h"

namespace ptc::sim {
namespace {
using traffic_impl::kBatch;
using traffic_impl::kFirst;
using traffic_impl::WindowedPoisson;

const Registrar<TrafficSource> reg_poisson{{"poisson",
                                            "Poisson arrivals at a constant mean rate",
                                            {{"rate_hz", "1/s", 100.0, "mean arrival rate", 1e-12, 1e12}, kBatch, kFirst},
                                            [](Params& p) {
                                              double rate = p.num("rate_hz");
                                              return std::make_unique<WindowedPoisson>(
                                                  std::vector<double>{rate}, p.num("batch_s"), p.integer("first_image"));
                                            }}};

}  // namespace
}  // namespace ptc::sim
