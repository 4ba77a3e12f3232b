// Shared by the PCM pair tests (test_pcm_npair.cpp, test_pcm_gmin.cpp): CNN3's second layer on
// 4 x 4 cores of 8 x 8 blocks, its read-out, and the moments of one programmed device. Every
// device is programmed as aihwkit's PCMLike does, max(0, g_T + sigma_prog(g_T) xi) (Joshi et al.,
// Nat. Commun. 2020, Methods), so its mean and variance are those of a rectified normal.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "hw/device/pcm_pair.h"
#include "models/compiler.h"
#include "models/onnx_import.h"

namespace ptc::test_pcm {

inline const std::string kZoo = std::string(PTC_SOURCE_DIR) + "/models/zoo/";

struct Layer {
  models::CompiledWorkload wl;
  Layer() : wl(models::compile(models::import_onnx(kZoo + "cnn3_fmnist.onnx"), models::TilingSpec{4, 4, 8, "cyclic"})) {}
  const models::GemmTiles& t() const { return wl.layers[1].gemms[0]; }
};

inline void read(hw::Technology& pcm, const models::GemmTiles& t, std::vector<float>& w, std::vector<float>& s) {
  w.assign(t.blocks.size(), 0.0f);
  s.assign(static_cast<size_t>(t.P * t.Q), 0.0f);
  pcm.realize(1, 0, 0, w.data(), s.data());
}

// E[X] and E[X^2] of X = max(0, m + sd xi), xi standard normal.
inline void rectified(double m, double sd, double& e1, double& e2) {
  if (sd <= 0) {
    e1 = std::max(m, 0.0);
    e2 = e1 * e1;
    return;
  }
  const double a = m / sd, pdf = std::exp(-0.5 * a * a) / std::sqrt(2 * std::acos(-1.0)),
               cdf = 0.5 * std::erfc(-a / std::sqrt(2.0));
  e1 = m * cdf + sd * pdf;
  e2 = (m * m + sd * sd) * cdf + m * sd * pdf;
}

}  // namespace ptc::test_pcm
