// Backward products of on-chip training on the chip's arithmetic; see training_gemm.h.
#include "hw/training_gemm.h"

#include "hw/device/technology.h"

#include <algorithm>
#include <cmath>

#include "models/error.h"

namespace ptc::hw {

namespace {
RnsPlacement uniform_placement(const rns::RnsTile& tile, const std::vector<double>& sigma) {
  const int ch = tile.code().n() + tile.code().k();
  if (static_cast<int>(sigma.size()) != ch) throw Error("ChipBackwardGemm: expected one phase-noise std per modulus channel");
  RnsPlacement p;
  p.offset_rad.assign(static_cast<size_t>(tile.h() * ch), 0.0);
  for (int64_t i = 0; i < tile.h(); ++i)
    for (int c = 0; c < ch; ++c) p.std_rad.push_back(sigma[static_cast<size_t>(c)]);
  return p;
}
}  // namespace

ChipBackwardGemm::ChipBackwardGemm(const rns::RnsTile& tile, std::vector<double> sigma_phi_rad, const RandomStream& stream)
    : ChipBackwardGemm(tile, uniform_placement(tile, sigma_phi_rad), stream) {}

ChipBackwardGemm::ChipBackwardGemm(const rns::RnsTile& tile, RnsPlacement placement, const RandomStream& stream)
    : m_tile(&tile), m_place(std::move(placement)), m_h(tile.h()), m_stream(stream) {
  const int64_t per_core = m_h * (tile.code().n() + tile.code().k());
  if (m_place.rows < 1 || m_place.cols < 1 || static_cast<int64_t>(m_place.offset_rad.size()) != m_place.cores() * per_core ||
      m_place.std_rad.size() != m_place.offset_rad.size())
    throw Error("ChipBackwardGemm: expected an offset and a std per core, row and modulus channel");
  for (int64_t X = 0; X < m_place.cores(); ++X)
    m_full.emplace_back(tile.code(), m_h, m_place.offset_rad.data() + X * per_core, m_place.std_rad.data() + X * per_core);
  m_obs.reads.assign(static_cast<size_t>(m_place.cores() * m_h * m_h), 0);
  m_obs.corrected = m_obs.reads;
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

RingObservations ChipBackwardGemm::ring_observations() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_obs;
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
    // Row blocks of h (the last may be short) on the cores by the forward's cyclic mapping; block (n, p, q)
    // draws from base ((n P + p) Q + q)(1 + 2 h ch) (rns/block_reads.h).
    const rns::RrnsCode& code = m_tile->code();
    const int ch = code.n() + code.k();
    const int64_t P = (M + h - 1) / h, last = M - (P - 1) * h, per_core = h * ch;
    const uint64_t stride = static_cast<uint64_t>(1 + 2 * per_core);
    std::vector<rns::BlockLaws> short_laws;  // per core: the laws of the last block's rows when it is short
    if (last < h)
      for (int64_t X = 0; X < m_place.cores(); ++X)
        short_laws.emplace_back(code, last, m_place.offset_rad.data() + X * per_core, m_place.std_rad.data() + X * per_core);
    std::vector<int64_t> shifts(static_cast<size_t>(per_core));
    // Per core row [cores, h]: reads of the row (one per block read, plus retries); per ring
    // [cores, h, h]: residues corrected on it (the layout of RnsCore::ring_observations).
    const int64_t hh = h * h;
    std::vector<int64_t> row_reads(static_cast<size_t>(m_place.cores() * h), 0), corrected;
    // BFP of op(A)'s rows and op(B)'s columns along K, h-segments zero-padded, one exponent per
    // group of group_tiles segments (RnsTile::quantize_*_segments): [row or column][segment].
    std::vector<rns::BfpVector> qa, qb;
    std::vector<float> line(static_cast<size_t>(Q * h));
    for (int64_t m = 0; m < M; ++m) {
      std::fill(line.begin(), line.end(), 0.0f);
      for (int64_t j = 0; j < K; ++j) line[j] = a_at(m, j);
      for (auto& v : m_tile->quantize_weight_segments(line.data(), Q)) qa.push_back(std::move(v));
    }
    for (int64_t n = 0; n < N; ++n) {
      std::fill(line.begin(), line.end(), 0.0f);
      for (int64_t j = 0; j < K; ++j) line[j] = b_at(j, n);
      for (auto& v : m_tile->quantize_input_segments(line.data(), Q)) qb.push_back(std::move(v));
    }
    for (int64_t q = 0; q < Q; ++q) {
      for (int64_t n = 0; n < N; ++n) {
        const rns::BfpVector& xq = qb[static_cast<size_t>(n * Q + q)];
        for (int64_t p = 0; p < P; ++p) {
          const int64_t X = (p % m_place.rows) * m_place.cols + q % m_place.cols, rows = p + 1 < P ? h : last;
          const rns::BlockLaws& L = rows < h ? short_laws[static_cast<size_t>(X)] : m_full[static_cast<size_t>(X)];
          const uint64_t base = static_cast<uint64_t>((n * P + p) * Q + q) * stride;
          const bool any = L.draw(s, base, shifts.data());
          for (int64_t i = 0; i < rows; ++i) {
            const int64_t m = p * h + i;
            const rns::BfpVector& wq = qa[static_cast<size_t>(m * Q + q)];
            const int32_t* wr = wq.mantissa.data();
            int64_t d = 0;
            for (int64_t j = 0; j < h; ++j) d += int64_t{xq.mantissa[j]} * wr[j];
            const rns::WordOutcome o =
                L.decode(code, m_tile->spec_max_retries(), d, any ? shifts.data() + i * ch : nullptr, s, base, i, local);
            row_reads[static_cast<size_t>(X * h + i)] += 1 + o.retries;
            if (o.corrected_mask) {
              if (corrected.empty()) corrected.assign(static_cast<size_t>(m_place.cores() * hh), 0);
              for (int c = 0; c < ch; ++c)
                if (o.corrected_mask >> c & 1) ++corrected[static_cast<size_t>(X * hh + i * h + (c % h))];
            }
            acc[m * N + n] += rns::ldexp_exact(static_cast<double>(o.value), xq.exponent[0] + wq.exponent[0]);
          }
        }
      }
    }
    std::lock_guard<std::mutex> lock(m_mutex);
    for (size_t r = 0; r < m_obs.reads.size(); ++r) m_obs.reads[r] += row_reads[r / static_cast<size_t>(h)];
    for (size_t r = 0; r < corrected.size(); ++r) m_obs.corrected[r] += corrected[r];
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
