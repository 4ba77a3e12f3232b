// ELight weight streaming (Zhu et al., "ELight", ASP-DAC 2022, §III; docs/elight.md): write counts
// of the streaming orders against closed forms and brute force written here, the per-pass cost
// against a hand computation, and the streamed product (inputs permuted with the weights) against
// the plain matrix product -- for single GEMMs and for the whole VGG-8 network.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>

#include "hw/device/pcm_optical.h"
#include "hw/streaming.h"
#include "models/compiler.h"
#include "models/dataset.h"
#include "models/executor.h"
#include "models/mapped_gemm.h"
#include "models/onnx_import.h"

using namespace ptc;

namespace {

const std::string kZoo = std::string(PTC_SOURCE_DIR) + "/models/zoo/";

// Levels of a block-row [Q, k, k]: a smooth per-cell base plus noise, clamped to [-15, 15]
// (similar blocks in one row, as trained weights have).
std::vector<int> row_levels(int64_t Q, int64_t k, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> base(-12, 12), noise(-4, 4), zero(0, 5);
  std::vector<int> b(static_cast<size_t>(k * k)), v(static_cast<size_t>(Q * k * k));
  for (auto& x : b) x = base(rng);
  for (int64_t j = 0; j < Q; ++j)
    for (int64_t i = 0; i < k * k; ++i) v[j * k * k + i] = zero(rng) == 0 ? 0 : std::clamp(b[i] + noise(rng), -15, 15);
  return v;
}

// Level steps of a sequence from the reset state: sum |v_t - v_{t-1}|, v_{-1} = 0.
int64_t path_steps(const std::vector<int>& seq) {
  int64_t s = 0;
  int prev = 0;
  for (int v : seq) s += std::abs(v - prev), prev = v;
  return s;
}

// Level steps of a row in an order, counted here from the order's cell sequences.
int64_t order_steps(const std::vector<int>& lv, const hw::RowOrder& o) {
  int64_t s = 0;
  for (int64_t r = 0; r < o.k; ++r)
    for (int64_t c = 0; c < o.k; ++c) {
      std::vector<int> seq;
      for (int64_t t = 0; t < o.Q; ++t) seq.push_back(lv[(o.block(r, c, t) * o.k + r) * o.k + c]);
      s += path_steps(seq);
    }
  return s;
}

}  // namespace

TEST_CASE("streaming: the per-cell order reaches sum over cells of (first step from reset + max - min)", "[streaming]") {
  for (uint32_t seed : {1u, 2u, 3u}) {
    const int64_t Q = 9, k = 4;
    std::vector<int> lv = row_levels(Q, k, seed);
    // The bound, from the cell values: a monotone walk from the end nearer 0.
    int64_t bound = 0;
    for (int64_t i = 0; i < k * k; ++i) {
      int lo = 99, hi = -99;
      for (int64_t j = 0; j < Q; ++j) lo = std::min(lo, lv[j * k * k + i]), hi = std::max(hi, lv[j * k * k + i]);
      bound += std::min(std::abs(lo), std::abs(hi)) + (hi - lo);
    }
    hw::RowOrder o = hw::make_row_order(hw::StreamOrder::per_cell, lv.data(), Q, k);
    hw::RowStream rs = hw::stream_row(hw::PcmLevelSpec{}, lv.data(), o);
    CHECK(rs.cost.writes == bound);
    CHECK(order_steps(lv, o) == bound);
    CHECK(hw::row_write_bound(lv.data(), Q, k) == bound);
  }
}

TEST_CASE("streaming: no order of a cell's values writes fewer steps than the bound (brute force)", "[streaming]") {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> d(-15, 15);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<int> v(6);
    for (auto& x : v) x = d(rng);
    std::vector<int> perm(v.size());
    std::iota(perm.begin(), perm.end(), 0);
    int64_t best = INT64_MAX;
    do {
      std::vector<int> seq;
      for (int p : perm) seq.push_back(v[p]);
      best = std::min(best, path_steps(seq));
    } while (std::next_permutation(perm.begin(), perm.end()));
    // Q = 6 blocks of one 1x1 cell
    REQUIRE(hw::row_write_bound(v.data(), 6, 1) == best);
    hw::RowOrder o = hw::make_row_order(hw::StreamOrder::per_cell, v.data(), 6, 1);
    REQUIRE(hw::stream_row(hw::PcmLevelSpec{}, v.data(), o).cost.writes == best);
  }
}

