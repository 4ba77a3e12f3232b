#include "hw/noise/doctor_noise.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <utility>

#include "hw/physics/mrr.h"
#include "models/error.h"

namespace ptc::hw {
namespace {

constexpr double kSpeedOfLight = 299792458.0;

// Stream ids of the processes' sub-streams (fixed: changing them changes every result).
constexpr uint64_t kStdMapStream = 1, kNoiseStream = 2;

}  // namespace

std::vector<double> doctor_core_map(const std::string& name, const CoreArray& a) {
  static const double edge[4][4] = {{8, 6, 4, 2}, {8, 6, 4, 2}, {8, 6, 4, 2}, {8, 6, 4, 2}};
  static const double corner[4][4] = {{8, 6, 6, 4}, {6, 6, 4, 4}, {6, 4, 4, 2}, {4, 4, 2, 2}};
  static const double upper[4][4] = {{4, 4, 4, 4}, {0.4, 0.4, 0.4, 0.4}, {0.04, 0.04, 0.04, 0.04}, {0.004, 0.004, 0.004, 0.004}};
  const double(*base)[4];
  if (name == "edge")
    base = edge;
  else if (name == "corner")
    base = corner;
  else if (name == "upper_edge")
    base = upper;
  else
    throw Error("unknown core map \"" + name + "\"; known: corner, edge, upper_edge");
  std::vector<double> m(a.cores());
  for (int64_t i = 0; i < a.rows; ++i)
    for (int64_t j = 0; j < a.cols; ++j)
      m[i * a.cols + j] = base[std::min<int64_t>(3, i * 4 / a.rows)][std::min<int64_t>(3, j * 4 / a.cols)];
  return m;
}

// ---------------------------------------------------------------- phase variation
PhaseVariation::PhaseVariation(const CoreArray& array, const PhaseVariationParams& p, const RandomStream& rng)
    : m_array(array), m_p(p), m_rng(rng) {
  if (p.schedule != "high" && p.schedule != "low")
    throw Error("phase variation schedule \"" + p.schedule + "\": expected high or low");
  if (p.core_mean_mode != "converging" && p.core_mean_mode != "frozen")
    throw Error("phase variation core_mean_mode \"" + p.core_mean_mode + "\": expected converging or frozen");
  if (p.t_max_steps < 1 || !(p.momentum >= 0 && p.momentum < 1) || p.history_steps < 1 || p.smoothing_kernel < 1 ||
      p.smoothing_kernel % 2 == 0)
    throw Error("phase variation: t_max_steps >= 1, momentum in [0,1), history_steps >= 1 and an odd kernel required");
  m_src = doctor_core_map(p.core_src, array);
  m_tgt = doctor_core_map(p.core_tgt, array);
  for (auto& v : m_src) v *= 1e-4;
  for (auto& v : m_tgt) v *= 1e-3;
  // Normalised 1-D Gaussian (the 2-D kernel is separable).
  int64_t h = p.smoothing_kernel / 2;
  double s = 0;
  for (int64_t d = -h; d <= h; ++d) {
    double v = p.smoothing_sigma_px > 0 ? std::exp(-0.5 * d * d / (p.smoothing_sigma_px * p.smoothing_sigma_px)) : (d == 0);
    m_kernel.push_back(static_cast<float>(v));
    s += v;
  }
  for (auto& v : m_kernel) v = static_cast<float>(v / s);
}

double PhaseVariation::schedule_mean(double x) const {
  return m_p.schedule == "high" ? 0.025 * x : 0.005 * x;
}
double PhaseVariation::schedule_std(double x) const {
  return m_p.schedule == "high" ? 0.01 * x + 0.005 : 0.004 * x + 0.002;
}

std::vector<double> PhaseVariation::core_mean(int64_t step) const {
  std::vector<double> mu(m_array.cores());
  double m = m_p.momentum;
  for (size_t c = 0; c < mu.size(); ++c) {
    double start = m_src[c] / 2;
    mu[c] = m_p.core_mean_mode == "frozen" ? m * start + (1 - m) * m_tgt[c]
                                           : m_tgt[c] + std::pow(m, static_cast<double>(step)) * (start - m_tgt[c]);
  }
  return mu;
}

void PhaseVariation::smooth(std::vector<float>& map) const {
  // Merged map [R*k, C*k]; reflect padding (mirror without repeating the edge).
  int64_t H = m_array.rows * m_array.k, W = m_array.cols * m_array.k, h = m_p.smoothing_kernel / 2;
  if (h == 0 || m_kernel[h] == 1.0f) return;  // identity kernel (sigma = 0.05 px gives exactly this)
  auto reflect = [](int64_t i, int64_t n) {
    if (n == 1) return int64_t{0};
    while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
    return i;
  };
  auto at = [&](int64_t row, int64_t col) -> int64_t {  // merged (row, col) -> [R, C, k, k] index
    return (((row / m_array.k) * m_array.cols + col / m_array.k) * m_array.k + row % m_array.k) * m_array.k + col % m_array.k;
  };
  std::vector<float> tmp(map.size());
  for (int64_t r = 0; r < H; ++r)
    for (int64_t c = 0; c < W; ++c) {
      float s = 0;
      for (int64_t d = -h; d <= h; ++d) s += m_kernel[d + h] * map[at(r, reflect(c + d, W))];
      tmp[at(r, c)] = s;
    }
  for (int64_t r = 0; r < H; ++r)
    for (int64_t c = 0; c < W; ++c) {
      float s = 0;
      for (int64_t d = -h; d <= h; ++d) s += m_kernel[d + h] * tmp[at(reflect(r + d, H), c)];
      map[at(r, c)] = s;
    }
}

void PhaseVariation::new_map(int64_t step, std::vector<float>& out) const {
  double x = static_cast<double>(step % m_p.t_max_steps) / static_cast<double>(m_p.t_max_steps);
  double mean = schedule_mean(x), sd = schedule_std(x);
  std::vector<double> mu = core_mean(step);
  RandomStream s = m_rng.derive(kStdMapStream).derive(static_cast<uint64_t>(step));
  const int64_t per_core = m_array.k * m_array.k, rings = m_array.rings(), cores = m_array.cores();
  out.resize(rings);
  // Normal number r of the step's stream for ring r, rings + c for core c (each pair of normals
  // computed once, in chunks on the stack).
  constexpr int64_t kChunk = 256;
  double zc[kChunk], zr[kChunk];
  for (int64_t c0 = 0; c0 < cores; c0 += kChunk) {
    const int64_t nc = std::min(kChunk, cores - c0);
    s.normals(static_cast<uint64_t>(rings + c0), nc, zc);
    for (int64_t c = c0; c < c0 + nc; ++c) {
      const double cc = std::max(mu[c] + sd * zc[c - c0], m_p.min_std_rad);
      for (int64_t j0 = 0; j0 < per_core; j0 += kChunk) {
        const int64_t m = std::min(kChunk, per_core - j0);
        s.normals(static_cast<uint64_t>(c * per_core + j0), m, zr);
        for (int64_t j = 0; j < m; ++j) {
          const double d = std::max(mean + sd * zr[j], m_p.min_std_rad);
          out[c * per_core + j0 + j] = static_cast<float>((d + cc) / 2);
        }
      }
    }
  }
  smooth(out);
}

const std::vector<float>& PhaseVariation::std_map(int64_t step) {
  if (step < 0) throw Error("phase variation: negative step " + std::to_string(step));
  const int64_t H = m_p.history_steps;
  auto anchor = [H](int64_t s) { return std::max<int64_t>(0, (s / H - 1) * H); };
  if (step == m_cached_step) return m_std;
  int64_t a = anchor(step), from;
  if (m_cached_step >= a && m_cached_step < step && anchor(m_cached_step) == a) {
    from = m_cached_step + 1;
  } else {
    new_map(a, m_std);  // the first map is taken as is
    from = a + 1;
  }
  const float m = static_cast<float>(m_p.momentum);
  for (int64_t s = from; s <= step; ++s) {
    new_map(s, m_scratch);
    for (size_t r = 0; r < m_std.size(); ++r) m_std[r] = m * m_std[r] + (1 - m) * m_scratch[r];
  }
  m_cached_step = step;
  return m_std;
}

void PhaseVariation::add_noise(int64_t step, uint64_t draw, float* phase) {
  const std::vector<float>& sd = std_map(step);
  RandomStream s = m_rng.derive(kNoiseStream).derive(static_cast<uint64_t>(step)).derive(draw);
  constexpr int64_t kChunk = 256;
  double z[kChunk];
  const int64_t n = static_cast<int64_t>(sd.size());
  for (int64_t r0 = 0; r0 < n; r0 += kChunk) {
    const int64_t m = std::min(kChunk, n - r0);
    s.normals(static_cast<uint64_t>(r0), m, z);
    for (int64_t j = 0; j < m; ++j) phase[r0 + j] += sd[r0 + j] * static_cast<float>(z[j]);
  }
}

// ---------------------------------------------------------------- global temperature
GlobalTemperature::GlobalTemperature(const CoreArray& array, const GlobalTemperatureParams& p) : m_array(array), m_p(p) {
  if (p.schedule != "linear" && p.schedule != "cosine" && p.schedule != "uneven")
    throw Error("global temperature schedule \"" + p.schedule + "\": expected linear, cosine or uneven");
  if (p.hotspot != "uniform" && p.hotspot != "corner")
    throw Error("global temperature hotspot \"" + p.hotspot + "\": expected uniform or corner");
  if (p.t_max_steps < 1) throw Error("global temperature: t_max_steps must be >= 1");
  for (int64_t i = 0; i < array.rows; ++i)
    for (int64_t j = 0; j < array.cols; ++j)
      m_hotspot.push_back(p.hotspot == "uniform" ? 1.0 : std::exp(-std::sqrt(double(i * i + j * j))));
  std::vector<double> lam = p.lambda_nm, rad = p.radius_um;
  if (lam.empty()) {
    // Evenly spaced in frequency between DOCTOR's end channels; radius linear between its ends.
    double f0 = kSpeedOfLight / 1553.2034e-9, f1 = kSpeedOfLight / 1542.0445e-9;
    for (int64_t l = 0; l < array.k; ++l) {
      double u = array.k > 1 ? double(l) / double(array.k - 1) : 0.0;
      lam.push_back(kSpeedOfLight / (f0 + u * (f1 - f0)) * 1e9);
      if (rad.size() < lam.size() && p.radius_um.empty()) rad.push_back(5.150 + u * (5.113 - 5.150));
    }
  }
  if (static_cast<int64_t>(lam.size()) != array.k || static_cast<int64_t>(rad.size()) != array.k)
    throw Error("global temperature: lambda_nm and radius_um need " + std::to_string(array.k) + " entries (one per bank column)");
  for (int64_t l = 0; l < array.k; ++l)
    m_dphi_dk.push_back(mrr_phase_per_kelvin(lam[l], rad[l], p.dlambda_dt_nm_per_k, p.group_index));
}

double GlobalTemperature::temperature_k(double step) const {
  double x = step / static_cast<double>(m_p.t_max_steps);
  if (m_p.schedule == "linear") return m_p.t0_k + x;
  if (m_p.schedule == "cosine") return m_p.t0_k + m_p.cosine_amplitude_k * (1 - std::cos(10 * x));
  return m_p.t0_k + x * x * x;
}

void GlobalTemperature::add_shift(double step, float* phase) const {
  double dt = temperature_k(step) - m_p.t0_k;
  int64_t k = m_array.k;
  for (int64_t c = 0; c < m_array.cores(); ++c)
    for (int64_t x = 0; x < k; ++x)
      for (int64_t l = 0; l < k; ++l) phase[(c * k + x) * k + l] += static_cast<float>(dt * m_hotspot[c] * m_dphi_dk[l]);
}

// ---------------------------------------------------------------- thermal crosstalk
ThermalCrosstalk::ThermalCrosstalk(int64_t k, const CrosstalkParams& p) : m_k(k), m_p(p) {
  if (k < 1 || !(p.kappa_per_um >= 0) || !(p.pitch_h_um > 0) || !(p.pitch_v_um > 0))
    throw Error("thermal crosstalk: k >= 1, kappa >= 0 and positive pitches required");
  // M depends on the offset (dr, dc) between two rings only: the couplings kept (>= 1e-12) are a
  // set of offsets, and each ring's row lists those that stay inside the bank, in ascending
  // column order (row-major offsets), as a dense row would. Nothing of size (k^2)^2 is built.
  std::vector<std::pair<int64_t, int64_t>> offsets;
  std::vector<double> value;
  for (int64_t dr = -(k - 1); dr <= k - 1; ++dr)
    for (int64_t dc = -(k - 1); dc <= k - 1; ++dc) {
      const double v = coupling_at(dr, dc);
      if (v >= 1e-12) offsets.emplace_back(dr, dc), value.push_back(v);
    }
  // Entries in all: sum over kept offsets of the rings they fit (k - |dr|)(k - |dc|).
  double entries = 0;
  for (const auto& [dr, dc] : offsets) entries += double(k - std::llabs(dr)) * double(k - std::llabs(dc));
  for (size_t o = 0; o < offsets.size(); ++o)
    if (value[o] >= kNoiseCouplingCut) m_noise_diagonals.push_back(static_cast<int>(offsets[o].first * k + offsets[o].second));
  std::sort(m_noise_diagonals.begin(), m_noise_diagonals.end());
  m_noise_diagonals.erase(std::unique(m_noise_diagonals.begin(), m_noise_diagonals.end()), m_noise_diagonals.end());
  // What the MRR bank keeps in all: these sparse rows, and the dense float M^T where it builds one.
  const double sparse_bytes = entries * (sizeof(int32_t) + sizeof(double));
  const double dense_bytes = dense_noise_form() ? double(k * k) * double(k * k) * sizeof(float) : 0.0;
  const double bytes = sparse_bytes + dense_bytes;
  if (entries > double(std::numeric_limits<int32_t>::max()) || bytes > kMaxCouplingBytes) {
    const std::string where = p.json_path.empty() ? std::string("thermal crosstalk") : p.json_path + ".kappa_per_um";
    char b[512];
    if (dense_bytes > 0)
      std::snprintf(b, sizeof b,
                    ": %g /um couples each ring of a %lld x %lld bank with %.3g others on average: %.3g GB of sparse "
                    "couplings plus %.3g GB for the dense float matrix the per-draw noise needs (%zu diagonals above "
                    "2^-24%s), %.3g GB in all, limit %.3g GB; raise kappa_per_um or lower hw.cores.block_size",
                    p.kappa_per_um, static_cast<long long>(k), static_cast<long long>(k), entries / double(k * k) - 1,
                    sparse_bytes / 1e9, dense_bytes / 1e9, m_noise_diagonals.size(), k == 8 ? ", k = 8" : ", more than 16",
                    bytes / 1e9, kMaxCouplingBytes / 1e9);
    else
      std::snprintf(b, sizeof b,
                    ": %g /um couples each ring of a %lld x %lld bank with %.3g others on average: %.3g GB of sparse "
                    "couplings, limit %.3g GB; raise kappa_per_um or lower hw.cores.block_size",
                    p.kappa_per_um, static_cast<long long>(k), static_cast<long long>(k), entries / double(k * k) - 1,
                    bytes / 1e9, kMaxCouplingBytes / 1e9);
    throw Error(where + b);
  }
  const int64_t n = k * k;
  m_col.reserve(static_cast<size_t>(entries));
  m_val.reserve(static_cast<size_t>(entries));
  for (int64_t a = 0; a < n; ++a) {
    m_row_start.push_back(static_cast<int32_t>(m_col.size()));
    const int64_t r = a / k, c = a % k;
    for (size_t o = 0; o < offsets.size(); ++o) {
      const int64_t r2 = r + offsets[o].first, c2 = c + offsets[o].second;
      if (r2 < 0 || r2 >= k || c2 < 0 || c2 >= k) continue;
      m_col.push_back(static_cast<int32_t>(r2 * k + c2));
      m_val.push_back(value[o]);
    }
  }
  m_row_start.push_back(static_cast<int32_t>(m_col.size()));
}

double ThermalCrosstalk::coupling_at(int64_t dr, int64_t dc) const {
  if (dr == 0 && dc == 0) return 1.0;
  const double dx = double(dr) * m_p.pitch_v_um, dy = double(dc) * m_p.pitch_h_um;
  return std::exp(-m_p.kappa_per_um * std::sqrt(dx * dx + dy * dy));
}

std::vector<double> ThermalCrosstalk::matrix() const {
  const int64_t n = m_k * m_k;
  std::vector<double> m(static_cast<size_t>(n * n));
  for (int64_t a = 0; a < n; ++a)
    for (int64_t b = 0; b < n; ++b) m[a * n + b] = coupling_at(b / m_k - a / m_k, b % m_k - a % m_k);
  return m;
}

void ThermalCrosstalk::apply(float* phase, int64_t blocks) const {
  int64_t n = m_k * m_k;
  thread_local std::vector<double> out;
  out.resize(n);
  for (int64_t b = 0; b < blocks; ++b) {
    float* p = phase + b * n;
    for (int64_t i = 0; i < n; ++i) {
      double s = 0;
      for (int32_t e = m_row_start[i]; e < m_row_start[i + 1]; ++e) s += m_val[e] * p[m_col[e]];
      out[i] = s;
    }
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(out[i]);
  }
}

}  // namespace ptc::hw
