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

namespace {

constexpr int64_t kTile = 16;  // output columns per register tile of the fused ADC kernel

// Per-block ADC, fused (k = K): acc[p k + i, c] = sum_q scale_pq * ADC(sum_j wn_pq[i, j] x[q k + j, c])
// for all p, with the k x kTile partial sums of a block kept in registers, quantised (clip to
// +-bound, round to the step: hw/converters.h) and accumulated in q order. x and acc have row
// stride ld (a multiple of kTile, zero-padded columns).
template <int K>
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
void adc_block_gemm(int64_t P, int64_t Q, int64_t ld, const float* wn, const float* scale, const float* x, float lo,
                    float hi, float inv, float step, float* acc) {
  // Round half to even by the 1.5 * 2^23 shift: equal to nearbyint for |v| < 2^22 (bits <= 22).
  constexpr float kShift = 12582912.0f;
  for (int64_t p = 0; p < P; ++p)
    for (int64_t c0 = 0; c0 < ld; c0 += kTile) {
      float a[K][kTile] = {};
      for (int64_t q = 0; q < Q; ++q) {
        const float* w = wn + (p * Q + q) * K * K;
        const float* xq = x + q * K * ld + c0;
        float y[K][kTile] = {};
        for (int j = 0; j < K; ++j) {
          const float* xr = xq + j * ld;
          for (int i = 0; i < K; ++i) {
            const float wij = w[i * K + j];
            for (int64_t c = 0; c < kTile; ++c) y[i][c] += wij * xr[c];
          }
        }
        const float s = scale[p * Q + q];
        for (int i = 0; i < K; ++i)
          for (int64_t c = 0; c < kTile; ++c) {
            const float v = std::min(std::max(y[i][c], lo), hi) * inv;
            a[i][c] += s * (((v + kShift) - kShift) * step);
          }
      }
      for (int i = 0; i < K; ++i)
        for (int64_t c = 0; c < kTile; ++c) acc[(p * K + i) * ld + c0 + c] = a[i][c];
    }
}

}  // namespace