TEST_CASE("streaming: orders are permutations, buildable ones share one per column", "[streaming]") {
  const int64_t Q = 11, k = 5;
  std::vector<int> lv = row_levels(Q, k, 4);
  for (auto ord : {hw::StreamOrder::native, hw::StreamOrder::greedy, hw::StreamOrder::sort_mean, hw::StreamOrder::per_cell}) {
    hw::RowOrder o = hw::make_row_order(ord, lv.data(), Q, k);
    CHECK(o.per_cell == (ord == hw::StreamOrder::per_cell));
    CHECK(static_cast<int64_t>(o.perm.size()) == (o.per_cell ? k * k : k) * Q);
    for (int64_t r = 0; r < k; ++r)
      for (int64_t c = 0; c < k; ++c) {
        std::vector<int> seen(Q, 0);
        for (int64_t t = 0; t < Q; ++t) ++seen.at(o.block(r, c, t));
        REQUIRE(std::all_of(seen.begin(), seen.end(), [](int n) { return n == 1; }));
        if (!o.per_cell)
          for (int64_t t = 0; t < Q; ++t) REQUIRE(o.block(r, c, t) == o.block(0, c, t));
      }
    if (ord == hw::StreamOrder::native)
      for (int64_t t = 0; t < Q; ++t) CHECK(o.block(2, 3, t) == t);
  }
}

TEST_CASE("streaming: per-pass time and energy by direction, by hand", "[streaming]") {
  // One 1x2 row... k = 2, Q = 3; cell 0 goes 0 -> 3 -> 1 -> -2, cell 1 stays 0, cells 2, 3 go 0 -> 5 -> 5 -> 5.
  const int64_t Q = 3, k = 2;
  std::vector<int> lv = {3, 0, 5, 5, 1, 0, 5, 5, -2, 0, 5, 5};
  hw::PcmLevelSpec spec;
  spec.t_up_s = 1.0, spec.t_down_s = 10.0, spec.e_up_j = 2.0, spec.e_down_j = 7.0;
  hw::RowStream rs = hw::stream_row(spec, lv.data(), hw::make_row_order(hw::StreamOrder::native, lv.data(), Q, k));
  // Step 0: cell 0 up 3 (3 s), cells 2, 3 up 5 (5 s): 5 s. Step 1: cell 0 down 2 (20 s).
  // Step 2: cell 0 from +1 to -2: positive array down 1 (10 s), negative array up 2 (2 s): 10 s.
  REQUIRE(rs.step_time_s.size() == 3);
  CHECK(rs.step_time_s[0] == Approx(5.0));
  CHECK(rs.step_time_s[1] == Approx(20.0));
  CHECK(rs.step_time_s[2] == Approx(10.0));
  CHECK(rs.cost.up_steps == 3 + 10 + 2);
  CHECK(rs.cost.down_steps == 2 + 1);
  CHECK(rs.cost.writes == 18);
  CHECK(rs.cost.energy_j == Approx(15 * 2.0 + 3 * 7.0));
  CHECK(rs.cell_steps == std::vector<int64_t>{3 + 2 + 3, 0, 5, 5});
  CHECK(rs.cost.max_cell_steps == 8);
}

TEST_CASE("streaming: streamed product with permuted inputs equals W x for every order", "[streaming]") {
  std::mt19937 rng(11);
  std::normal_distribution<float> n(0.0f, 1.0f);
  const int64_t rows = 13, cols = 29, k = 4;
  std::vector<float> w(rows * cols), x(cols);
  for (auto& v : w) v = n(rng);
  for (auto& v : x) v = n(rng);
  models::GemmTiles t;
  {  // tile through the compiler's own helper: one Gemm layer
    models::CompiledLayer L;
    L.weight_shape = {rows, cols};
    L.weight_transposed = false;
    models::GemmTiles g0;
    g0.rows = rows, g0.cols = cols, g0.P = (rows + k - 1) / k, g0.Q = (cols + k - 1) / k;
    L.gemms.push_back(g0);
    L.node = "fc";
    t = g0;
    t.blocks = models::weight_to_blocks(L, w, k)[0];
  }
  std::vector<double> ref(rows, 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) ref[r] += double(w[r * cols + c]) * x[c];
  std::vector<int> lv(t.blocks.size());
  for (size_t i = 0; i < lv.size(); ++i) lv[i] = static_cast<int>(std::lround(t.blocks[i] * 5));  // any levels
  for (auto ord : {hw::StreamOrder::native, hw::StreamOrder::greedy, hw::StreamOrder::sort_mean, hw::StreamOrder::per_cell}) {
    std::vector<hw::RowOrder> orders;
    for (int64_t p = 0; p < t.P; ++p) orders.push_back(hw::make_row_order(ord, lv.data() + p * t.Q * k * k, t.Q, k));
    if (ord != hw::StreamOrder::native)
      CHECK(orders[0].perm != hw::make_row_order(hw::StreamOrder::native, lv.data(), t.Q, k).perm);
    std::vector<float> y(rows);
    hw::streamed_matvec(t, k, orders, x.data(), y.data());
    for (int64_t r = 0; r < rows; ++r) CHECK(y[r] == Approx(ref[r]).margin(1e-4));
  }
}

