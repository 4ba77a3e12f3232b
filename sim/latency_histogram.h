// Latency distribution of served requests (ptc::sim). Header-only: the deployment uses it for
// the trace's per-row and the summary's whole-run quantiles; tests check it against closed forms.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace ptc::sim {

// Latency distribution: log-spaced bins (100 per decade, 1 ns .. 1e9 s) holding mass, the min/max
// value seen and the point mass at the min, so point masses (constant service) give exact
// quantiles, also when they share a bin with other latencies (requests that did not wait, at
// exactly the service time, beside some that waited a little: the median is the service time).
// Latencies are differences of instants on the kernel's 1-ns grid: two that round to the same
// 0.1 ns are the same latency (an integer key, so the point mass does not depend on the order
// latencies are added in). The mean is kept as an integer sum (0.1-ns resolution).
class LatencyHistogram {
 public:
  LatencyHistogram()
      : m_mass(kBins, 0.0),
        m_lo(kBins, 1e300),
        m_hi(kBins, -1e300),
        m_atom(kBins, 0.0),
        m_atom_key(kBins, kNoKey),
        m_rho(kBins + 1, 0.0),
        m_cover(kBins + 1, 0) {}
  void add(double x, double w = 1) {
    if (w <= 0) return;
    int b = bin(x);
    m_mass[b] += w;
    const int64_t q = key(x);  // the point mass at the smallest key of the bin's point latencies
    if (q < m_atom_key[b])
      m_atom_key[b] = q, m_atom[b] = w;
    else if (q == m_atom_key[b])
      m_atom[b] += w;
    m_lo[b] = std::min(m_lo[b], x);
    m_hi[b] = std::max(m_hi[b], x);
    m_total += w;
    m_sum += static_cast<Sum>(q) * weight_units(w);  // (the key computed once)
  }
  // w requests spread uniformly over [a, b]. The two end bins take their share directly; the
  // bins strictly between them are covered whole, so they only record a density on a difference
  // array (O(1) per call, however many bins the window spans); a quantile turns the densities
  // into bin masses on a copy, never in place: when (and how often) quantiles are asked -- the
  // partial outputs ask at wall-clock moments -- cannot change the rounding of later answers.
  void add_uniform(double a, double b, double w) { add_uniform(window(a, b), w); }
  // A window [a, b] with its end bins found once (several histograms take the same window).
  struct Window {
    double a, b;
    int ba, bb;
  };
  static Window window(double a, double b) { return Window{a, b, bin(a), b > a ? bin(b) : bin(a)}; }
  void add_uniform(const Window& win, double w) {
    if (w <= 0) return;
    const double a = win.a, b = win.b;
    const int ba = win.ba, bb = win.bb;
    if (!(b > a)) {  // a window of no width is a point mass
      add(a, w);
      return;
    }
    m_total += w;
    m_sum += units(0.5 * (a + b), w);
    if (ba == bb) {
      m_mass[ba] += w;
      m_lo[ba] = std::min(m_lo[ba], a);
      m_hi[ba] = std::max(m_hi[ba], b);
      return;
    }
    const double rho = w / (b - a);
    part(ba, a, std::min(b, edge(ba + 1)), rho);
    part(bb, std::max(a, edge(bb)), b, rho);
    if (bb > ba + 1) {
      m_rho[static_cast<size_t>(ba + 1)] += rho;
      m_rho[static_cast<size_t>(bb)] -= rho;
      m_cover[static_cast<size_t>(ba + 1)] += 1;
      m_cover[static_cast<size_t>(bb)] -= 1;
      m_pending = true;
    }
  }
  double quantile(double p) const {
    if (m_total <= 0) return NAN;
    if (!m_pending) return quantile_of(m_mass, m_lo, m_hi, p);
    std::vector<double> mass = m_mass, lo = m_lo, hi = m_hi;
    materialise(mass, lo, hi);
    return quantile_of(mass, lo, hi, p);
  }
  double total() const { return m_total; }
  // The mean latency (NaN when empty): the exact mean of the latencies added, windows at their middle.
  double mean() const { return m_total > 0 ? static_cast<double>(m_sum) / 1e13 / m_total : NAN; }
  // Adds another histogram's requests (a fleet pools its chips' windows).
  void merge(const LatencyHistogram& o) {
    for (size_t i = 0; i < m_mass.size(); ++i) {
      m_mass[i] += o.m_mass[i];
      if (o.m_atom_key[i] < m_atom_key[i])
        m_atom_key[i] = o.m_atom_key[i], m_atom[i] = o.m_atom[i];
      else if (o.m_atom_key[i] == m_atom_key[i])
        m_atom[i] += o.m_atom[i];
      m_lo[i] = std::min(m_lo[i], o.m_lo[i]);
      m_hi[i] = std::max(m_hi[i], o.m_hi[i]);
    }
    for (size_t i = 0; i < m_rho.size(); ++i) {
      m_rho[i] += o.m_rho[i];
      m_cover[i] += o.m_cover[i];
    }
    m_total += o.m_total;
    m_sum += o.m_sum;
    m_pending = m_pending || o.m_pending;
  }
  void clear() {
    std::fill(m_mass.begin(), m_mass.end(), 0.0);
    std::fill(m_lo.begin(), m_lo.end(), 1e300);
    std::fill(m_hi.begin(), m_hi.end(), -1e300);
    std::fill(m_atom.begin(), m_atom.end(), 0.0);
    std::fill(m_atom_key.begin(), m_atom_key.end(), kNoKey);
    std::fill(m_rho.begin(), m_rho.end(), 0.0);
    std::fill(m_cover.begin(), m_cover.end(), 0);
    m_total = 0;
    m_sum = 0;
    m_pending = false;
  }

