// Poisson arrivals generated and served in windows of batch_s, shared by the `poisson` and
// `daily_profile` traffic sources (one registration file each, beside this header): window w holds
// Poisson(rate x batch_s) requests, ready at its end, drawn from stream (seed, 0x7a, w); with 24
// hourly rates the rate is piecewise constant per hour of the day and a window's mean count is the
// rate integrated over the window (a window within one hour: its hour's rate x batch_s).
// A window holding more than 4,096 requests is handed to the runtime in batches of at most that
// many (same arrival window, same ready time), served back to back; under streaming with B images
// per pass a batch holds a multiple of B (B itself when B > 4,096), so that the window's passes
// are ceil(n / B) as if it were one batch.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "sim/traffic/traffic.h"

namespace ptc::sim::traffic_impl {

class WindowedPoisson : public TrafficSource {
 public:
  WindowedPoisson(std::vector<double> hourly_hz, double batch_s, int64_t first)
      : m_hourly(std::move(hourly_hz)), m_batch_s(batch_s), m_first(first) {}
  // Every window is drawn in turn, empty or not, with no way for the runtime to see a signal in
  // between: a horizon of 1e18 windows (rate 1e-12/s in 1-ns windows) ran for ever.
  void bind(const TrafficContext& c) override {
    TrafficSource::bind(c);
    const double windows = c.horizon_s / m_batch_s;
    if (c.horizon_s > 0 && !(windows <= kMaxWindows)) {
      char b[160];
      std::snprintf(b, sizeof b, "%.9g s windows over horizon_s %.9g s are %.3g windows, more than %.0e", m_batch_s, c.horizon_s,
                    windows, kMaxWindows);
      throw Error(std::string("traffic.batch_s: ") + b + " (each is drawn in turn, even when empty); use a larger batch_s");
    }
  }
  bool next(double, Arrivals& a) override {
    const double horizon = m_ctx.horizon_s > 0 ? m_ctx.horizon_s : INFINITY;
    if (m_left > 0) return take(a);
    while (true) {
      const double lo = static_cast<double>(m_w) * m_batch_s;
      if (lo >= horizon) return false;
      const double hi = std::min(lo + m_batch_s, horizon);
      const int64_t w = m_w++;
      const int64_t n = poisson_count(mean_count(w), hw::RandomStream(m_ctx.seed, 0x7a).derive(static_cast<uint64_t>(w)));
      if (n == 0) continue;
      m_left = n;
      m_lo = lo;
      m_hi = hi;
      return take(a);
    }
  }
  // The rest of the windows ready before t_s, each one draw (the same as next()'s), not cut into
  // batches: a booked-out chip under 10^12 requests/s is counted in one pass over the windows.
  int64_t count_until(double t_s) override {
    const double horizon = m_ctx.horizon_s > 0 ? m_ctx.horizon_s : INFINITY;
    auto add = [](int64_t a, int64_t b) { return b > INT64_MAX - a ? INT64_MAX : a + b; };
    int64_t n = m_left > 0 && m_hi < t_s ? m_left : 0;
    m_left = 0;
    while (true) {
      const double lo = static_cast<double>(m_w) * m_batch_s;
      if (lo >= horizon || !(std::min(lo + m_batch_s, horizon) < t_s)) break;
      const int64_t w = m_w++;
      n = add(n, poisson_count(mean_count(w), hw::RandomStream(m_ctx.seed, 0x7a).derive(static_cast<uint64_t>(w))));
    }
    return n;
  }
  int64_t first_image() const override { return m_first; }
  double first_ready_s() const override { return m_batch_s; }

 private:
  // A window's requests in batches of at most kMaxBatch, all ready at the window's end: a window
  // of 10^12 requests (rate_hz at its maximum) is served batch by batch, in bounded memory, and
  // the runtime sees SIGINT/SIGTERM between batches instead of queueing the whole window first.
  static constexpr int64_t kMaxBatch = 4096;
  static constexpr double kMaxWindows = 1e9;
  bool take(Arrivals& a) {
    a = Arrivals{};
    const int64_t b = m_ctx.images_per_pass;
    a.n = std::min(m_left, b >= kMaxBatch ? b : kMaxBatch / b * b);
    a.ready_s = m_hi;
    a.window_lo_s = m_lo;
    a.window_hi_s = m_hi;
    m_left -= a.n;
    return true;
  }
  // The expected requests of window w, [w batch_s, (w + 1) batch_s): the rate integrated over it.
  // A window within one hour takes its hour's rate x batch_s (the rule every shipped scenario's
  // windows, 10 s and 60 s, fall under); a window across hours sums each hour's share (the rate at
  // the window's middle, used before, made a one-day window 8.64 M requests at the noon rate of
  // 100/s, against the profile's 5.33 M).
  double mean_count(int64_t w) const {
    if (m_hourly.size() != 24) return m_hourly[0] * m_batch_s;
    const double lo = static_cast<double>(w) * m_batch_s, hi = lo + m_batch_s;
    if (std::floor(lo / 3600.0) == std::ceil(hi / 3600.0) - 1) {
      const double mid = (static_cast<double>(w) + 0.5) * m_batch_s;
      return m_hourly[std::clamp(static_cast<int>(std::fmod(mid / 3600.0, 24.0)), 0, 23)] * m_batch_s;
    }
    return integral(hi) - integral(lo);
  }
  // The rate integrated from 0 to t (seconds): whole days, whole hours, then the last hour's part.
  double integral(double t) const {
    double day = 0;
    for (double r : m_hourly) day += r * 3600.0;
    const double days = std::floor(t / 86400.0), rest = t - days * 86400.0;
    const int hours = std::clamp(static_cast<int>(rest / 3600.0), 0, 23);
    double s = days * day;
    for (int h = 0; h < hours; ++h) s += m_hourly[static_cast<size_t>(h)] * 3600.0;
    return s + m_hourly[static_cast<size_t>(hours)] * (rest - hours * 3600.0);
  }
  int64_t m_left = 0;
  double m_lo = 0, m_hi = 0;
  std::vector<double> m_hourly;
  double m_batch_s;
  int64_t m_first, m_w = 0;
};

inline const ParamSpec kBatch{"batch_s", "s", 1.0, "arrivals are generated and served in windows of this length", 1e-9, 1e9};
inline const ParamSpec kFirst{"first_image", "", 0, "request i classifies test image (first_image + i) mod N", 0, 1e12};

}  // namespace ptc::sim::traffic_impl