namespace {

// The hardware hook computing every weight layer as the streamed cores do (ideal weights).
class StreamedNet : public models::MappedGemm {
 public:
  StreamedNet(const models::CompiledWorkload& wl, const hw::PcmOptical& tech, hw::StreamOrder ord) : m_wl(wl) {
    const int64_t k = wl.spec.block_size, kk = k * k;
    for (size_t l = 0; l < wl.layers.size(); ++l) {
      const auto& t = wl.layers[l].gemms[0];
      const auto& lv = tech.levels(static_cast<int64_t>(l), 0);
      m_orders.emplace_back();
      for (int64_t p = 0; p < t.P; ++p) m_orders.back().push_back(hw::make_row_order(ord, lv.data() + p * t.Q * kk, t.Q, k));
    }
  }
  void gemm(int64_t layer, int64_t group, int64_t, const float* x, bool x_trans, int64_t n, float* y, bool y_trans) override {
    const auto& t = m_wl.layers[layer].gemms[group];
    std::vector<float> xv(t.cols), yv(t.rows);
    for (int64_t v = 0; v < n; ++v) {
      for (int64_t c = 0; c < t.cols; ++c) xv[c] = x_trans ? x[v * t.cols + c] : x[c * n + v];
      hw::streamed_matvec(t, m_wl.spec.block_size, m_orders[layer], xv.data(), yv.data());
      for (int64_t r = 0; r < t.rows; ++r) (y_trans ? y[v * t.rows + r] : y[r * n + v]) = yv[r];
    }
  }

 private:
  const models::CompiledWorkload& m_wl;
  std::vector<std::vector<hw::RowOrder>> m_orders;
};

struct Vgg {
  models::Graph g = models::import_onnx(kZoo + "vgg8_fmnist.onnx");
  models::Preprocess pre = models::preprocess_for(g, kZoo + "vgg8_fmnist.onnx");
  models::CompiledWorkload wl = models::compile(g, models::TilingSpec{4, 4, 16, "streaming"});
  hw::PcmOptical tech{wl, hw::PcmOpticalConfig{}};
};

}  // namespace

TEST_CASE("streaming: VGG-8 logits with every order equal native's", "[streaming]") {
  Vgg s;
  const models::Dataset d = models::load_fashion_mnist("test", models::kFashionMnistDir, 2);
  models::Tensor in;
  models::fill_batch(d, s.pre, 0, 2, in);
  std::vector<std::vector<float>> logits;
  for (auto ord : {hw::StreamOrder::native, hw::StreamOrder::greedy, hw::StreamOrder::sort_mean, hw::StreamOrder::per_cell}) {
    StreamedNet net(s.wl, s.tech, ord);
    models::Executor ex(s.g, 1);
    ex.set_mapped(&net, s.wl.layer_index());
    logits.push_back(ex.run(in).f);
  }
  models::Executor plain(s.g, 1);
  const std::vector<float> ref = plain.run(in).f;
  REQUIRE(logits[0].size() == ref.size());
  for (const auto& l : logits)
    for (size_t i = 0; i < ref.size(); ++i) {
      CHECK(l[i] == Approx(logits[0][i]).epsilon(1e-4).margin(1e-4));
      CHECK(l[i] == Approx(ref[i]).epsilon(1e-4).margin(1e-4));
    }
}

