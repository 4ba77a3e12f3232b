// ELight PCM levels, log quantiser and write counting (Zhu et al., ASP-DAC 2022; docs/devices.md §3).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "hw/physics/pcm_levels.h"
#include "models/error.h"

using namespace ptc::hw;

namespace {

// Independent nearest level in transmission: argmin_j |u - beta^j| over all j.
int nearest_level(const PcmLevelSpec& s, double a) {
  const double u = a * (1 - s.t_min()) + s.t_min();
  int best = 0;
  for (int j = 1; j < s.levels; ++j)
    if (std::abs(u - std::pow(s.beta, j)) < std::abs(u - std::pow(s.beta, best))) best = j;
  return best;
}

// a at which u = (beta^j + beta^(j+1)) / 2: the boundary between levels j and j + 1.
double boundary(const PcmLevelSpec& s, int j) {
  const double u = 0.5 * (std::pow(s.beta, j) + std::pow(s.beta, j + 1));
  return (u - s.t_min()) / (1 - s.t_min());
}

PcmLevelSpec repo_units() {  // ELight's unitless energies 9 / 40 per step
  PcmLevelSpec s;
  s.e_up_j = 9;
  s.e_down_j = 40;
  return s;
}

}  // namespace

TEST_CASE("pcm levels: geometric transmissions of ELight", "[pcm_levels]") {
  PcmLevelSpec s;
  CHECK(s.levels == 16);
  CHECK(s.zero_level() == 15);
  CHECK(s.t_min() == Approx(0.128).margin(5e-4));    // 0.872^15 = 0.128 (B2)
  CHECK(s.step_db() == Approx(0.595).margin(5e-4));  // ~0.595 dB per step (B2)
  CHECK(transmission(s, 0) == 1.0);
  CHECK(transmission(s, 15) == Approx(s.t_min()));
  for (int j = 0; j < 15; ++j) CHECK(transmission(s, j + 1) / transmission(s, j) == Approx(0.872));
  CHECK_THROWS_AS(transmission(s, 16), ptc::Error);
  CHECK_THROWS_AS(transmission(s, -1), ptc::Error);
  // Defaults: ELight's times, its 40/9 energy ratio, 1 nJ/dB per step for "up" [assumption].
  CHECK(s.t_up_s == 0.5e-6);
  CHECK(s.t_down_s == 20e-6);
  CHECK(s.e_down_j / s.e_up_j == Approx(40.0 / 9.0));
  CHECK(s.e_up_j == Approx(s.step_db() * 1e-9).epsilon(1e-4));
}

TEST_CASE("pcm levels: the quantiser is nearest-in-transmission with midpoint boundaries", "[pcm_levels]") {
  for (PcmLevelSpec s : {PcmLevelSpec{}, PcmLevelSpec{8, 0.8}}) {
    CHECK(level_of(s, 1.0) == 0);
    CHECK(level_of(s, 0.0) == s.zero_level());
    CHECK(level_of(s, 1.7) == 0);  // clamped
    for (int j = 0; j + 1 < s.levels; ++j) {
      const double b = boundary(s, j);
      CHECK(level_of(s, b + 1e-9) == j);
      CHECK(level_of(s, b - 1e-9) == j + 1);
    }
    int prev = 0;
    for (int i = 0; i <= 20000; ++i) {
      const double a = 1.0 - i / 20000.0;
      const int l = level_of(s, a);
      CHECK(l == nearest_level(s, a));
      CHECK(l >= prev);             // monotone: smaller |w|, lower transmission
      CHECK(level_of(s, -a) == l);  // magnitude only
      prev = l;
    }
    // Every level's own value quantises back to itself.
    for (int ls = -s.zero_level(); ls <= s.zero_level(); ++ls) CHECK(signed_level_of(s, level_weight(s, ls)) == ls);
  }
  // The rule is nearest in transmission, not rounding of log_beta u: at log_beta u = 4.49 the
  // linear midpoint (log_beta ((1 + beta)/2) + 4 = 4.483) is already passed, so level 5.
  PcmLevelSpec s;
  const double u = std::pow(s.beta, 4.49);
  CHECK(level_of(s, (u - s.t_min()) / (1 - s.t_min())) == 5);
  CHECK_THROWS_AS(level_of(s, std::nan("")), ptc::Error);
}

TEST_CASE("pcm levels: quantize_block follows ELight's tanh normalisation and signed levels", "[pcm_levels]") {
  PcmLevelSpec s;
  // Hand-computed: a = tanh(w)/tanh(2); 0.5 -> a 0.4794, u 0.5461, log_beta u 4.417 -> level 4 -> +11;
  // -0.25 -> a 0.2541, u 0.3497, log_beta u 7.672 -> level 8 -> -7; 0 -> 0; 2 -> level 0 -> +15.
  std::vector<float> w = {0.5f, -0.25f, 0.0f, 2.0f};
  QuantizedBlock q = quantize_block(s, w.data(), 4);
  CHECK(q.tanh_max == Approx(std::tanh(2.0)));
  CHECK(q.levels == std::vector<int>{11, -7, 0, 15});
  // Dequantised values: sign (beta^j - T_min)/(1 - T_min).
  CHECK(level_weight(s, 11) == Approx((std::pow(0.872, 4) - s.t_min()) / (1 - s.t_min())));
  CHECK(level_weight(s, -15) == -1.0);
  CHECK(level_weight(s, 0) == 0.0);
  // An all-zero block sits at the zero level.
  std::vector<float> z(5, 0.0f);
  CHECK(quantize_block(s, z.data(), 5).levels == std::vector<int>(5, 0));
  w[2] = std::nanf("");
  CHECK_THROWS_WITH(quantize_block(s, w.data(), 4), Catch::Contains("weight 2"));
}

