// Which random read draws a PCM read takes (hw::NoiseTime::draw_t_s, docs/pcm_drift_compensation.md
// §2): aihwkit's drift_analog_weights(t) draws the read noise once, and the compensation readout
// and every forward pass after it see that one realisation. A read at t_s with draw instant T takes
// the read noise of instant T (and drifts at t_s); without one it takes the noise of t_s itself.
// Independent expectations: a read 24.3 us late keyed to T equals the read at T up to the closed-form
// change of drift and read-noise amplitude over 24.3 us (below 1e-6 relative); a read of its own
// instant takes another draw (percents); a table constant in time reads bit for bit the same.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "hw/device/pcm_pair.h"
#include "hw/device/pcm_table.h"
#include "models/compiler.h"
#include "models/onnx_import.h"

using namespace ptc;
using namespace ptc::hw;

namespace {
const std::string kZoo = std::string(PTC_SOURCE_DIR) + "/models/zoo/";

std::vector<float> read_at(Technology& t, const models::GemmTiles& g, const NoiseTime& when) {
  t.set_times(0, {when});
  std::vector<float> w(g.blocks.size()), s(static_cast<size_t>(g.P * g.Q));
  t.realize(0, 0, 0, w.data(), s.data());
  return w;
}
}  // namespace

TEST_CASE("PCM read draws: a read keyed to the scheduled instant takes that instant's read noise", "[pcm_read_draws]") {
  models::Graph g = models::import_onnx(kZoo + "cnn3_fmnist.onnx");
  models::CompiledWorkload wl = models::compile(g, models::TilingSpec{4, 4, 8, "cyclic"});
  const models::GemmTiles& t = wl.layers[0].gemms[0];
  const double T = 3600.0, late = T + 24.3e-6;
  // Largest relative difference of two reads (weights below 1e-3 of full scale compared absolutely).
  auto rel = [](const std::vector<float>& a, const std::vector<float>& b) {
    double worst = 0;
    for (size_t j = 0; j < a.size(); ++j)
      worst = std::max(worst, static_cast<double>(std::abs(a[j] - b[j])) / std::max(1e-3f, std::abs(b[j])));
    return worst;
  };
  {
    PcmPairConfig cfg;
    cfg.drift = false;  // read noise only; its amplitude grows as sqrt(ln(t)): 1e-11 relative over 24.3 us
    PcmPair pcm(wl, cfg, RandomStream(7, 0));
    const std::vector<float> at_T = read_at(pcm, t, NoiseTime{0, T});
    CHECK(rel(read_at(pcm, t, NoiseTime{0, late, T}), at_T) < 1e-6);  // the scheduled instant's realisation
    CHECK(rel(read_at(pcm, t, NoiseTime{0, late}), at_T) > 1e-2);     // a read of its own: another draw
    CHECK(read_at(pcm, t, NoiseTime{0, T}) == at_T);                  // reads are a pure function of the instant
  }
  {
    PcmPairConfig cfg;  // aihwkit PCMLike with drift: g(t) = g_prog ((t + t0) / t0)^-nu per device
    PcmPair pcm(wl, cfg, RandomStream(7, 0));
    const std::vector<float> at_T = read_at(pcm, t, NoiseTime{0, T});
    // Drift over 24.3 us at t = 1 h: ((late + t0) / (T + t0))^-nu is within 1e-9 of 1 for nu <= 0.1,
    // so the keyed read equals the read at T up to float rounding; another draw moves weights by percents.
    CHECK(rel(read_at(pcm, t, NoiseTime{0, late, T}), at_T) < 1e-6);
    CHECK(rel(read_at(pcm, t, NoiseTime{0, late}), at_T) > 1e-2);
  }
  {
    // pcm_table: a table constant in time (no drift), all of its variance drawn per read.
    PcmTableConfig cfg;
    cfg.table = PcmCurveTable({{0.5, 1, 0.5, 0.02}, {1.0, 1, 1.0, 0.02}}, "clip");
    cfg.persistent_fraction = 0.0;
    PcmTable tab(wl, cfg, RandomStream(7, 0));
    const std::vector<float> at_T = read_at(tab, t, NoiseTime{0, T});
    CHECK(read_at(tab, t, NoiseTime{0, late, T}) == at_T);
    CHECK(read_at(tab, t, NoiseTime{0, late}) != at_T);
  }
}