TEST_CASE("streaming: VGG-8 per-pass level steps, per_cell bound <= buildable orders <= native", "[streaming]") {
  Vgg s;
  const auto levels = [&](int64_t l, int64_t g) -> const std::vector<int>& { return s.tech.levels(l, g); };
  std::map<hw::StreamOrder, hw::StreamPlan> plan;
  for (auto ord : {hw::StreamOrder::native, hw::StreamOrder::greedy, hw::StreamOrder::sort_mean, hw::StreamOrder::per_cell})
    plan[ord] = hw::plan_streaming(s.wl, hw::PcmLevelSpec{}, ord, levels);
  const hw::StreamPlan& native = plan[hw::StreamOrder::native];
  // Native order = ELight's write count: sum over cells and blocks of |L_j - L_{j-1}| from reset,
  // counted here straight from the levels.
  int64_t native_steps = 0;
  for (size_t l = 0; l < s.wl.layers.size(); ++l) {
    const auto& t = s.wl.layers[l].gemms[0];
    const auto& lv = s.tech.levels(static_cast<int64_t>(l), 0);
    for (int64_t p = 0; p < t.P; ++p)
      for (int64_t i = 0; i < 256; ++i) {
        std::vector<int> seq;
        for (int64_t q = 0; q < t.Q; ++q) seq.push_back(lv[(p * t.Q + q) * 256 + i]);
        native_steps += path_steps(seq);
      }
  }
  CHECK(native.writes == native_steps);
  const int64_t bound = native.bound_writes;
  CHECK(plan[hw::StreamOrder::per_cell].writes == bound);
  for (auto ord : {hw::StreamOrder::greedy, hw::StreamOrder::sort_mean}) {
    CHECK(plan[ord].writes >= bound);
    CHECK(plan[ord].writes < native.writes);
    for (size_t l = 0; l < native.layers.size(); ++l) CHECK(plan[ord].layers[l].writes <= native.layers[l].writes);
  }
  const double cut = double(native.writes) / double(bound);
  const double cut_greedy = double(native.writes) / double(plan[hw::StreamOrder::greedy].writes);
  const double cut_mean = double(native.writes) / double(plan[hw::StreamOrder::sort_mean].writes);
  std::printf(
      "VGG-8 (4x4 cores, k = 16) level steps per pass: native %lld, per_cell %lld (%.2fx), greedy %lld (%.2fx), "
      "sort_mean %lld (%.2fx)\n",
      static_cast<long long>(native.writes), static_cast<long long>(bound), cut,
      static_cast<long long>(plan[hw::StreamOrder::greedy].writes), cut_greedy,
      static_cast<long long>(plan[hw::StreamOrder::sort_mean].writes), cut_mean);
  // ELight's per-cell reordering cuts its VGG-8's level-writes per pass 7.6x (CIFAR-10, ASP-DAC 2022);
  // the issue asks >= 5x. Measured here (docs/elight.md §5): 11.6x for per_cell; the buildable
  // per-column orders keep far less of it (greedy 1.51x, sort_mean 1.08x): a column's 16 cells
  // must share one permutation.
  CHECK(cut >= 5.0);
  CHECK(cut_greedy >= 1.3);
  CHECK(cut_mean > 1.0);
}

TEST_CASE("streaming endurance: a cell wears out at ceil(budget / steps per pass), worn cells read the zero level",
          "[streaming]") {
  hw::StreamPlan plan;
  plan.cell_steps = {0, 5, 3, 4};
  hw::CellWear w(plan, {10.0, 10.0, 9.0, 10.5});
  CHECK(w.worn_pass[0] == hw::CellWear::kNever);
  CHECK(w.worn_pass[1] == 2);  // 10 / 5
  CHECK(w.worn_pass[2] == 3);  // 9 / 3
  CHECK(w.worn_pass[3] == 3);  // ceil(10.5 / 4)
  CHECK(w.first_worn_pass == 2);
  CHECK(w.worn_at(2) == std::vector<char>{0, 1, 0, 0});
  CHECK(w.worn_count(3) == 3);
  CHECK_THROWS(hw::CellWear(plan, {1.0}));

  // Worn cells of core 0 (every cell) and of core 1 (cell 5 only): every block streamed through
  // them realises 0 there; the other blocks are untouched.
  models::Graph g = models::import_onnx(kZoo + "lenet5_fmnist.onnx");
  models::CompiledWorkload wl = models::compile(g, models::TilingSpec{2, 2, 8, "streaming"});
  hw::PcmOptical t(wl, hw::PcmOpticalConfig{});
  const auto& L = wl.layers[1].gemms[0];
  std::vector<float> before(L.blocks.size()), after(L.blocks.size()), sc(L.P * L.Q);
  t.realize(1, 0, 0, before.data(), sc.data());
  std::vector<char> worn(4 * 64, 0);
  std::fill(worn.begin(), worn.begin() + 64, 1);
  worn[64 + 5] = 1;
  t.set_worn_cells(worn);
  t.realize(1, 0, 0, after.data(), sc.data());
  int64_t zeroed = 0, kept = 0;
  for (int64_t b = 0; b < L.P * L.Q; ++b)
    for (int64_t i = 0; i < 64; ++i) {
      const bool is_worn = (L.core[b] == 0) || (L.core[b] == 1 && i == 5);
      if (is_worn) {
        REQUIRE(after[b * 64 + i] == 0.0f);
        zeroed += before[b * 64 + i] != 0.0f;
      } else if (before[b * 64 + i] != 0.0f) {
        REQUIRE(after[b * 64 + i] != 0.0f);
        ++kept;
      }
    }
  CHECK(zeroed > 0);
  CHECK(kept > 0);
  const models::CompiledWorkload wl_cyclic = models::compile(g, models::TilingSpec{2, 2, 8, "cyclic"});
  hw::PcmOptical cyc(wl_cyclic, hw::PcmOpticalConfig{});
  CHECK_THROWS_WITH(cyc.set_worn_cells(worn), Catch::Matchers::Contains("streaming"));
}

