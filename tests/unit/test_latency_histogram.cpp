// The latency histogram behind the trace's and summary's p50/p99 (sim/latency_histogram.h)
// against closed-form quantiles of uniform windows (Poisson arrivals served at the end of a batch
// window wait uniformly) and point masses (constant service).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "sim/latency_histogram.h"

using ptc::sim::LatencyHistogram;

TEST_CASE("one uniform window spanning many bins gives its exact quantiles", "[latency]") {
  // [1e-4, 1.0001] s covers four decades (about 400 bins): within every bin the mass is uniform,
  // so the linear interpolation is exact, not just bin-accurate.
  LatencyHistogram h;
  const double a = 1e-4, b = 1.0001;
  h.add_uniform(a, b, 1000.0);
  CHECK(h.total() == 1000.0);
  for (double p : {0.001, 0.01, 0.1, 0.25, 0.5, 0.9, 0.99, 0.999}) CHECK(h.quantile(p) == Approx(a + p * (b - a)).epsilon(1e-9));
}

TEST_CASE("overlapping windows and point masses: quantiles of the mixture within one bin", "[latency]") {
  // Two windows and a point mass; the CDF is piecewise linear, inverted here by bisection.
  struct Win {
    double a, b, w;
  };
  const std::vector<Win> wins = {{0.1, 0.3, 1.0}, {0.2, 0.9, 3.0}, {0.25, 0.2501, 0.5}};
  const double point = 0.05, point_w = 0.5;
  LatencyHistogram h;
  for (const auto& w : wins) h.add_uniform(w.a, w.b, w.w);
  h.add(point, point_w);
  double total = point_w;
  for (const auto& w : wins) total += w.w;
  CHECK(h.total() == Approx(total));
  auto cdf = [&](double x) {
    double m = x >= point ? point_w : 0.0;
    for (const auto& w : wins) m += w.w * std::clamp((x - w.a) / (w.b - w.a), 0.0, 1.0);
    return m / total;
  };
  const double bin_ratio = std::pow(10.0, 0.01);  // 100 bins per decade
  for (double p : {0.2, 0.3, 0.5, 0.75, 0.9, 0.99}) {
    double lo = 0.0, hi = 1.0;
    for (int i = 0; i < 200; ++i) (cdf(0.5 * (lo + hi)) < p ? lo : hi) = 0.5 * (lo + hi);
    const double q = h.quantile(p);
    CHECK(q >= hi / bin_ratio);
    CHECK(q <= hi * bin_ratio);
  }
  // The point mass takes the first 10 %: every quantile below it is the point itself.
  CHECK(h.quantile(0.05) == point);
}

TEST_CASE("point masses give exact quantiles, windows added after a quantile still count, clear resets", "[latency]") {
  LatencyHistogram h;
  h.add(0.002, 99);
  h.add(0.5, 1);
  CHECK(h.quantile(0.5) == 0.002);
  CHECK(h.quantile(0.99) == 0.002);
  CHECK(h.quantile(0.995) == 0.5);
  // A window after the first quantile (the difference arrays are flushed, then used again).
  h.add_uniform(1.0, 100.0, 100);
  CHECK(h.total() == 200.0);
  CHECK(h.quantile(0.75) == Approx(1.0 + 0.5 * 99.0).epsilon(1e-9));
  h.clear();
  CHECK(h.total() == 0.0);
  CHECK(std::isnan(h.quantile(0.5)));
  h.add_uniform(2.0, 4.0, 10);
  CHECK(h.quantile(0.5) == Approx(3.0).epsilon(1e-12));
}

// Issue 17: the progress writer asks for quantiles at wall-clock-dependent moments (partial
// outputs every 5 s of wall time); asking must not change later answers, or two same-seed runs
// differ in the last digits of latency_p99_s (3567.648826248287 vs ...288).
TEST_CASE("quantiles asked in between leave later quantiles bit-identical", "[latency]") {
  LatencyHistogram quiet, asked;
  uint64_t s = 12345;
  auto next = [&] {  // a fixed pseudo-random sequence (xorshift), no library dependence
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    return static_cast<double>(s >> 11) / 9007199254740992.0;
  };
  for (int i = 0; i < 2000; ++i) {
    const double a = 1e-3 * (1 + 1000 * next()), b = a + 3600 * next(), w = 1 + std::floor(4000 * next());
    quiet.add_uniform(a, b, w);
    asked.add_uniform(a, b, w);
    if (i % 7 == 3) (void)asked.quantile(0.99);
  }
  for (double p : {0.5, 0.9, 0.99, 0.999}) {
    const double q0 = quiet.quantile(p), q1 = asked.quantile(p);
    INFO("p = " << p);
    CHECK(std::memcmp(&q0, &q1, sizeof q0) == 0);
  }
}

