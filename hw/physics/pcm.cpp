#include "hw/physics/pcm.h"

#include <algorithm>
#include <cmath>

namespace ptc::hw {

double pcm_g_rel(const PcmLikeParams& p, double g_us) {
  return std::max(std::abs(g_us) / p.g_max_us, 1e-7);
}

double pcm_sigma_prog_us(const PcmLikeParams& p, double g_target_us) {
  double u = g_target_us / p.g_max_us;
  // Not clipped at 0, as aihwkit's apply_programming_noise_to_conductance: a polynomial that goes
  // negative flips the sign of the noise, and the spread is |sigma| (with the default coefficients
  // it is positive on [0, g_max]).
  return (p.prog_c0 + p.prog_c1 * u + p.prog_c2 * u * u) * p.g_max_us / p.prog_g_max_reference_us;
}

double pcm_mu_nu(const PcmLikeParams& p, double g_rel) {
  return std::clamp(p.nu_mu_a * std::log(g_rel) + p.nu_mu_b, p.nu_mu_min, p.nu_mu_max);
}
double pcm_sigma_nu(const PcmLikeParams& p, double g_rel) {
  return std::clamp(p.nu_sigma_a * std::log(g_rel) + p.nu_sigma_b, p.nu_sigma_min, p.nu_sigma_max);
}
double pcm_read_q(const PcmLikeParams& p, double g_rel) {
  return std::min(p.read_q_c / std::max(std::pow(g_rel, p.read_q_exp), p.read_q_floor), p.read_q_max);
}
double pcm_mu_nu(double g_rel) {
  return pcm_mu_nu(PcmLikeParams{}, g_rel);
}
double pcm_sigma_nu(double g_rel) {
  return pcm_sigma_nu(PcmLikeParams{}, g_rel);
}
double pcm_read_q(double g_rel) {
  return pcm_read_q(PcmLikeParams{}, g_rel);
}

double pcm_drift_factor(const PcmLikeParams& p, double t_inf_s, double nu) {
  if (t_inf_s <= 0) return 1.0;
  return std::pow((t_inf_s + p.t0_s) / p.t0_s, -nu);
}

double pcm_read_noise_time_factor(const PcmLikeParams& p, double t_inf_s) {
  double t = t_inf_s + p.t0_s;
  return std::sqrt(std::log((t + p.t_read_s) / (2 * p.t_read_s)));
}

double pcm_program_us(const PcmLikeParams& p, double g_target_us, double xi) {
  return std::max(0.0, g_target_us + p.prog_scale * pcm_sigma_prog_us(p, g_target_us) * xi);
}

double pcm_draw_nu(const PcmLikeParams& p, double g_target_us, double xi) {
  double g_rel = pcm_g_rel(p, g_target_us);
  return p.drift_scale * std::abs(pcm_mu_nu(p, g_rel) + pcm_sigma_nu(p, g_rel) * xi);
}

double pcm_read_us(const PcmLikeParams& p, double g_prog_us, double g_target_us, double nu, double t_inf_s, double xi,
                   bool q_from_programmed) {
  double g_d = g_prog_us * pcm_drift_factor(p, t_inf_s, nu);
  double q = pcm_read_q(p, pcm_g_rel(p, q_from_programmed ? g_prog_us : g_target_us));
  double sigma = q * pcm_read_noise_time_factor(p, t_inf_s);
  return std::max(0.0, g_d + p.read_scale * std::abs(g_d) * sigma * xi);
}

namespace {
// Part index of each of n units split as aihwkit's get_split_sizes splits n into `parts` parts.
std::vector<int64_t> split_parts(int64_t n, int64_t parts) {
  std::vector<int64_t> of(static_cast<size_t>(n));
  const int64_t base = n / parts, extra = n % parts;
  int64_t u = 0;
  for (int64_t i = 0; i < parts; ++i)
    for (int64_t j = 0; j < base + (i < extra); ++j) of[static_cast<size_t>(u++)] = i;
  return of;
}
// SinglePair targets of latent[first_w, first_w + n) at conductance scale sc (g per unit weight):
// w >= 0 on the positive device, w < 0 on the negative one; returns the devices whose target
// changed (all of them when `first`).
int64_t map_pairs(const std::vector<float>& latent, size_t first_w, size_t n, double sc, bool first, std::vector<float>& t_pos,
                  std::vector<float>& t_neg) {
  int64_t writes = 0;
  for (size_t j = first_w; j < first_w + n; ++j) {
    const double w = latent[j];
    const float tp = static_cast<float>(std::max(w, 0.0) * sc), tn = static_cast<float>(std::max(-w, 0.0) * sc);
    writes += (tp != t_pos[j] || first) + (tn != t_neg[j] || first);
    t_pos[j] = tp;
    t_neg[j] = tn;
  }
  return writes;
}
}  // namespace

std::vector<int32_t> pcm_tile_of_blocks(const PcmScaleTile& st, int64_t P, int64_t Q, int64_t rows, int64_t cols,
                                        int64_t& n_tiles) {
  std::vector<int32_t> tile(static_cast<size_t>(P * Q));
  if (st.per_block()) {
    for (int64_t b = 0; b < P * Q; ++b) tile[static_cast<size_t>(b)] = static_cast<int32_t>(b);
    n_tiles = P * Q;
    return tile;
  }
  const auto parts = [](int64_t size, int64_t max) { return max > 0 ? std::max<int64_t>(1, (size + max - 1) / max) : 1; };
  const int64_t tr = std::min(parts(rows, st.rows), P), tc = std::min(parts(cols, st.cols), Q);
  const std::vector<int64_t> pr = split_parts(P, tr), pc = split_parts(Q, tc);
  for (int64_t p = 0; p < P; ++p)
    for (int64_t q = 0; q < Q; ++q)
      tile[static_cast<size_t>(p * Q + q)] = static_cast<int32_t>(pr[static_cast<size_t>(p)] * tc + pc[static_cast<size_t>(q)]);
  n_tiles = tr * tc;
  return tile;
}

int64_t pcm_map_pair_targets(const std::vector<float>& latent, int64_t blocks, int64_t kk, double g_full, bool first,
                             std::vector<float>& scale, std::vector<float>& t_pos, std::vector<float>& t_neg,
                             const std::vector<int32_t>* tile, int64_t n_tiles) {
  scale.resize(static_cast<size_t>(blocks));
  std::vector<float> tile_max;
  if (tile) {
    tile_max.assign(static_cast<size_t>(n_tiles), 0.0f);
    for (int64_t b = 0; b < blocks; ++b) {
      float& m = tile_max[static_cast<size_t>((*tile)[static_cast<size_t>(b)])];
      for (int64_t i = 0; i < kk; ++i) m = std::max(m, std::abs(latent[static_cast<size_t>(b * kk + i)]));
    }
  }
  int64_t writes = 0;
  for (int64_t b = 0; b < blocks; ++b) {
    float mx = 0;
    if (tile)
      mx = tile_max[static_cast<size_t>((*tile)[static_cast<size_t>(b)])];
    else
      for (int64_t i = 0; i < kk; ++i) mx = std::max(mx, std::abs(latent[static_cast<size_t>(b * kk + i)]));
    scale[static_cast<size_t>(b)] = mx;
    const double sc = mx > 0 ? g_full / mx : 0.0;
    writes += map_pairs(latent, static_cast<size_t>(b * kk), static_cast<size_t>(kk), sc, first, t_pos, t_neg);
  }
  return writes;
}

int64_t pcm_map_pair_targets_columnwise(const std::vector<float>& latent, int64_t P, int64_t Q, int64_t k, double g_full,
                                        bool first, std::vector<float>& scale, std::vector<float>& row_scale,
                                        std::vector<float>& t_pos, std::vector<float>& t_neg, const std::vector<int32_t>* tile,
                                        int64_t n_tiles) {
  const int64_t kk = k * k;
  scale.assign(static_cast<size_t>(P * Q), 1.0f);
  row_scale.assign(static_cast<size_t>(P * Q * k), 0.0f);
  // Per block-row p: the max over each (tile, row) pair of the blocks of p (tiles cut block-rows
  // into column ranges; without tiles every block is its own tile).
  const int64_t nt = tile ? n_tiles : P * Q;
  std::vector<float> tmax(static_cast<size_t>(nt * k));
  const auto tile_of = [&](int64_t b) { return tile ? static_cast<int64_t>((*tile)[static_cast<size_t>(b)]) : b; };
  for (int64_t p = 0; p < P; ++p) {
    for (int64_t q = 0; q < Q; ++q) {
      const int64_t b = p * Q + q, tb = tile_of(b);
      for (int64_t i = 0; i < k; ++i) tmax[static_cast<size_t>(tb * k + i)] = 0.0f;
    }
    for (int64_t q = 0; q < Q; ++q) {
      const int64_t b = p * Q + q, tb = tile_of(b);
      for (int64_t i = 0; i < k; ++i) {
        float& m = tmax[static_cast<size_t>(tb * k + i)];
        for (int64_t j = 0; j < k; ++j) m = std::max(m, std::abs(latent[static_cast<size_t>(b * kk + i * k + j)]));
      }
    }
    for (int64_t q = 0; q < Q; ++q) {
      const int64_t b = p * Q + q, tb = tile_of(b);
      for (int64_t i = 0; i < k; ++i) row_scale[static_cast<size_t>(b * k + i)] = tmax[static_cast<size_t>(tb * k + i)];
    }
  }
  int64_t writes = 0;
  for (int64_t b = 0; b < P * Q; ++b)
    for (int64_t i = 0; i < k; ++i) {
      const float mx = row_scale[static_cast<size_t>(b * k + i)];
      const double sc = mx > 0 ? g_full / mx : 0.0;
      writes += map_pairs(latent, static_cast<size_t>(b * kk + i * k), static_cast<size_t>(k), sc, first, t_pos, t_neg);
    }
  return writes;
}

}  // namespace ptc::hw
