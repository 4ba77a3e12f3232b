// Backward products of on-chip training on the chip's arithmetic; see training_gemm.h.
#include "hw/training_gemm.h"

#include "hw/device/technology.h"

#include <algorithm>
#include <cmath>

#include "models/error.h"

namespace ptc::hw {

ChipBackwardGemm::ChipBackwardGemm(const rns::RnsTile& tile, std::vector<double> sigma_phi_rad, const RandomStream& stream)
    : m_tile(&tile), m_sigma(std::move(sigma_phi_rad)), m_h(tile.h()), m_stream(stream) {
  if (static_cast<int>(m_sigma.size()) != tile.code().n() + tile.code().k())
    throw Error("ChipBackwardGemm: expected one phase-noise std per modulus channel");
}

ChipBackwardGemm::ChipBackwardGemm(const IoSpec& io, int64_t h, const RandomStream& stream) : m_io(io), m_h(h), m_stream(stream) {
  if (h < 1) throw Error("ChipBackwardGemm: segment length must be >= 1");
}

rns::RrnsCounters ChipBackwardGemm::counters() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_counters;
}

int64_t ChipBackwardGemm::reads() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_reads;
}

void ChipBackwardGemm::gemm(const models::BackwardSite& at, bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                            const float* A, int lda, const float* B, int ldb, float beta, float* C, int ldc) {
  const int64_t h = m_h, Q = K > 0 ? (K + h - 1) / h : 0;
  const RandomStream s = m_stream.derive(static_cast<uint64_t>(at.layer))
                             .derive(static_cast<uint64_t>(at.pass == models::GemmPass::input_gradient ? 0 : 1))
                             .derive(at.site);
  auto a_at = [&](int64_t m, int64_t k) { return trans_a ? A[k * lda + m] : A[m * lda + k]; };
  auto b_at = [&](int64_t k, int64_t n) { return trans_b ? B[n * ldb + k] : B[k * ldb + n]; };
  std::vector<double> acc(static_cast<size_t>(M) * static_cast<size_t>(N), 0.0);
  std::vector<float> seg(static_cast<size_t>(M * h)), x(static_cast<size_t>(h)), part(static_cast<size_t>(M));
  rns::RrnsCounters local;
  if (m_tile) {
    const uint64_t stride = m_tile->words_stride();
    for (int64_t q = 0; q < Q; ++q) {
      const int64_t k0 = q * h, len = std::min<int64_t>(h, K - k0);
      std::fill(seg.begin(), seg.end(), 0.0f);
      for (int64_t m = 0; m < M; ++m)
        for (int64_t j = 0; j < len; ++j) seg[m * h + j] = a_at(m, k0 + j);
      const rns::RnsTile::Weights w = m_tile->quantize_weights(seg.data(), M);
      for (int64_t n = 0; n < N; ++n) {
        std::fill(x.begin(), x.end(), 0.0f);
        for (int64_t j = 0; j < len; ++j) x[j] = b_at(k0 + j, n);
        const uint64_t first = static_cast<uint64_t>((n * Q + q) * M) * stride;
        m_tile->matvec(w, x.data(), m_sigma, s, first, part.data(), local);
        for (int64_t m = 0; m < M; ++m) acc[m * N + n] += part[m];
      }
    }
  } else {
    const ConverterSpec &dac = m_io.dac, &adc = m_io.adc;
    const RandomStream sa = s.derive(0), sb = s.derive(1), sy = s.derive(2);
    std::vector<float> ra(static_cast<size_t>(M));
    for (int64_t q = 0; q < Q; ++q) {
      const int64_t k0 = q * h, len = std::min<int64_t>(h, K - k0);
      std::fill(seg.begin(), seg.end(), 0.0f);
      for (int64_t m = 0; m < M; ++m) {
        float mx = 0.0f;
        for (int64_t j = 0; j < len; ++j) mx = std::max(mx, std::abs(seg[m * h + j] = a_at(m, k0 + j)));
        ra[m] = mx;
        if (mx > 0)
          for (int64_t j = 0; j < len; ++j) seg[m * h + j] /= mx;
      }
      convert(dac, seg.data(), M * h, sa, static_cast<uint64_t>(q * M * h));
      for (int64_t n = 0; n < N; ++n) {
        float rb = 0.0f;
        std::fill(x.begin(), x.end(), 0.0f);
        for (int64_t j = 0; j < len; ++j) rb = std::max(rb, std::abs(x[j] = b_at(k0 + j, n)));
        if (!(rb > 0)) continue;  // an all-zero segment reads exactly 0 (abs-max, as the forward's)
        for (int64_t j = 0; j < len; ++j) x[j] /= rb;
        const uint64_t first = static_cast<uint64_t>(n * Q + q);
        convert(dac, x.data(), h, sb, first * static_cast<uint64_t>(h));
        for (int64_t m = 0; m < M; ++m) {
          float y = 0.0f;
          for (int64_t j = 0; j < len; ++j) y += seg[m * h + j] * x[j];  // the padding is not an input
          part[m] = y;
        }
        convert(adc, part.data(), M, sy, first * static_cast<uint64_t>(M));
        for (int64_t m = 0; m < M; ++m)
          if (ra[m] > 0) acc[m * N + n] += static_cast<double>(part[m]) * ra[m] * rb;
      }
    }
  }
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      float& c = C[m * ldc + n];
      const float v = alpha * static_cast<float>(acc[m * N + n]);
      c = beta == 0.0f ? v : beta * c + v;
    }
  std::lock_guard<std::mutex> lock(m_mutex);
  m_counters += local;
  m_reads += static_cast<int64_t>(M) * N * Q;
}

std::unique_ptr<ChipBackwardGemm> Technology::backward_gemm(const RandomStream&) const {
  return nullptr;
}

}  // namespace ptc::hw
