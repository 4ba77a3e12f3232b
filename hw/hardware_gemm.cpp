#include "hw/hardware_gemm.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "models/error.h"

namespace ptc::hw {

HardwareGemm::HardwareGemm(const models::CompiledWorkload& wl, const BlockRealizer& realizer, const IoSpec& io,
                           const RandomStream& rng)
    : m_wl(wl), m_realizer(realizer), m_io(io), m_rng(rng) {
  if (io.dac.bits < 0 || io.dac.bits > 24 || io.adc.bits < 0 || io.adc.bits > 24)
    throw Error("converter bits must be in [0, 24] (0 = ideal)");
  if (!(io.dac.bound > 0) || !(io.adc.bound > 0)) throw Error("converter bounds must be > 0");
}

void HardwareGemm::gemm(int64_t layer, int64_t group, int64_t sample, const float* x, bool x_trans, int64_t n,
                        float* y, bool y_trans) {
  const models::GemmTiles& t = m_wl.layers.at(layer).gemms.at(group);
  const int64_t k = m_wl.spec.block_size, P = t.P, Q = t.Q, R = P * k, C = Q * k;
  const uint64_t draw = m_draw_base + static_cast<uint64_t>(sample);
  // Per-thread work buffers (reused across calls; sized to the largest layer seen).
  thread_local std::vector<float> wn, scale, xn, colscale, wdense, part, acc;
  wn.resize(P * Q * k * k);
  scale.resize(P * Q);
  m_realizer.realize(layer, group, draw, wn.data(), scale.data());

  // Inputs as [C, n] (zero-padded rows), abs-max normalised per vector unless all I/O is ideal.
  xn.assign(C * n, 0.0f);
  for (int64_t i = 0; i < t.cols; ++i)
    for (int64_t j = 0; j < n; ++j) xn[i * n + j] = x_trans ? x[j * t.cols + i] : x[i * n + j];
  const bool io_ideal = m_io.dac.ideal() && m_io.adc.ideal();
  colscale.assign(n, 1.0f);
  if (!io_ideal) {
    std::fill(colscale.begin(), colscale.end(), 0.0f);
    for (int64_t i = 0; i < C; ++i)
      for (int64_t j = 0; j < n; ++j) colscale[j] = std::max(colscale[j], std::abs(xn[i * n + j]));
    for (int64_t i = 0; i < C; ++i)
      for (int64_t j = 0; j < n; ++j) xn[i * n + j] = colscale[j] > 0 ? xn[i * n + j] / colscale[j] : 0.0f;
    RandomStream dac_rng = m_rng.derive(draw).derive(static_cast<uint64_t>(layer) << 20 | static_cast<uint64_t>(group)).derive(0);
    convert(m_io.dac, xn.data(), C * n, dac_rng, 0);
  }

  acc.assign(R * n, 0.0f);
  if (m_io.adc.ideal()) {
    // One dense GEMM with the effective weights (identical to summing block partials exactly).
    wdense.resize(R * C);
    for (int64_t p = 0; p < P; ++p)
      for (int64_t q = 0; q < Q; ++q) {
        const float* b = wn.data() + (p * Q + q) * k * k;
        float s = scale[p * Q + q];
        for (int64_t i = 0; i < k; ++i)
          for (int64_t j = 0; j < k; ++j) wdense[(p * k + i) * C + q * k + j] = b[i * k + j] * s;
      }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(R), static_cast<int>(n), static_cast<int>(C),
                1.0f, wdense.data(), static_cast<int>(C), xn.data(), static_cast<int>(n), 0.0f, acc.data(),
                static_cast<int>(n));
  } else {
    // Per block column q: partial sums of all P blocks at once, then the ADC, then accumulate.
    wdense.resize(R * k);
    part.resize(R * n);
    RandomStream adc_rng = m_rng.derive(draw).derive(static_cast<uint64_t>(layer) << 20 | static_cast<uint64_t>(group)).derive(1);
    for (int64_t q = 0; q < Q; ++q) {
      for (int64_t p = 0; p < P; ++p)
        std::copy(wn.data() + (p * Q + q) * k * k, wn.data() + (p * Q + q + 1) * k * k, wdense.data() + p * k * k);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(R), static_cast<int>(n),
                  static_cast<int>(k), 1.0f, wdense.data(), static_cast<int>(k), xn.data() + q * k * n,
                  static_cast<int>(n), 0.0f, part.data(), static_cast<int>(n));
      convert(m_io.adc, part.data(), R * n, adc_rng, static_cast<uint64_t>(q) * static_cast<uint64_t>(R * n));
      for (int64_t p = 0; p < P; ++p) {
        float s = scale[p * Q + q];
        float* a = acc.data() + p * k * n;
        const float* pp = part.data() + p * k * n;
        for (int64_t i = 0; i < k * n; ++i) a[i] += s * pp[i];
      }
    }
  }
  const float gain = layer < static_cast<int64_t>(m_gain.size()) ? m_gain[layer] : 1.0f;
  for (int64_t r = 0; r < t.rows; ++r)
    for (int64_t j = 0; j < n; ++j) {
      float v = acc[r * n + j] * colscale[j] * gain;
      if (y_trans) y[j * t.rows + r] = v; else y[r * n + j] = v;
    }
}

void HardwareGemm::set_gain(int64_t layer, double alpha) {
  if (layer < 0 || layer >= static_cast<int64_t>(m_wl.layers.size()) || !std::isfinite(alpha))
    throw Error("output gain: bad layer or value");
  if (m_gain.empty()) m_gain.assign(m_wl.layers.size(), 1.0f);
  m_gain[layer] = static_cast<float>(alpha);
}

double HardwareGemm::gain(int64_t layer) const {
  return layer < static_cast<int64_t>(m_gain.size()) ? m_gain[layer] : 1.0;
}

void IdealRealizer::realize(int64_t layer, int64_t group, uint64_t, float* wn, float* scale) const {
  const models::GemmTiles& t = m_wl.layers.at(layer).gemms.at(group);
  const int64_t kk = m_wl.spec.block_size * m_wl.spec.block_size;
  for (int64_t b = 0; b < t.P * t.Q; ++b) {
    const float* w = t.blocks.data() + b * kk;
    float mx = 0;
    for (int64_t i = 0; i < kk; ++i) mx = std::max(mx, std::abs(w[i]));
    scale[b] = mx;
    for (int64_t i = 0; i < kk; ++i) wn[b * kk + i] = mx > 0 ? w[i] / mx : 0.0f;
  }
}

}  // namespace ptc::hw