 private:
  static constexpr int kBins = 1800;
  static constexpr int64_t kNoKey = INT64_MAX;
  // A latency's key: its value in 0.1-ns units (latencies beyond 9e8 s share the last key).
  static int64_t key(double x) { return std::llround(std::clamp(x, 0.0, 9e8) * 1e10); }
  static int bin(double x) {
    if (!(x > 1e-9)) return 0;
    int b = static_cast<int>(std::floor((std::log10(x) + 9.0) * 100.0));
    return std::clamp(b, 0, kBins - 1);
  }
  static double edge(int k) {  // bin edges, tabulated once
    static const std::vector<double> table = [] {
      std::vector<double> t(kBins + 1);
      for (int i = 0; i <= kBins; ++i) t[i] = std::pow(10.0, i / 100.0 - 9.0);
      return t;
    }();
    return table[static_cast<size_t>(k)];
  }
  // The part [lo, hi] of a uniform window (density rho) that falls in end bin k.
  void part(int k, double lo, double hi, double rho) {
    if (!(hi > lo)) return;
    m_mass[k] += rho * (hi - lo);
    m_lo[k] = std::min(m_lo[k], lo);
    m_hi[k] = std::max(m_hi[k], hi);
  }
  // Bin masses with the pending whole-covered windows added (into the given copies).
  void materialise(std::vector<double>& mass, std::vector<double>& lo, std::vector<double>& hi) const {
    double rho = 0;
    int64_t cover = 0;
    for (int k = 0; k < kBins; ++k) {
      rho += m_rho[static_cast<size_t>(k)];
      cover += m_cover[static_cast<size_t>(k)];
      if (cover <= 0) continue;
      mass[k] += rho * (edge(k + 1) - edge(k));
      lo[k] = std::min(lo[k], edge(k));
      hi[k] = std::max(hi[k], edge(k + 1));
    }
  }
  // Within a bin: its point mass first when it is at the bin's low end (no window reaches below
  // it), the rest spread evenly up to the high end.
  double quantile_of(const std::vector<double>& mass, const std::vector<double>& lo, const std::vector<double>& hi,
                     double p) const {
    double target = p * m_total, acc = 0;
    for (int k = 0; k < kBins; ++k) {
      if (mass[k] <= 0) continue;
      if (acc + mass[k] >= target) {
        const double in = target - acc;
        const double at = m_atom_key[k] != kNoKey && key(lo[k]) >= m_atom_key[k] ? std::min(m_atom[k], mass[k]) : 0.0;
        if (in <= at || !(mass[k] > at)) return lo[k];
        const double f = std::clamp((in - at) / (mass[k] - at), 0.0, 1.0);
        return lo[k] + f * (hi[k] - lo[k]);
      }
      acc += mass[k];
    }
    for (int k = kBins - 1; k >= 0; --k)
      if (mass[k] > 0) return hi[k];
    return NAN;
  }
  std::vector<double> m_mass, m_lo, m_hi;
  std::vector<double> m_atom;       // weight of the bin's point latencies at its smallest key
  std::vector<int64_t> m_atom_key;  // that key (kNoKey: no point latency in the bin)
  std::vector<double> m_rho;        // difference array of densities of whole-covered bins
  std::vector<int64_t> m_cover;     // difference array of how many windows cover each bin whole
  double m_total = 0;
  // Sum of the latencies in 0.1-ns x milli-request units, an integer, so that it does not depend on
  // the order requests are added in (a fleet's lanes add theirs in an order that other processes,
  // such as trace rows, change): latencies up to 9e8 s (beyond, clamped) x 1e12 requests fit.
  __extension__ typedef __int128 Sum;
  Sum m_sum = 0;
  static Sum weight_units(double w) { return static_cast<Sum>(std::llround(w * 1e3)); }
  static Sum units(double x, double w) { return static_cast<Sum>(key(x)) * weight_units(w); }
  bool m_pending = false;
};

}  // namespace ptc::sim