TEST_CASE("pcm levels: write counting on hand-made cases, asymmetric time and energy", "[pcm_levels]") {
  PcmLevelSpec s = repo_units();
  // cell 0: 0 -> 3 (pos up 3); cell 1: 3 -> -2 (pos down 3, neg up 2); cell 2: unchanged;
  // cell 3: -2 -> -7 (neg up 5); cell 4: 15 -> 0 (pos down 15).
  std::vector<int> a = {0, 3, 5, -2, 15}, b = {3, -2, 5, -7, 0};
  PcmWriteCost c = write_cost(s, a, b);
  CHECK(c.up_steps == 10);
  CHECK(c.down_steps == 18);
  CHECK(c.writes == 28);  // = sum |dL| (B3)
  CHECK(c.max_cell_steps == 15);
  CHECK(c.energy_j == Approx(10 * 9 + 18 * 40));
  CHECK(c.time_s == Approx(15 * 20e-6));  // parallel: the slowest device (cell 4, 15 slow steps)
  s.schedule = PcmWriteSchedule::serial_cells;
  CHECK(write_cost(s, a, b).time_s == Approx((3 * 0.5 + 3 * 20 + 2 * 0.5 + 5 * 0.5 + 15 * 20) * 1e-6));
  // The reverse write swaps the directions.
  PcmWriteCost r = write_cost(s, b, a);
  CHECK(r.up_steps == 18);
  CHECK(r.down_steps == 10);
  CHECK(r.energy_j == Approx(18 * 9 + 10 * 40));
  // Nothing changes: nothing is charged.
  PcmWriteCost none = write_cost(s, a, a);
  CHECK(none.writes == 0);
  CHECK(none.time_s == 0);
  CHECK(none.energy_j == 0);
  // Errors.
  CHECK_THROWS_WITH(write_cost(s, {0, 16}, {0, 0}), Catch::Contains("old_levels[1]"));
  CHECK_THROWS_AS(write_cost(s, {0}, {0, 1}), ptc::Error);
  s.beta = 1.2;
  CHECK_THROWS_AS(write_cost(s, {0}, {0}), ptc::Error);
}

TEST_CASE("pcm levels: streamed blocks, sorted order reaches the per-cell lower bound (B5)", "[pcm_levels]") {
  PcmLevelSpec s = repo_units();
  std::mt19937 gen(5);
  std::uniform_int_distribution<int> lv(-15, 15);
  const int q = 9, cells = 64;
  std::vector<std::vector<int>> blocks(q, std::vector<int>(cells));
  for (auto& blk : blocks)
    for (int& v : blk) v = lv(gen);
  auto stream = [&](const std::vector<std::vector<int>>& order) {
    PcmWriteCost total;
    std::vector<int> cur(cells, 0);  // first block written from the reset (zero) state
    for (const auto& blk : order) {
      total += write_cost(s, cur, blk);
      cur = blk;
    }
    return total;
  };
  // Native order: writes = sum over cells and steps of |L_j - L_{j-1}| (B3), computed directly.
  int64_t expect = 0, bound = 0;
  for (int c = 0; c < cells; ++c) {
    int prev = 0, lo = 99, hi = -99;
    for (int j = 0; j < q; ++j) {
      expect += std::abs(blocks[j][c] - prev);
      prev = blocks[j][c];
      lo = std::min(lo, prev);
      hi = std::max(hi, prev);
    }
    bound += std::abs(lo) + (hi - lo);  // reset -> min, then monotone up to max
  }
  PcmWriteCost native = stream(blocks);
  CHECK(native.writes == expect);
  CHECK(native.energy_j == Approx(9.0 * native.up_steps + 40.0 * native.down_steps));
  // Latency adds over the streamed blocks (B3: sum over j of the per-block max).
  double t = 0;
  std::vector<int> cur(cells, 0);
  for (const auto& blk : blocks) {
    t += write_cost(s, cur, blk).time_s;
    cur = blk;
  }
  CHECK(native.time_s == Approx(t));
  // Per-cell ascending sort (ELight's reorder): exactly the bound, never above the native order.
  std::vector<std::vector<int>> sorted = blocks;
  for (int c = 0; c < cells; ++c) {
    std::vector<int> col(q);
    for (int j = 0; j < q; ++j) col[j] = blocks[j][c];
    std::sort(col.begin(), col.end());
    for (int j = 0; j < q; ++j) sorted[j][c] = col[j];
  }
  PcmWriteCost best = stream(sorted);
  CHECK(best.writes == bound);
  CHECK(best.writes <= native.writes);
}