// A fleet's trace rows pool its chips' row windows (merge): the merged histogram has the quantiles
// of one histogram fed both chips' requests. Point masses of unit weight (integer sums, exact in any
// order) give the same bits; windows spanning many bins agree to rounding.
TEST_CASE("merging two histograms gives the quantiles of one fed both", "[latency]") {
  LatencyHistogram a, b, both;
  uint64_t s = 987654321;
  auto next = [&] {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    return static_cast<double>(s >> 11) / 9007199254740992.0;
  };
  for (int i = 0; i < 3000; ++i) {
    const double x = 1e-4 * (1 + 100 * next());
    (i % 3 ? a : b).add(x);
    both.add(x);
  }
  LatencyHistogram m = a;
  m.merge(b);
  CHECK(m.total() == both.total());
  for (double p : {0.01, 0.5, 0.9, 0.99, 1.0}) {
    const double q0 = m.quantile(p), q1 = both.quantile(p);
    INFO("p = " << p);
    CHECK(std::memcmp(&q0, &q1, sizeof q0) == 0);
  }
  // windows: b's pending densities carry over into the merged histogram
  LatencyHistogram c, d, all;
  for (int i = 0; i < 500; ++i) {
    const double lo = 1e-3 * (1 + 50 * next()), hi = lo * (1 + 500 * next()), w = 1 + std::floor(10 * next());
    (i % 2 ? c : d).add_uniform(lo, hi, w);
    all.add_uniform(lo, hi, w);
  }
  LatencyHistogram n;
  n.merge(c);
  n.merge(d);
  for (double p : {0.1, 0.5, 0.99}) {
    INFO("p = " << p);
    CHECK(n.quantile(p) == Approx(all.quantile(p)).epsilon(1e-12));
  }
  // merging an empty histogram changes nothing; an empty one merged with empties stays empty
  LatencyHistogram e, f;
  e.merge(f);
  CHECK(std::isnan(e.quantile(0.5)));
  m.merge(f);
  CHECK(m.quantile(0.5) == both.quantile(0.5));
}

// A served trace in which most requests do not wait: their latency is the service time D exactly
// (differences of kernel instants, equal up to rounding), and the rest wait a little, within the
// same bin. The median is D; interpolating over the bin from its low end read D + half the bin's
// occupied width (0.64 % high in a trial's M/D/1 check).
TEST_CASE("a point mass sharing its bin with waiting requests: quantiles at the point, the rest spread above it", "[latency]") {
  const double D = 0.5076132e-3;
  LatencyHistogram h;
  for (int i = 0; i < 80; ++i) {
    const double t = 1000.0 + 37.3 * i;  // arrival instants: (t + D) - t rounds differently for each
    h.add((t + D) - t);
  }
  for (int i = 1; i <= 20; ++i) h.add(D * (1 + 0.004 * i / 20.0));  // waited up to 0.4 % of D
  CHECK(std::abs(h.quantile(0.5) - D) < 1e-12);
  CHECK(std::abs(h.quantile(0.8) - D) < 1e-12);
  // The 20 waiting requests spread evenly over (D, 1.004 D]: the 90th percentile is the 10th of them.
  CHECK(h.quantile(0.9) == Approx(D * 1.002).epsilon(1e-9));
  // Merged from two halves: the same point mass.
  LatencyHistogram a, b;
  for (int i = 0; i < 80; ++i) (i % 2 ? a : b).add((1000.0 + 37.3 * i + D) - (1000.0 + 37.3 * i));
  for (int i = 1; i <= 20; ++i) (i % 2 ? b : a).add(D * (1 + 0.004 * i / 20.0));
  a.merge(b);
  CHECK(std::abs(a.quantile(0.5) - D) < 1e-12);
  CHECK(a.quantile(0.9) == Approx(D * 1.002).epsilon(1e-9));
  // The same latencies in the reverse order: the same bits (the point mass is keyed on 0.1-ns units,
  // not on the order the minimum moved in).
  LatencyHistogram r;
  for (int i = 20; i >= 1; --i) r.add(D * (1 + 0.004 * i / 20.0));
  for (int i = 79; i >= 0; --i) r.add((1000.0 + 37.3 * i + D) - (1000.0 + 37.3 * i));
  for (double p : {0.5, 0.85, 0.9, 0.99}) {
    const double q0 = h.quantile(p), q1 = r.quantile(p);
    CHECK(std::memcmp(&q0, &q1, sizeof q0) == 0);
  }
  // A window below the point takes the bin's low end: the point is no longer its minimum, and the
  // bin's 200 requests are spread evenly over [0.999 D, 1.004 D] (the bin's resolution).
  LatencyHistogram w = h;
  w.add_uniform(D * 0.999, D * 0.9995, 100);
  CHECK(w.quantile(0.25) == Approx(D * (0.999 + 0.25 * 0.005)).epsilon(1e-9));
}

TEST_CASE("the mean latency is exact: point masses at their value, windows at their middle", "[latency]") {
  LatencyHistogram h;
  CHECK(std::isnan(h.mean()));
  h.add(0.002, 3);               // 0.006
  h.add_uniform(1.0, 3.0, 2);    // 2 x 2 = 4
  h.add_uniform(0.5, 0.5, 1);    // a window of no width: 0.5
  h.add_uniform(1e-4, 1e-3, 4);  // 4 x 5.5e-4 = 2.2e-3
  CHECK(h.mean() == Approx((0.006 + 4 + 0.5 + 2.2e-3) / 10).epsilon(1e-12));
  LatencyHistogram g;
  g.add(7.0, 10);
  g.merge(h);
  CHECK(g.mean() == Approx((70 + 0.006 + 4 + 0.5 + 2.2e-3) / 20).epsilon(1e-12));
  g.clear();
  CHECK(std::isnan(g.mean()));
}