TEST_CASE("row remapping: a worn row moves to a fresh spare row, by hand", "[streaming]") {
  // One core of 2 x 2 cells, one spare row. Steps per pass: row 0 {5, 1}, row 1 {2, 2}; budgets 10
  // for the rows, 20 for the spare row's cells.
  hw::StreamPlan plan;
  plan.cores = 1;
  plan.k = 2;
  plan.cell_steps = {5, 1, 2, 2};
  hw::CellWear w(plan, {10.0, 10.0, 10.0, 10.0, 20.0, 20.0});
  CHECK(w.spare_rows() == 1);
  CHECK(w.first_worn_pass == 2);                            // ceil(10 / 5)
  CHECK(w.worn_pass == std::vector<int64_t>{2, 10, 5, 5});  // row 0: 10/5, 10/1; row 1: 10/2
  hw::RowRemapOutcome o = w.remap_worn_rows(1, 1);          // nothing worn yet
  CHECK(o.remapped == 0);
  CHECK(o.unrepaired == 0);
  o = w.remap_worn_rows(2, 1);  // row 0 worn at pass 2: onto the spare, fresh from pass 2 on
  CHECK(o.remapped == 1);
  CHECK(o.unrepaired == 0);
  CHECK(o.spare_rows_left == 0);
  CHECK(w.worn_pass == std::vector<int64_t>{2 + 4, 2 + 20, 5, 5});  // ceil(20 / 5), 20 / 1 after pass 2
  CHECK(w.worn_count(2) == 0);
  CHECK(w.spare_rows_used() == std::vector<int64_t>{1});
  CHECK(w.rows_remapped() == 1);
  CHECK(w.first_worn_pass == 2);  // the first wear of any cell stays the first
  o = w.remap_worn_rows(5, 1);    // row 1 worn at pass 5: no spare left
  CHECK(o.remapped == 0);
  CHECK(o.unrepaired == 1);
  CHECK(w.first_unrepaired_pass == 5);
  CHECK(w.worn_at(5) == std::vector<char>{0, 0, 1, 1});
  o = w.remap_worn_rows(6, 1);  // the spare row wears at 6: row 0 unrepaired too
  CHECK(o.unrepaired == 2);
  CHECK(w.first_unrepaired_pass == 5);
  // A threshold of 2 worn cells: row 0 of a fresh wear has one worn cell at pass 2, two at pass 10.
  hw::CellWear w2(plan, {10.0, 10.0, 10.0, 10.0, 20.0, 20.0});
  CHECK(w2.remap_worn_rows(9, 2).remapped == 1);  // row 1 (both cells at 5) only
  CHECK(w2.spare_rows_used() == std::vector<int64_t>{1});
  CHECK(w2.remap_worn_rows(10, 2).unrepaired == 1);
  // Budgets that are neither [cores, k, k] nor that plus whole spare rows are refused.
  CHECK_THROWS_WITH(hw::CellWear(plan, {1.0, 1.0, 1.0, 1.0, 1.0}), Catch::Matchers::Contains("spare"));
  CHECK_THROWS_WITH(w.remap_worn_rows(7, 0), Catch::Matchers::Contains("threshold"));
  CHECK_THROWS_WITH(w.remap_worn_rows(7, 3), Catch::Matchers::Contains("the 2 cells of a row"));
}

