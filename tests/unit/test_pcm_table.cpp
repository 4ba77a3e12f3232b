// Table-driven PCM device (hw/device/pcm_table.h): measurement files, interpolation, the realised
// conductance statistics against the closed-form curves the table was built from, persistent vs
// fresh noise, and agreement with aihwkit's PCMLike model (PcmPair) when the table is measured
// from it (characterize_pcm).
#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "hw/characterize.h"
#include "hw/device/pcm_pair.h"
#include "hw/device/pcm_table.h"
#include "models/error.h"
#include "tests/reference/pcm_like_reference.h"

using namespace ptc;
using Catch::Matchers::Contains;

namespace {

constexpr double kNu = 0.05, kT0 = 20.0, kStd = 0.02;

// Closed-form curves the synthetic tables sample: m = g ((t + 20)/20)^-0.05, s = 0.02.
double closed_mean(double g, double t) {
  return g * std::pow((t + kT0) / kT0, -kNu);
}

// 1-2-5 series from 1 s to 1e8 s (and t = 0).
std::vector<double> table_times() {
  std::vector<double> t = {0};
  for (double d = 1; d <= 1e8; d *= 10)
    for (double f : {1.0, 2.0, 5.0})
      if (d * f <= 1e8) t.push_back(d * f);
  return t;
}

hw::PcmCurveTable closed_form_table(const std::vector<double>& levels, const std::vector<double>& times) {
  std::vector<hw::PcmTablePoint> pts;
  for (double g : levels)
    for (double t : times) pts.push_back({g, t, closed_mean(g, t), kStd});
  return hw::PcmCurveTable(pts, "closed_form");
}

// One layer, one GEMM of `blocks` 8x8 blocks; block b holds a 1 (its abs-max, so the block maps to
// g_max) and 63 copies of level[b % levels] * sign.
models::CompiledWorkload workload(const std::vector<double>& levels, int64_t blocks_per_level, float sign = 1) {
  models::CompiledWorkload wl;
  wl.spec.block_size = 8;
  models::GemmTiles t;
  t.P = static_cast<int64_t>(levels.size()) * blocks_per_level;
  t.Q = 1;
  t.rows = t.P * 8;
  t.cols = 8;
  t.core.assign(static_cast<size_t>(t.P), 0);
  t.chunk.assign(static_cast<size_t>(t.P), 0);
  for (int64_t b = 0; b < t.P; ++b) {
    t.blocks.push_back(sign);
    for (int i = 1; i < 64; ++i) t.blocks.push_back(sign * static_cast<float>(levels[static_cast<size_t>(b) % levels.size()]));
  }
  models::CompiledLayer L;
  L.gemms.push_back(t);
  wl.layers.push_back(L);
  return wl;
}

std::vector<float> weights(const hw::Technology& tech, const models::CompiledWorkload& wl) {
  const auto& t = wl.layers[0].gemms[0];
  std::vector<float> wn(t.blocks.size()), sc(static_cast<size_t>(t.P * t.Q));
  tech.realize(0, 0, 0, wn.data(), sc.data());
  return wn;
}

// Mean and std of the level-`li` devices (the 63 non-max weights of its blocks).
struct Stats {
  double mean = 0, std = 0;
  int64_t n = 0;
};
Stats level_stats(const std::vector<float>& wn, size_t levels, size_t li) {
  Stats s;
  double sum = 0, sq = 0;
  for (size_t b = li; b * 64 < wn.size(); b += levels)
    for (size_t i = 1; i < 64; ++i) {
      double x = wn[b * 64 + i];
      sum += x;
      sq += x * x;
      ++s.n;
    }
  s.mean = sum / static_cast<double>(s.n);
  s.std = std::sqrt((sq - sum * s.mean) / static_cast<double>(s.n - 1));
  return s;
}

double correlation(const std::vector<double>& a, const std::vector<double>& b) {
  double ma = 0, mb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ma += a[i];
    mb += b[i];
  }
  ma /= static_cast<double>(a.size());
  mb /= static_cast<double>(b.size());
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

std::string csv_error(const std::string& text) {
  try {
    hw::parse_pcm_table_csv(text, "dev.csv");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string json_error(const std::string& text) {
  try {
    hw::parse_pcm_table_json(text, "dev.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("pcm_table: interpolation is exact at table points, linear in ln(t + t_eps) and g between them, clamped outside",
          "[pcm_table]") {
  const std::vector<double> times = table_times();
  hw::PcmCurveTable tab = closed_form_table({0.1, 0.4, 0.7, 1.0}, times);
  CHECK(tab.measured_levels() == std::vector<double>{0.1, 0.4, 0.7, 1.0});
  double m = 0, s = 0;
  for (double g : {0.1, 0.4, 0.7, 1.0})
    for (double t : times) {
      tab.curves(g, t, kT0, &m, &s);
      REQUIRE(m == Approx(closed_mean(g, t)).epsilon(1e-14));
      REQUIRE(s == Approx(kStd).epsilon(1e-14));
    }
  // Between times: the documented formula written out (t = 3000 s between 2000 and 5000 s).
  double x = std::log(3000 + kT0), x0 = std::log(2000 + kT0), x1 = std::log(5000 + kT0);
  double w = (x - x0) / (x1 - x0);
  for (double g : {0.4, 0.55, 0.85}) {  // 0.55, 0.85 also between levels: the curves are linear in g
    tab.curves(g, 3000, kT0, &m, &s);
    CHECK(m == Approx((1 - w) * closed_mean(g, 2000) + w * closed_mean(g, 5000)).epsilon(1e-12));
    // The closed form is exp(-nu (x - ln t0)): the chord error is at most h^2/8 max|f''| = h^2/8 nu^2 m.
    CHECK(std::abs(m - closed_mean(g, 3000)) <= (x1 - x0) * (x1 - x0) / 8 * kNu * kNu * g);
    CHECK(std::abs(m - closed_mean(g, 3000)) > 0);  // and it is an interpolation, not the closed form
  }
  // Between levels at a table time: linear in g.
  tab.curves(0.55, 1000, kT0, &m, &s);
  CHECK(m == Approx(0.5 * closed_mean(0.4, 1000) + 0.5 * closed_mean(0.7, 1000)).epsilon(1e-12));
  // Clamped after the last time; above the highest level there is nothing (g <= 1).
  double m_last = 0;
  tab.curves(0.7, 1e8, kT0, &m_last, &s);
  tab.curves(0.7, 1e10, kT0, &m, &s);
  CHECK(m == m_last);
  // Below the lowest measured level: towards the ideal off state m = s = 0 at g = 0.
  tab.curves(0.05, 100, kT0, &m, &s);
  CHECK(m == Approx(0.5 * closed_mean(0.1, 100)).epsilon(1e-12));
  CHECK(s == Approx(0.5 * kStd).epsilon(1e-12));
  tab.curves(0, 100, kT0, &m, &s);
  CHECK(m == 0);
  CHECK(s == 0);
  // A table starting at 10 s and ending at level 0.7 is clamped before 10 s and above 0.7.
  hw::PcmCurveTable late = closed_form_table({0.0, 0.7}, {10, 100});
  late.curves(0.7, 0, kT0, &m, &s);
  CHECK(m == Approx(closed_mean(0.7, 10)).epsilon(1e-14));
  late.curves(0.9, 10, kT0, &m, &s);
  CHECK(m == Approx(closed_mean(0.7, 10)).epsilon(1e-14));
  late.curves(0.0, 10, kT0, &m, &s);  // level 0 measured: its values, not the implicit off state
  CHECK(m == 0);
  CHECK(late.measured_levels() == std::vector<double>{0.0, 0.7});
}

TEST_CASE("pcm_table: realised conductances have the table's mean and std at measured and interpolated points", "[pcm_table]") {
  const std::vector<double> levels = {0.1, 0.4, 0.7, 1.0};
  hw::PcmTableConfig cfg;
  cfg.table = closed_form_table(levels, table_times());
  cfg.t_eps_s = kT0;
  const std::vector<double> probe = {0.4, 0.7, 0.25, 0.55};  // measured, measured, interpolated, interpolated
  const int64_t per_level = 200;                             // 12,600 devices per level
  models::CompiledWorkload wl = workload(probe, per_level);
  models::CompiledWorkload wl_neg = workload(probe, per_level, -1.0f);
  for (double f : {1.0, 0.3}) {
    cfg.persistent_fraction = f;
    hw::PcmTable tech(wl, cfg, hw::RandomStream(3, 0));
    hw::PcmTable neg(wl_neg, cfg, hw::RandomStream(4, 0));
    for (double t : {0.0, 100.0, 86400.0, 3e7}) {  // 100 s is a table time; 1 d and 3e7 s are not
      INFO("f = " << f << ", t = " << t);
      tech.set_time(t);
      neg.set_time(t);
      auto wn = weights(tech, wl), wneg = weights(neg, wl_neg);
      // interpolation error bound in time (1-2-5 grid: h <= ln 2.5 in ln(t + 20))
      const double h = std::log(2.5), bound = h * h / 8 * kNu * kNu;
      for (size_t li = 0; li < probe.size(); ++li) {
        INFO("level " << probe[li]);
        Stats st = level_stats(wn, probe.size(), li), sn = level_stats(wneg, probe.size(), li);
        const double se_mean = kStd / std::sqrt(double(st.n)), se_std = kStd / std::sqrt(2.0 * double(st.n));
        CHECK(std::abs(st.mean - closed_mean(probe[li], t)) <= 4 * se_mean + bound * probe[li]);
        CHECK(std::abs(st.std - kStd) <= 4 * se_std);
        CHECK(std::abs(-sn.mean - closed_mean(probe[li], t)) <= 4 * se_mean + bound * probe[li]);  // g- of w < 0
        CHECK(std::abs(sn.std - kStd) <= 4 * se_std);
      }
    }
  }
}

TEST_CASE("pcm_table: reads are clipped at 0 (mean of a clipped normal)", "[pcm_table]") {
  const double m = 0.01, s = 0.02;
  hw::PcmTableConfig cfg;
  cfg.table = hw::PcmCurveTable({{0.5, 1, m, s}, {1.0, 1, m, s}}, "clip");
  models::CompiledWorkload wl = workload({0.5}, 400);
  hw::PcmTable tech(wl, cfg, hw::RandomStream(9, 0));
  Stats st = level_stats(weights(tech, wl), 1, 0);
  const double z = m / s, pdf = std::exp(-z * z / 2) / std::sqrt(2 * std::acos(-1.0)), cdf = 0.5 * std::erfc(-z / std::sqrt(2.0));
  const double mean = m * cdf + s * pdf;  // E max(0, m + s xi)
  CHECK(st.mean == Approx(mean).margin(4 * s / std::sqrt(double(st.n))));
  CHECK(st.mean > m + 0.003);
  for (float x : weights(tech, wl)) REQUIRE(x >= 0);
}

// Each device's read at t, in units of the closed-form std from the closed-form mean at g_T = 0.7
// (every weight of `workload({0.7}, n)` but one per 64-weight block).
static std::vector<double> deviations_at(hw::PcmTable& tech, const models::CompiledWorkload& wl, double t) {
  tech.set_time(t);
  auto wn = weights(tech, wl);
  std::vector<double> d;
  for (size_t j = 0; j < wn.size(); ++j)
    if (j % 64) d.push_back((wn[j] - closed_mean(0.7, t)) / kStd);
  return d;
}

TEST_CASE("pcm_table: persistent_fraction sets the correlation of one device's reads at two instants", "[pcm_table]") {
  models::CompiledWorkload wl = workload({0.7}, 200);
  for (double f : {1.0, 0.5, 0.0}) {
    hw::PcmTableConfig cfg;
    cfg.table = closed_form_table({0.1, 0.4, 0.7, 1.0}, table_times());
    cfg.persistent_fraction = f;
    hw::PcmTable tech(wl, cfg, hw::RandomStream(11, 0));
    auto deviations = [&](double t) { return deviations_at(tech, wl, t); };
    auto a = deviations(100), b = deviations(1e5), a2 = deviations(100);
    INFO("f = " << f);
    CHECK(a == a2);  // the same instant reads the same bits
    const double n = static_cast<double>(a.size());
    if (f == 1.0)
      CHECK(correlation(a, b) > 0.99999);
    else
      CHECK(std::abs(correlation(a, b) - f) < 4 / std::sqrt(n));
    // re-programming draws the persistent part afresh
    tech.program_all(0);
    auto c = deviations(100);
    CHECK(std::abs(correlation(a, c)) < 4 / std::sqrt(n));
  }
}

TEST_CASE("pcm_table: the noiseless reference read leaves out the fresh share, variance f s^2 (drift compensation)",
          "[pcm_table]") {
  // docs/pcm_drift_compensation.md §2: aihwkit takes the reference from the programmed
  // conductances, without read noise. A table device's read noise is the fresh share 1 - f of its
  // spread: left out, a device reads m + s sqrt(f) xi_p, the same at every instant.
  models::CompiledWorkload wl = workload({0.7}, 200);
  hw::PcmTableConfig cfg;
  cfg.table = closed_form_table({0.1, 0.4, 0.7, 1.0}, table_times());
  cfg.persistent_fraction = 0.5;
  hw::PcmTable tech(wl, cfg, hw::RandomStream(13, 0));
  auto deviations = [&](double t) { return deviations_at(tech, wl, t); };
  const auto noisy = deviations(100);
  REQUIRE(tech.set_noiseless_reads(true));
  const auto quiet = deviations(100), quiet_later = deviations(1e5);
  const double n = static_cast<double>(quiet.size());
  double var = 0;
  for (double x : quiet) var += x * x;
  var /= n;
  CHECK(std::abs(var - 0.5) < 4 * 0.5 * std::sqrt(2 / n));  // f s^2 / s^2, sampling error of a variance
  CHECK(correlation(quiet, quiet_later) > 0.99999);         // no fresh draw: the same devices at every instant
  CHECK(std::abs(correlation(noisy, quiet) - std::sqrt(0.5)) < 4 / std::sqrt(n));  // the noisy read shares the persistent part
  CHECK(tech.set_noiseless_reads(false));
  CHECK(deviations(100) == noisy);  // restored exactly
  hw::PcmTableConfig all = cfg;
  all.persistent_fraction = 1;
  hw::PcmTable persistent(wl, all, hw::RandomStream(13, 0));
  CHECK_FALSE(persistent.set_noiseless_reads(true));  // no fresh share to leave out
}

TEST_CASE("pcm_table: deterministic per seed, programming writes every device, set_times reads since programming",
          "[pcm_table]") {
  models::CompiledWorkload wl = workload({0.3, 0.8}, 20);
  hw::PcmTableConfig cfg;
  cfg.table = closed_form_table({0.1, 0.4, 0.7, 1.0}, table_times());
  cfg.persistent_fraction = 0.5;
  hw::PcmTable a(wl, cfg, hw::RandomStream(5, 0)), b(wl, cfg, hw::RandomStream(5, 0)), c(wl, cfg, hw::RandomStream(6, 0));
  a.set_time(3600);
  b.set_time(3600);
  c.set_time(3600);
  CHECK(weights(a, wl) == weights(b, wl));
  CHECK(weights(a, wl) != weights(c, wl));
  const int64_t n = static_cast<int64_t>(wl.layers[0].gemms[0].blocks.size());
  CHECK(a.writes() == 2 * n);        // first programming writes both devices of every pair
  CHECK(a.program_all(0) == 2 * n);  // re-programming re-writes every device (fresh noise, drift restarts)
  std::vector<float> w = a.programmed(0, 0);
  w[1] = 0.5f;  // one positive weight below its block's max
  CHECK(a.program(0, 0, w, 1000) == 2 * n);
  b.program_all(0);
  b.program(0, 0, w, 0);
  a.set_times(0, {hw::NoiseTime{0, 1000 + 3600}});  // 3600 s after a's programming at t = 1000 s
  b.set_time(3600);
  CHECK(weights(a, wl) == weights(b, wl));
  CHECK_THROWS_WITH(a.program(0, 0, std::vector<float>(3), 0), Contains("expects"));
}

TEST_CASE("pcm_table: a table measured from the aihwkit PCMLike model reproduces PcmPair's mean drift", "[pcm_table]") {
  hw::PcmLikeParams p;
  std::vector<double> times;
  for (double t = 1; t <= 1e8; t *= 10) times.push_back(t);  // decades: 1 h and 1 d are interpolated
  std::vector<hw::PcmTablePoint> pts;
  for (int i = 0; i <= 10; ++i) {
    double g = i / 10.0;
    hw::PcmCharacterization c = hw::characterize_pcm(p, g, times, 20000, 100 + static_cast<uint64_t>(i));
    for (size_t k = 0; k < times.size(); ++k)
      pts.push_back({g, times[k], c.g_mean_us[k] / p.g_max_us, c.g_std_us[k] / p.g_max_us});
  }
  hw::PcmTableConfig cfg;
  cfg.table = hw::PcmCurveTable(pts, "aihwkit");
  const std::vector<double> probe = {0.15, 0.45, 0.85};  // between the measured levels
  models::CompiledWorkload wl = workload(probe, 200);
  hw::PcmTable tab(wl, cfg, hw::RandomStream(1, 0));
  hw::PcmPair pair(wl, hw::PcmPairConfig{}, hw::RandomStream(2, 0));
  for (double t : {3600.0, 86400.0}) {
    tab.set_time(t);
    pair.set_time(t);
    auto wt = weights(tab, wl), wp = weights(pair, wl);
    for (size_t li = 0; li < probe.size(); ++li) {
      Stats st = level_stats(wt, probe.size(), li), sp = level_stats(wp, probe.size(), li);
      INFO("t = " << t << " level " << probe[li] << ": table " << st.mean << " +- " << st.std << ", PcmPair " << sp.mean << " +- "
                  << sp.std);
      CHECK(st.mean == Approx(sp.mean).epsilon(0.03));
      CHECK(st.std == Approx(sp.std).epsilon(0.05));
      CHECK(sp.mean < 0.85 * probe[li]);  // there is drift to reproduce
    }
  }
}

TEST_CASE("pcm: realised weights at t_inf = 0, 1 ms and 1 s follow aihwkit's PCMLike model (drift 1, read noise at t0)",
          "[pcm]") {
  // aihwkit applies the drift factor only for t_inf > 0 and evaluates the 1/f read noise at
  // t = t_inf + t0, so a read right after programming has the statistics of a read 1 s later (the
  // sqrt-ln factor is 4.18 vs 4.19, the drift factor 1 vs 0.998). Issue 12: drift_none's accuracy
  // at t = 0 was below that at 1 s on every seed.
  const std::vector<double> probe = {0.05, 0.3, 0.8};
  models::CompiledWorkload wl = workload(probe, 300);
  hw::PcmPair pair(wl, hw::PcmPairConfig{}, hw::RandomStream(3, 0));
  const int n = 200000;
  for (double t : {0.0, 1e-3, 1.0}) {
    pair.set_time(t);
    const auto wn = weights(pair, wl);
    const testref::MeanStd off = testref::pcm_like_read_stats(0.0, t, n, 77);
    for (size_t li = 0; li < probe.size(); ++li) {
      const testref::MeanStd on = testref::pcm_like_read_stats(probe[li], t, n, 78 + static_cast<unsigned>(li));
      const double m = on.mean - off.mean, sd = std::hypot(on.std, off.std);  // w = (g+ - g-)/g_max, independent devices
      Stats st = level_stats(wn, probe.size(), li);
      INFO("t_inf = " << t << " s, level " << probe[li] << ": PcmPair " << st.mean << " +- " << st.std << ", model " << m
                      << " +- " << sd);
      CHECK(std::abs(st.mean - m) <= 4 * sd / std::sqrt(double(st.n)) + 0.01 * m);
      CHECK(std::abs(st.std - sd) <= 0.05 * sd);
    }
  }
}

TEST_CASE("pcm_table: the shipped aihwkit table follows the PCMLike model at every level and instant, low levels too",
          "[pcm_table]") {
  // Issue 18: the table sampled levels 0, 0.1, ..., 1 only; linear interpolation below 0.1 g_max
  // underestimated the spread by 17-26 % and overestimated what remains after 30 days by up to 36 %
  // (the drift exponent and the read noise change fastest there). Every target between the
  // table's levels must read as the model (an independent Monte-Carlo of aihwkit's formulas,
  // tests/reference/pcm_like_reference.h) within 5 % plus 4 standard errors.
  const hw::PcmCurveTable tab = hw::load_pcm_table(std::string(PTC_SOURCE_DIR) + "/scenarios/pcm/table_device.csv");
  const int n = 100000;
  unsigned seed = 1;
  for (double u : {0.0025, 0.0075, 0.015, 0.02, 0.04, 0.06, 0.085, 0.25, 0.55})
    for (double t : {1.0, 3600.0, 86400.0, 2592000.0, 31536000.0}) {
      const testref::MeanStd r = testref::pcm_like_read_stats(u, t, n, seed++);
      double m = 0, sd = 0;
      tab.curves(u, t, 20.0, &m, &sd);
      const double se = r.std / std::sqrt(double(n));
      INFO("g_T = " << u << " g_max, t = " << t << " s: table " << m << " +- " << sd << ", model " << r.mean << " +- " << r.std);
      CHECK(std::abs(m - r.mean) <= 0.05 * r.mean + 4 * se);
      CHECK(std::abs(sd - r.std) <= 0.05 * r.std + 4 * se * std::sqrt(2.0));
    }
}

TEST_CASE("pcm_table: CSV and JSON tables parse - every malformed file is one error naming file, line and column",
          "[pcm_table]") {
  // columns in any order, comments, blank lines, CRLF
  hw::PcmCurveTable t = hw::parse_pcm_table_csv(
      "# my device\r\n t_s , g_target_rel,g_std_rel,g_mean_rel\r\n\r\n1,0.5,0.01,0.49\r\n1,1,0.02,0.98\r\n# end\n", "dev.csv");
  double m = 0, s = 0;
  t.curves(1.0, 1, 20, &m, &s);
  CHECK(m == 0.98);
  CHECK(s == 0.02);
  // a UTF-8 byte-order mark before the header (spreadsheet exports) is not part of the first column
  hw::PcmCurveTable bom =
      hw::parse_pcm_table_csv("\xEF\xBB\xBFg_target_rel,t_s,g_mean_rel,g_std_rel\n0.5,1,0.49,0.01\n1,1,0.98,0.02\n", "bom.csv");
  bom.curves(1.0, 1, 20, &m, &s);
  CHECK(m == 0.98);
  hw::PcmCurveTable j = hw::parse_pcm_table_json(
      R"({"g_max_us": 20, "points": [{"g_target_rel": 0.5, "t_s": 1, "g_mean_rel": 0.49, "g_std_rel": 0.01},
                                     {"g_target_rel": 1, "t_s": 1, "g_mean_rel": 0.98, "g_std_rel": 0.02}]})",
      "dev.json");
  CHECK(j.g_max_us() == 20);
  j.curves(0.75, 5, 20, &m, &s);
  CHECK(m == Approx(0.735));

  const std::string H = "g_target_rel,t_s,g_mean_rel,g_std_rel\n";
  const std::string ok2 = "1,1,0.98,0.02\n";
  // missing column
  auto e = csv_error("g_target_rel,t_s,g_mean_rel\n0.5,1,0.5\n");
  CHECK_THAT(e, Contains("dev.csv line 1, column 4") && Contains("lacks column \"g_std_rel\""));
  // unknown column (a typo)
  e = csv_error("g_target_rel,t_s,g_mean,g_std_rel\n");
  CHECK_THAT(e, Contains("dev.csv line 1, column 3") && Contains("unknown column \"g_mean\""));
  // not a number
  e = csv_error(H + ok2 + "0.5,abc,0.5,0.01\n");
  CHECK_THAT(e, Contains("dev.csv line 3, column 2 (t_s)") && Contains("\"abc\""));
  e = csv_error(H + ok2 + "0.5,1,nan,0.01\n");
  CHECK_THAT(e, Contains("dev.csv line 3, column 3 (g_mean_rel)"));
  // negative std
  e = csv_error(H + ok2 + "0.5,1,0.5,-0.01\n");
  CHECK_THAT(e, Contains("dev.csv line 3, column 4 (g_std_rel)") && Contains("[0, 1]"));
  // a table in absolute units (uS, g_max 25 uS): a mean of 12.4 is no conductance relative to g_max
  e = csv_error(H + ok2 + "0.5,1,12.4,0.3\n");
  CHECK_THAT(e, Contains("dev.csv line 3, column 3 (g_mean_rel)") && Contains("relative to g_max in [0, 2], got 12.4") &&
                    Contains("absolute units?"));
  e = csv_error(H + ok2 + "0.5,1,0.5,1.5\n");
  CHECK_THAT(e, Contains("dev.csv line 3, column 4 (g_std_rel)") && Contains("relative to g_max in [0, 1], got 1.5"));
  // t < 0
  e = csv_error(H + "0.5,-1,0.5,0.01\n" + ok2);
  CHECK_THAT(e, Contains("dev.csv line 2, column 2 (t_s)") && Contains(">= 0 s"));
  // level outside [0, 1]
  e = csv_error(H + "1.5,1,0.5,0.01\n" + ok2);
  CHECK_THAT(e, Contains("dev.csv line 2, column 1 (g_target_rel)") && Contains("[0, 1]"));
  // wrong number of fields
  e = csv_error(H + "0.5,1,0.5\n");
  CHECK_THAT(e, Contains("dev.csv line 2, column 4") && Contains("expected 4 fields, got 3"));
  // fewer than 2 levels
  e = csv_error(H + "0.5,1,0.5,0.01\n0.5,10,0.45,0.01\n");
  CHECK_THAT(e, Contains("dev.csv") && Contains("at least 2 programmed levels") && Contains("got 1"));
  // duplicate (level, t)
  e = csv_error(H + "0.5,1,0.5,0.01\n" + ok2 + "0.5,1.0,0.4,0.01\n");
  CHECK_THAT(e, Contains("dev.csv line 4") && Contains("duplicate") && Contains("first at line 2"));
  // no header at all
  e = csv_error("# only a comment\n");
  CHECK_THAT(e, Contains("dev.csv line 2") && Contains("no header"));

  // JSON: the path of the offending value stands in for line and column (the parser's line and
  // column for syntax errors)
  e = json_error("{\"points\": [\n  {\"g_target_rel\": 1,}\n]}");
  CHECK_THAT(e, Contains("dev.json: invalid JSON") && Contains("line 2, column"));
  const std::string p1 = R"({"g_target_rel": 1, "t_s": 1, "g_mean_rel": 0.98, "g_std_rel": 0.02})";
  e = json_error(R"({"points": [)" + p1 + R"(, {"g_target_rel": 0.5, "t_s": "1", "g_mean_rel": 0.5, "g_std_rel": 0.01}]})");
  CHECK_THAT(e, Contains("dev.json: points[1].t_s") && Contains("number"));
  e = json_error(R"({"points": [)" + p1 + R"(, {"g_target_rel": 0.5, "t_s": 1, "g_mean_rel": 0.5, "g_std_rel": -1}]})");
  CHECK_THAT(e, Contains("dev.json: points[1].g_std_rel") && Contains("[0, 1]"));
  e = json_error(R"({"points": [)" + p1 + R"(, {"g_target_rel": 0.5, "t_s": 1, "g_mean_rel": 0.5}]})");
  CHECK_THAT(e, Contains("dev.json: points[1].g_std_rel: required"));
  e = json_error(R"({"points": [)" + p1 + R"(, {"g_target_rel": 0.5, "t": 1, "t_s": 1, "g_mean_rel": 0.5, "g_std_rel": 0}]})");
  CHECK_THAT(e, Contains("dev.json: points[1].t: unknown key"));
  e = json_error(R"({"points": [)" + p1 + "," + p1 + "]}");
  CHECK_THAT(e, Contains("dev.json points[1]: duplicate") && Contains("first at points[0]"));
  e = json_error(R"({"point": []})");
  CHECK_THAT(e, Contains("dev.json: point: unknown key"));
  e = json_error(R"({"points": [)" + p1 + "]}");
  CHECK_THAT(e, Contains("dev.json: needs at least 2 programmed levels"));
  CHECK_THROWS_WITH(hw::load_pcm_table("/nonexistent/dev.csv"), Contains("/nonexistent/dev.csv: cannot open"));
  // the shipped table loads
  hw::PcmCurveTable shipped = hw::load_pcm_table(std::string(PTC_SOURCE_DIR) + "/scenarios/pcm/table_device.csv");
  CHECK(shipped.measured_levels().size() == 18);  // 0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.3, ..., 1
}

TEST_CASE("pcm_table: a scale tile of two blocks maps both to the tile's max|W| (docs/devices.md §2.1)",
          "[pcm_table][pcm_tiles]") {
  // Noise- and drift-free table (m = g_T, s = 0). Block 0 has max|W| 1, block 1 (all weights
  // halved) 0.5. Per block, block 1's weights fill [0, 1] (wn = 2 w); in one 16 x 8 tile its
  // largest weight sits at 0.5 g_max (wn = w) and its scale is the tile's, 1. W = wn * scale either way.
  models::CompiledWorkload wl = workload({0.3, 0.8}, 1);
  auto& t = wl.layers[0].gemms[0];
  for (size_t i = 64; i < 128; ++i) t.blocks[i] *= 0.5f;
  std::vector<hw::PcmTablePoint> pts;
  for (double g : {0.0, 0.5, 1.0})
    for (double tt : {0.0, 1e8}) pts.push_back({g, tt, g, 0.0});
  hw::PcmTableConfig cfg;
  cfg.table = hw::PcmCurveTable(pts, "flat");
  hw::PcmTable per_block(wl, cfg, hw::RandomStream(1, 0));
  cfg.scale_tile = {16, 8};
  hw::PcmTable tiled(wl, cfg, hw::RandomStream(1, 0));
  for (const hw::PcmTable* d : {&per_block, &tiled}) {
    std::vector<float> wn(t.blocks.size()), sc(2);
    d->realize(0, 0, 0, wn.data(), sc.data());
    const bool is_tiled = d == &tiled;
    CHECK(sc[0] == 1.0f);
    CHECK(sc[1] == (is_tiled ? 1.0f : 0.5f));
    CHECK(wn[64] == Approx(is_tiled ? 0.5 : 1.0).margin(1e-6));  // block 1's max
    CHECK(wn[65] == Approx(is_tiled ? 0.4 : 0.8).margin(1e-6));  // level 0.8 halved
    for (size_t i = 0; i < wn.size(); ++i) CHECK(wn[i] * sc[i / 64] == Approx(t.blocks[i]).margin(1e-6));
  }
  CHECK(tiled.scale_tiles(0, 0) == std::vector<int32_t>{0, 0});
  CHECK(per_block.scale_tiles(0, 0).empty());
}
