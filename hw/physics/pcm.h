// PCM cell physics as in IBM aihwkit v1.1.0's PCMLikeNoiseModel (Nandakumar et al. ICECS 2019,
// Joshi et al. Nat. Commun. 2020; docs/devices.md §2):
// programming noise, conductance-dependent drift exponent, power-law drift and 1/f read noise.
// Conductances in microsiemens (_us), times in seconds (_s). Closed forms only: the stochastic
// draws are made by the caller with its own counter-based stream (xi = standard normal).
#pragma once

#include <cstdint>
#include <vector>

namespace ptc::hw {

struct PcmLikeParams {
  double g_max_us = 25.0;  // converter maximum conductance
  double t0_s = 20.0;      // drift reference time after programming
  double t_read_s = 250e-9;
  // sigma_prog = (c0 + c1 u + c2 u^2) * g_max/25 uS, u = g_T/g_max (fit at g_max = 25 uS)
  double prog_c0 = 0.26348, prog_c1 = 1.9650, prog_c2 = -1.1731;
  double prog_g_max_reference_us = 25.0;
  double prog_scale = 1.0, read_scale = 1.0, drift_scale = 1.0;
  // Drift exponent laws (Nandakumar et al. 2019 fits, as aihwkit): mu_nu = clamp(a ln g_rel + b,
  // lo, hi), sigma_nu likewise.
  double nu_mu_a = -0.0155, nu_mu_b = 0.0244, nu_mu_min = 0.049, nu_mu_max = 0.1;
  double nu_sigma_a = -0.0125, nu_sigma_b = -0.0059, nu_sigma_min = 0.008, nu_sigma_max = 0.045;
  // 1/f read noise amplitude: Q_s = min(c / max(g_rel^e, floor), max).
  double read_q_c = 0.0088, read_q_exp = 0.65, read_q_floor = 1e-3, read_q_max = 0.2;
};

// g_rel = |g|/g_max clipped below at 1e-7.
double pcm_g_rel(const PcmLikeParams& p, double g_us);
// The programming-noise polynomial (the coefficient of xi, signed: the std is its magnitude).
double pcm_sigma_prog_us(const PcmLikeParams& p, double g_target_us);
// mu_nu = clamp(-0.0155 ln g_rel + 0.0244, 0.049, 0.1); sigma_nu = clamp(-0.0125 ln g_rel - 0.0059, 0.008, 0.045)
// (the laws with the parameters of `p`; the one-argument forms use aihwkit's defaults)
double pcm_mu_nu(const PcmLikeParams& p, double g_rel);
double pcm_sigma_nu(const PcmLikeParams& p, double g_rel);
double pcm_mu_nu(double g_rel);
double pcm_sigma_nu(double g_rel);
// Q_s = min(0.0088 / max(g_rel^0.65, 1e-3), 0.2)
double pcm_read_q(const PcmLikeParams& p, double g_rel);
double pcm_read_q(double g_rel);
// ((t_inf + t0)/t0)^(-nu); 1 at t_inf = 0.
double pcm_drift_factor(const PcmLikeParams& p, double t_inf_s, double nu);
// sqrt(ln((t + t_read)/(2 t_read))), t = t_inf + t0.
double pcm_read_noise_time_factor(const PcmLikeParams& p, double t_inf_s);

// One device: programmed conductance for a draw xi (max(0, g_T + s sigma_prog xi)).
double pcm_program_us(const PcmLikeParams& p, double g_target_us, double xi);
// Drift exponent for a draw xi: drift_scale * |mu_nu + sigma_nu xi| (g_rel from the target).
double pcm_draw_nu(const PcmLikeParams& p, double g_target_us, double xi);

// Conductance-scaling tiles (docs/devices.md §2.1): the weights of one tile share one scale,
// max|W| over the tile -> g_max, and the ADC range follows it. rows = cols = 0: one tile per
// k x k block (ptcsim's default). Otherwise a layer group's rows x cols matrix is split as aihwkit's
// TileModuleArray splits a layer (ceil(size / max) near-equal parts per dimension, the first parts
// one larger), counted in whole k x k blocks (at most one part per block).
struct PcmScaleTile {
  int64_t rows = 0, cols = 0;
  // Column-wise weight scaling (aihwkit MappingParameter weight_scaling_columnwise with
  // weight_scaling_omega = 1): every output of a tile gets its own scale, max|W| over that
  // output's weights within the tile -> g_max, applied digitally after the ADC.
  bool columnwise = false;
  bool per_block() const { return rows == 0 && cols == 0; }
};
// aihwkit's mapping defaults (MappingParameter max_output_size = max_input_size = 512).
inline constexpr int64_t kAihwkitTileSize = 512;
// Tile index of every block b = p Q + q of a P x Q block grid covering a rows x cols matrix
// (tiles numbered row-major over the tile grid); n_tiles receives their count.
std::vector<int32_t> pcm_tile_of_blocks(const PcmScaleTile& st, int64_t P, int64_t Q, int64_t rows, int64_t cols,
                                        int64_t& n_tiles);

// aihwkit's SinglePair mapping of weight blocks onto differential device pairs: per block b of
// kk weights, max|W| maps to g_full; w >= 0 goes to the positive device, w < 0 to the negative
// one. Fills scale[b] = max|W| of block b and the targets t_pos/t_neg (presized, one per weight);
// returns how many devices got a new target (every device when `first`): the writes.
// With `tile` (one tile index per block, n_tiles tiles), the max is taken over each tile and every
// block of a tile gets the tile's scale; nullptr: per block.
int64_t pcm_map_pair_targets(const std::vector<float>& latent, int64_t blocks, int64_t kk, double g_full, bool first,
                             std::vector<float>& scale, std::vector<float>& t_pos, std::vector<float>& t_neg,
                             const std::vector<int32_t>* tile = nullptr, int64_t n_tiles = 0);
// The same with column-wise scaling (PcmScaleTile::columnwise) on a P x Q grid of k x k blocks:
// output row i of block-row p in tile T has the scale max|W| over row i of the blocks (p, q) of T,
// and its weights map to g_full by it. Fills row_scale[(p Q + q) k + i] with that scale (every
// block of the row gets it) and scale[b] = 1 (the block itself is not scaled).
int64_t pcm_map_pair_targets_columnwise(const std::vector<float>& latent, int64_t P, int64_t Q, int64_t k, double g_full,
                                        bool first, std::vector<float>& scale, std::vector<float>& row_scale,
                                        std::vector<float>& t_pos, std::vector<float>& t_neg,
                                        const std::vector<int32_t>* tile = nullptr, int64_t n_tiles = 0);
// Conductance read at t_inf: drift, then 1/f read noise max(0, g_d + s |g_d| Q_s sqrt(ln..) xi).
// q_from_programmed selects aihwkit's code (Q_s from g_prog, true) or its docs (from g_T, false).
double pcm_read_us(const PcmLikeParams& p, double g_prog_us, double g_target_us, double nu, double t_inf_s, double xi,
                   bool q_from_programmed = true);

}  // namespace ptc::hw