TEST_CASE("row remapping: VGG-8's first unrepaired row is the (s+1)-th wear of its core, closed form", "[streaming]") {
  // Deterministic budgets (sigma = 0): every cell, spare or not, has budget B. Logical row r of core
  // c with steps s_{c,r,j} per pass holds >= t worn cells from pass n_r = the t-th smallest of
  // ceil(B / s_{c,r,j}) over its cells with s > 0 on. Checked every pass, a worn row moves to a fresh
  // spare at the pass it wears, so it wears again at 2 n_r, 3 n_r, ...; the spares of a core go to
  // these events in time order, so the core's first unrepaired row is at the (S+1)-th smallest of
  // the multiset {i n_r : i >= 1, r} and the chip's at the minimum over cores.
  Vgg s;
  const auto levels = [&](int64_t l, int64_t g) -> const std::vector<int>& { return s.tech.levels(l, g); };
  const hw::StreamPlan plan = hw::plan_streaming(s.wl, hw::PcmLevelSpec{}, hw::StreamOrder::native, levels);
  const int64_t k = plan.k, cores = plan.cores;
  const double B = 5.0 * static_cast<double>(plan.max_cell_steps());
  for (int64_t S : {0, 1, 3}) {
    for (int64_t t : {1, 3}) {
      std::vector<double> budgets(static_cast<size_t>(cores * (k + S) * k), B);
      hw::CellWear w(plan, budgets);
      int64_t expect = hw::CellWear::kNever;
      std::vector<int64_t> used_expect(static_cast<size_t>(cores), 0);
      const int64_t horizon = 40;  // passes simulated below
      for (int64_t c = 0; c < cores; ++c) {
        std::vector<int64_t> events;
        for (int64_t r = 0; r < k; ++r) {
          std::vector<int64_t> n;
          for (int64_t j = 0; j < k; ++j) {
            const int64_t st = plan.cell_steps[(c * k + r) * k + j];
            if (st > 0) n.push_back(static_cast<int64_t>(std::ceil(B / static_cast<double>(st))));
          }
          if (static_cast<int64_t>(n.size()) < t) continue;
          std::sort(n.begin(), n.end());
          for (int64_t i = 1; i * n[t - 1] <= 10 * horizon; ++i) events.push_back(i * n[t - 1]);
        }
        std::sort(events.begin(), events.end());
        if (static_cast<int64_t>(events.size()) > S) expect = std::min(expect, events[S]);
        for (int64_t i = 0; i < std::min<int64_t>(S, static_cast<int64_t>(events.size())); ++i)
          used_expect[c] += events[i] <= horizon;
      }
      int64_t got = hw::CellWear::kNever;
      for (int64_t n = 1; n <= horizon; ++n) {
        const hw::RowRemapOutcome o = w.remap_worn_rows(n, t);
        if (o.unrepaired > 0 && got == hw::CellWear::kNever) got = n;
      }
      INFO("spares " << S << ", threshold " << t);
      REQUIRE(expect <= horizon);  // the horizon covers the event
      CHECK(got == expect);
      CHECK(w.first_unrepaired_pass == expect);
      CHECK(w.spare_rows_used() == used_expect);
      if (S == 0 && t == 1) CHECK(expect == w.first_worn_pass);  // no spares: the first worn cell
    }
  }
}

TEST_CASE("row remapping: spare rows draw their own budgets after the rows', which stay as without spares", "[streaming]") {
  models::Graph g = models::import_onnx(kZoo + "lenet5_fmnist.onnx");
  models::CompiledWorkload wl = models::compile(g, models::TilingSpec{2, 2, 8, "streaming"});
  hw::PcmOpticalConfig cfg;
  cfg.endurance_steps = 1e6;
  cfg.endurance_sigma = 0.3;
  const hw::PcmOptical plain(wl, cfg, hw::RandomStream(7, 1));
  cfg.spare_rows = 2;
  const hw::PcmOptical spared(wl, cfg, hw::RandomStream(7, 1));
  const std::vector<double>& a = *plain.endurance_budgets();
  const std::vector<double>& b = *spared.endurance_budgets();
  REQUIRE(a.size() == 4 * 64);
  REQUIRE(b.size() == 4 * 64 + 4 * 2 * 8);
  CHECK(std::equal(a.begin(), a.end(), b.begin()));  // bit-identical
  std::vector<double> spare(b.begin() + 256, b.end());
  CHECK(std::adjacent_find(spare.begin(), spare.end()) == spare.end());  // drawn, not copied
  cfg.endurance_steps = 0;
  CHECK_THROWS_WITH(hw::PcmOptical(wl, cfg), Catch::Matchers::Contains("spare_rows"));
}