void HardwareGemm::gemm(int64_t layer, int64_t group, int64_t sample, const float* x, bool x_trans, int64_t n,
                        float* y, bool y_trans) {
  const models::GemmTiles& t = m_wl.layers.at(layer).gemms.at(group);
  const int64_t k = m_wl.spec.block_size, P = t.P, Q = t.Q, R = P * k, C = Q * k;
  const uint64_t draw = m_draw_base + static_cast<uint64_t>(sample);
  // Per-thread work buffers (reused across calls; sized to the largest layer seen).
  thread_local std::vector<float> wn_own, scale_own, xn, colscale, wdense, part, acc;
  const std::vector<float>* wn_p = &wn_own;
  const std::vector<float>* scale_p = &scale_own;
  if (m_cached) {
    wn_p = &m_cache_wn[layer][group];
    scale_p = &m_cache_scale[layer][group];
  } else {
    wn_own.resize(P * Q * k * k);
    scale_own.resize(P * Q);
    m_realizer.realize(layer, group, draw, wn_own.data(), scale_own.data());
  }
  const std::vector<float>& wn = *wn_p;
  const std::vector<float>& scale = *scale_p;
  const float gain = layer < static_cast<int64_t>(m_gain.size()) ? m_gain[layer] : 1.0f;
  const auto dense_weights = [&](int64_t rows) {  // wn * scale as a dense [rows, C] matrix
    wdense.resize(rows * C);
    for (int64_t p = 0; p * k < rows; ++p)
      for (int64_t q = 0; q < Q; ++q) {
        const float* b = wn.data() + (p * Q + q) * k * k;
        const float s = scale[p * Q + q];
        for (int64_t i = 0; i < k && p * k + i < rows; ++i)
          for (int64_t j = 0; j < k; ++j) wdense[(p * k + i) * C + q * k + j] = b[i * k + j] * s;
      }
  };

  if (m_io.dac.ideal() && m_io.adc.ideal()) {
    // Ideal I/O: one dense GEMM straight from x to y (the zero-padded columns and rows of the
    // tiling are left out: lda = C, K = cols, M = rows).
    dense_weights(t.rows);
    const int M = static_cast<int>(t.rows), N = static_cast<int>(n), Kd = static_cast<int>(t.cols);
    const int ldx = x_trans ? Kd : N;
    if (!y_trans)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, x_trans ? CblasTrans : CblasNoTrans, M, N, Kd, gain, wdense.data(),
                  static_cast<int>(C), x, ldx, 0.0f, y, N);
    else
      cblas_sgemm(CblasRowMajor, x_trans ? CblasNoTrans : CblasTrans, CblasTrans, N, M, Kd, gain, x, ldx, wdense.data(),
                  static_cast<int>(C), 0.0f, y, M);
    return;
  }

  // Inputs as [C, ld] (zero-padded rows and columns), abs-max normalised per vector.
  const bool fused = !m_io.adc.ideal() && m_io.adc.noise_std == 0 && m_io.adc.bits <= 22 && k == 8;
  const int64_t ld = fused ? (n + kTile - 1) / kTile * kTile : n;
  xn.assign(C * ld, 0.0f);
  for (int64_t i = 0; i < t.cols; ++i)
    for (int64_t j = 0; j < n; ++j) xn[i * ld + j] = x_trans ? x[j * t.cols + i] : x[i * n + j];
  colscale.assign(ld, 0.0f);
  for (int64_t i = 0; i < C; ++i)
    for (int64_t j = 0; j < n; ++j) colscale[j] = std::max(colscale[j], std::abs(xn[i * ld + j]));
  for (int64_t i = 0; i < C; ++i)
    for (int64_t j = 0; j < n; ++j) xn[i * ld + j] = colscale[j] > 0 ? xn[i * ld + j] / colscale[j] : 0.0f;
  RandomStream dac_rng = m_rng.derive(draw).derive(static_cast<uint64_t>(layer) << 20 | static_cast<uint64_t>(group)).derive(0);
  if (ld == n) {
    convert(m_io.dac, xn.data(), C * n, dac_rng, 0);
  } else {  // the DAC's noise indices are those of the unpadded [C, n] layout
    for (int64_t i = 0; i < C; ++i) convert(m_io.dac, xn.data() + i * ld, n, dac_rng, static_cast<uint64_t>(i * n));
  }

  acc.assign(R * ld, 0.0f);
  if (m_io.adc.ideal()) {
    // One dense GEMM with the effective weights (identical to summing block partials exactly).
    dense_weights(R);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(R), static_cast<int>(n), static_cast<int>(C),
                1.0f, wdense.data(), static_cast<int>(C), xn.data(), static_cast<int>(ld), 0.0f, acc.data(),
                static_cast<int>(ld));
  } else if (fused) {
    const ConverterSpec& a = m_io.adc;
    const float st = static_cast<float>(a.step());
    adc_block_gemm<8>(P, Q, ld, wn.data(), scale.data(), xn.data(), static_cast<float>(-a.bound),
                      static_cast<float>(a.bound), 1.0f / st, st, acc.data());
  } else {
    // Per block column q: partial sums of all P blocks at once, then the ADC, then accumulate.
    wdense.resize(R * k);
    part.resize(R * n);
    RandomStream adc_rng = m_rng.derive(draw).derive(static_cast<uint64_t>(layer) << 20 | static_cast<uint64_t>(group)).derive(1);
    for (int64_t q = 0; q < Q; ++q) {
      for (int64_t p = 0; p < P; ++p)
        std::copy(wn.data() + (p * Q + q) * k * k, wn.data() + (p * Q + q + 1) * k * k, wdense.data() + p * k * k);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(R), static_cast<int>(n),
                  static_cast<int>(k), 1.0f, wdense.data(), static_cast<int>(k), xn.data() + q * k * ld,
                  static_cast<int>(ld), 0.0f, part.data(), static_cast<int>(n));
      convert(m_io.adc, part.data(), R * n, adc_rng, static_cast<uint64_t>(q) * static_cast<uint64_t>(R * n));
      for (int64_t p = 0; p < P; ++p) {
        float s = scale[p * Q + q];
        float* a = acc.data() + p * k * ld;
        const float* pp = part.data() + p * k * n;
        for (int64_t i = 0; i < k; ++i)
          for (int64_t j = 0; j < n; ++j) a[i * ld + j] += s * pp[i * n + j];
      }
    }
  }
  for (int64_t r = 0; r < t.rows; ++r)
    for (int64_t j = 0; j < n; ++j) {
      float v = acc[r * ld + j] * colscale[j] * gain;
      if (y_trans) y[j * t.rows + r] = v; else y[r * n + j] = v;
    }
}

void HardwareGemm::prepare_batch() {
  m_cached = m_realizer.shared_across_draws();
  if (!m_cached) return;
  m_cache_wn.resize(m_wl.layers.size());
  m_cache_scale.resize(m_wl.layers.size());
  for (size_t l = 0; l < m_wl.layers.size(); ++l) {
    m_cache_wn[l].resize(m_wl.layers[l].gemms.size());
    m_cache_scale[l].resize(m_wl.layers[l].gemms.size());
    for (size_t g = 0; g < m_wl.layers[l].gemms.size(); ++g) {
      const auto& t = m_wl.layers[l].gemms[g];
      m_cache_wn[l][g].resize(t.blocks.size());
      m_cache_scale[l][g].resize(static_cast<size_t>(t.P * t.Q));
      m_realizer.realize(static_cast<int64_t>(l), static_cast<int64_t>(g), m_draw_base, m_cache_wn[l][g].data(),
                         m_cache_scale[l][g].data());
    }
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
