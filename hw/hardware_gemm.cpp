#include "hw/hardware_gemm.h"

#include <cblas.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "hw/physics/normal16.h"
#include "hw/physics/vec_math.h"
#include "models/error.h"

namespace ptc::hw {

HardwareGemm::HardwareGemm(const models::CompiledWorkload& wl, const BlockRealizer& realizer, const IoSpec& io,
                           const RandomStream& rng)
    : m_wl(wl), m_realizer(realizer), m_io(io), m_adc_edge(io.adc.clip_edge()), m_rng(rng) {
  if (io.dac.bits < 0 || io.dac.bits > 24 || io.adc.bits < 0 || io.adc.bits > 24)
    throw Error("converter bits must be in [0, 24] (0 = ideal)");
  if (!(io.dac.bound > 0) || !(io.adc.bound > 0)) throw Error("converter bounds must be > 0");
}

namespace {

constexpr int64_t kTile = 16;  // columns per packed input panel (one AVX-512 register of floats)

// Kernel paths: vmath::use_avx512(), else vmath::use_avx2(), else the portable loops
// (PTC_NO_AVX512 / PTC_NO_AVX2 in the environment; all paths give the same bits).

// Converter noise: every bulk draw starts at a multiple of the generator's chunk (n rounded up),
// so no chunk is ever generated for part of its numbers only.
constexpr int64_t chunked(int64_t n) {
  return (n + RandomStream::kNormalInvChunk - 1) / RandomStream::kNormalInvChunk * RandomStream::kNormalInvChunk;
}

// Round half to even by the 1.5 * 2^23 shift: equal to nearbyint (default rounding mode) for
// |v| < 2^22, i.e. for converters of <= 22 bits. The ADC kernels compute fma(y, 1 / step, shift),
// i.e. they round the exact scaled partial sum (quantize() rounds the float product first: the
// two differ only when that product's rounding crosses a half level).
constexpr float kShift = 12582912.0f;

// Per-block ADC, fused (k = 8), on one packed input panel xp = [C, kTile] (kTile input columns,
// zero-padded rows); for every row block p
//   acc[p k + i, c] = sum_q sstep_pq * round(clip(sum_j wn_pq[i, j] xp[q k + j, c]) / step),
// i.e. sum_q scale_pq * ADC(partial sum) with sstep = scale * step (hw/converters.h: clip to
// [lo, hi], round half to even to the step; inv = 1 / step), the k x kTile partial sums of a
// block in registers, accumulated in q order. clip = false when no partial sum can leave
// [lo - step / 2, hi + step / 2] (then clipping changes no rounded value). acc has row stride ld.
// Both variants do the same float operations in the same order (the portable one fuses the
// multiply-adds where the target has FMA, giving the same bits as the AVX-512 one).
// ADC output noise (nz != nullptr): sigma * nz[(q k + i) kTile + c] is added to each partial sum
// before the clip (one row block at a time: P = 1); nz holds the row block's 16-bit normals
// (hw/physics/normal16.h: row i of block column q is step 4 q + i / 2, low half for even i).
// Bound management (hits != nullptr, clip = true): a panel column whose partial sums in block
// (p, q) leave [lo, hi] in a real row (p k + i < rows) adds nothing for that block; bit c of
// hits[p Q + q] marks it for recomputation (HardwareGemm::bound_fix). The callers then pass
// hi = -lo = the ADC's clip edge (ConverterSpec::clip_edge), so a column is marked when a partial
// sum converts past the bound, as aihwkit tests; a kept value is the same as clipped to the bound
// (up to the edge, a partial sum rounds to the bound's level).
__attribute__((target_clones("arch=x86-64-v3", "default"))) void adc_block_gemm_portable(
    int64_t P, int64_t Q, int64_t ld, const float* wn, const float* sstep, const float* xp, float lo, float hi, float inv,
    bool clip, float* acc, const float* nz, float sigma, int64_t rows, uint16_t* hits) {
  constexpr int K = 8;
  for (int64_t p = 0; p < P; ++p) {
    float a[K][kTile];
    for (int i = 0; i < K; ++i)
      for (int64_t c = 0; c < kTile; ++c) a[i][c] = 0.0f;
    for (int64_t q = 0; q < Q; ++q) {
      const float* w = wn + (p * Q + q) * K * K;
      const float* xq = xp + q * K * kTile;
      float y[K][kTile];
      for (int i = 0; i < K; ++i)
        for (int64_t c = 0; c < kTile; ++c) y[i][c] = 0.0f;
      for (int j = 0; j < K; ++j)
        for (int i = 0; i < K; ++i) {
          const float wij = w[i * K + j];
          for (int64_t c = 0; c < kTile; ++c) y[i][c] += wij * xq[j * kTile + c];
        }
      const float* s = sstep + (p * Q + q) * K;
      if (nz)
        for (int i = 0; i < K; ++i)
          for (int64_t c = 0; c < kTile; ++c) y[i][c] = std::fma(nz[(q * K + i) * kTile + c], sigma, y[i][c]);
      uint16_t hit = 0;
      if (hits) {
        for (int i = 0; i < K && p * K + i < rows; ++i)
          for (int64_t c = 0; c < kTile; ++c)
            if (y[i][c] < lo || y[i][c] > hi) hit = static_cast<uint16_t>(hit | 1u << c);
        hits[p * Q + q] = hit;
      }
      for (int i = 0; i < K; ++i)
        for (int64_t c = 0; c < kTile; ++c) {
          const float v = clip ? std::min(std::max(y[i][c], lo), hi) : y[i][c];
          if (!((hit >> c) & 1u)) a[i][c] += ((v * inv + kShift) - kShift) * s[i];
        }
    }
    for (int i = 0; i < K; ++i)
      for (int64_t c = 0; c < kTile; ++c) acc[(p * K + i) * ld + c] = a[i][c];
  }
}

// Element-wise steps of the general per-block route, cloned for x86-64-v3 so that std::fma and
// std::sqrt become vector instructions instead of libm calls (the same correctly rounded results).
// DAC of one input row: v = x rscale (+ sigma nz), to `out` (quantised by the caller).
__attribute__((target_clones("arch=x86-64-v3", "default"))) void dac_row(const float* x, int64_t xstride, const float* rscale,
                                                                         const float* nz, float sigma, int64_t n, float* out) {
  if (nz)
    for (int64_t j = 0; j < n; ++j) out[j] = std::fma(nz[j], sigma, x[j * xstride] * rscale[j]);
  else
    for (int64_t j = 0; j < n; ++j) out[j] = x[j * xstride] * rscale[j];
}
// y[e] = fma(nz[e], sigma, y[e])
__attribute__((target_clones("arch=x86-64-v3", "default"))) void add_noise(float* y, const float* nz, float sigma, int64_t n) {
  for (int64_t e = 0; e < n; ++e) y[e] = std::fma(nz[e], sigma, y[e]);
}
// y[e] = fma(nz[e], w sqrt(var[e]), y[e]) (pcm_read weight noise)
__attribute__((target_clones("arch=x86-64-v3", "default"))) void add_noise_sqrt(float* y, const float* nz, float w,
                                                                                const float* var, int64_t n) {
  for (int64_t e = 0; e < n; ++e) y[e] = std::fma(nz[e], w * std::sqrt(var[e]), y[e]);
}
// y[r n + j] = fma(nz[r n + j], sig[j], y[r n + j]) (additive_constant weight noise)
__attribute__((target_clones("arch=x86-64-v3", "default"))) void add_noise_cols(float* y, const float* nz, const float* sig,
                                                                                int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < n; ++j) y[r * n + j] = std::fma(nz[r * n + j], sig[j], y[r * n + j]);
}
// sq[j] = fma(x[c ld + j], x[c ld + j], sq[j]) over c (column norms squared, rows in order)
__attribute__((target_clones("arch=x86-64-v3", "default"))) void col_sumsq(const float* x, int64_t ld, int64_t k, int64_t n,
                                                                           float* sq) {
  for (int64_t c = 0; c < k; ++c)
    for (int64_t j = 0; j < n; ++j) sq[j] = std::fma(x[c * ld + j], x[c * ld + j], sq[j]);
}

// The rest of the general route for one block column, from the partial sums `part` [R, n] to the
// accumulator: weight noise (wnz: fma(wnz, w sqrt(wvar), v) for pcm_read, fma(wnz, wcol[j], v)
// for additive_constant), ADC output noise (anz: fma(anz, asig, v)), the ADC (quant: as
// quantize()) and acc[r ld + j] += rowscale[r] v. Each element goes through the same operations in
// the same order as the separate passes did, 256 columns at a time so that they stay in L1. The
// accumulation stays outside the x86-64-v3 clone (accumulate_span): GCC contracts a multiply
// feeding an add into one FMA where the target has it, which would round differently from the
// separate multiply and add of the baseline build.
struct FinishColumn {
  const float *wnz = nullptr, *wvar = nullptr, *wcol = nullptr, *anz = nullptr;
  float w = 0, asig = 0;
  bool quant = false;
  float lo = 0, hi = 0, inv = 0, step = 0;
};
constexpr int64_t kSpan = 256;
// v[0, m) = the ADC output of part elements e0 .. e0 + m of row r (columns j0 ..).
__attribute__((target_clones("arch=x86-64-v3", "default"))) void finish_span(const FinishColumn& f, const float* part, int64_t e0,
                                                                             int64_t j0, int64_t m, float* v) {
  for (int64_t j = 0; j < m; ++j) v[j] = part[e0 + j];
  if (f.wvar)
    for (int64_t j = 0; j < m; ++j) v[j] = std::fma(f.wnz[e0 + j], f.w * std::sqrt(f.wvar[e0 + j]), v[j]);
  else if (f.wnz)
    for (int64_t j = 0; j < m; ++j) v[j] = std::fma(f.wnz[e0 + j], f.wcol[j0 + j], v[j]);
  if (f.anz)
    for (int64_t j = 0; j < m; ++j) v[j] = std::fma(f.anz[e0 + j], f.asig, v[j]);
  if (f.quant)
    for (int64_t j = 0; j < m; ++j) v[j] = std::nearbyint(std::min(std::max(v[j], f.lo), f.hi) * f.inv) * f.step;
}
// a[j] += si v[j]: not cloned, so the product and the sum round separately as they always did.
void accumulate_span(float* a, float si, const float* v, int64_t m) {
  for (int64_t j = 0; j < m; ++j) a[j] += si * v[j];
}
void finish_column(const FinishColumn& f, const float* part, int64_t R, int64_t n, const float* rowscale, float* acc,
                   int64_t ld) {
  float v[kSpan];
  for (int64_t r = 0; r < R; ++r)
    for (int64_t j0 = 0; j0 < n; j0 += kSpan) {
      const int64_t m = std::min(kSpan, n - j0);
      finish_span(f, part, r * n + j0, j0, m, v);
      accumulate_span(acc + r * ld + j0, rowscale[r], v, m);
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12: _mm512_undefined_ps in max/min
// The same kernel with AVX-512 intrinsics: one panel row = one register; 8 partial-sum and 8
// accumulator registers per row block, weights broadcast from memory.
// Lanes: the generator (n16::LanesAvx512; time_adc_kernel also times one without Gaussian shaping).
template <bool Clip, bool Noise, bool Bm = false, class Lanes = n16::LanesAvx512>
__attribute__((target("avx512f"))) void adc_block_gemm_avx512(int64_t P, int64_t Q, int64_t ld, const float* wn,
                                                              const float* sstep, const float* xp, float lo, float hi, float inv,
                                                              float* acc, Lanes* lanes = nullptr, float sigma = 0.0f,
                                                              int64_t rows = 0, uint16_t* hits = nullptr) {
  static_assert(Clip || !Bm, "bound management clips");
  constexpr int K = 8;
  const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi), vinv = _mm512_set1_ps(inv), vshift = _mm512_set1_ps(kShift);
  const __m512 vsig = _mm512_set1_ps(sigma);
  for (int64_t p = 0; p < P; ++p) {
    __m512 a[K];
#pragma GCC unroll 8
    for (int i = 0; i < K; ++i) a[i] = _mm512_setzero_ps();
    const float* w = wn + p * Q * K * K;
    const float* xq = xp;
    Lanes L;
    if (Noise) L = *lanes;  // a local copy: the state stays in registers
    alignas(64) float nb[K][kTile];
    for (int64_t q = 0; q < Q; ++q, w += K * K, xq += K * kTile) {
      if (Noise) {  // this block's normals first (step 4 q + i / 2 of the lanes; low half for even i), to L1
#pragma GCC unroll 4
        for (int i = 0; i < K; i += 2) L.next(nb[i], nb[i + 1]);
      }
      __m512 y[K];
      const __m512 x0 = _mm512_loadu_ps(xq);
#pragma GCC unroll 8
      for (int i = 0; i < K; ++i) y[i] = _mm512_mul_ps(_mm512_set1_ps(w[i * K]), x0);
#pragma GCC unroll 8
      for (int j = 1; j < K; ++j) {
        const __m512 xr = _mm512_loadu_ps(xq + j * kTile);
#pragma GCC unroll 8
        for (int i = 0; i < K; ++i) y[i] = _mm512_fmadd_ps(_mm512_set1_ps(w[i * K + j]), xr, y[i]);
      }
      const float* s = sstep + (p * Q + q) * K;
      if (Noise) {
#pragma GCC unroll 8
        for (int i = 0; i < K; ++i) y[i] = _mm512_fmadd_ps(_mm512_load_ps(nb[i]), vsig, y[i]);
      }
      if (Bm) {  // the clipped columns (real rows only) add nothing here; marked for bound_fix
        __mmask16 hit = 0;
        const int64_t real = rows - p * K;
#pragma GCC unroll 8
        for (int i = 0; i < K; ++i) {
          const __m512 v = _mm512_min_ps(_mm512_max_ps(y[i], vlo), vhi);
          if (i < real) hit = static_cast<__mmask16>(hit | _mm512_cmp_ps_mask(v, y[i], _CMP_NEQ_UQ));
          y[i] = _mm512_sub_ps(_mm512_fmadd_ps(v, vinv, vshift), vshift);
        }
        hits[p * Q + q] = static_cast<uint16_t>(hit);
#pragma GCC unroll 8
        for (int i = 0; i < K; ++i) a[i] = _mm512_mask3_fmadd_ps(y[i], _mm512_set1_ps(s[i]), a[i], static_cast<__mmask16>(~hit));
        continue;
      }
#pragma GCC unroll 8
      for (int i = 0; i < K; ++i) {
        const __m512 v = Clip ? _mm512_min_ps(_mm512_max_ps(y[i], vlo), vhi) : y[i];
        const __m512 r = _mm512_sub_ps(_mm512_fmadd_ps(v, vinv, vshift), vshift);
        a[i] = _mm512_fmadd_ps(r, _mm512_set1_ps(s[i]), a[i]);
      }
    }
#pragma GCC unroll 8
    for (int i = 0; i < K; ++i) _mm512_storeu_ps(acc + (p * K + i) * ld, a[i]);
  }
}
#pragma GCC diagnostic pop
#endif

#if defined(__x86_64__) && defined(__GNUC__)
// The same kernel with AVX2 + FMA (CPUs without AVX-512): one half of the panel (8 columns, one
// register per row) at a time, its 8 partial-sum and 8 accumulator registers; per element the
// same float operations in the same order as the AVX-512 kernel, so the same bits. Noise (Noise):
// nz as in the portable kernel (the row block's normals, drawn beforehand).
template <bool Clip, bool Noise, bool Bm>
__attribute__((target("avx2,fma"))) void adc_block_gemm_avx2(int64_t P, int64_t Q, int64_t ld, const float* wn,
                                                             const float* sstep, const float* xp, float lo, float hi, float inv,
                                                             float* acc, const float* nz, float sigma, int64_t rows,
                                                             uint16_t* hits) {
  static_assert(Clip || !Bm, "bound management clips");
  constexpr int K = 8;
  const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi), vinv = _mm256_set1_ps(inv), vshift = _mm256_set1_ps(kShift);
  const __m256 vsig = _mm256_set1_ps(sigma);
  for (int64_t p = 0; p < P; ++p) {
    const int64_t real = rows - p * K;
    for (int h = 0; h < kTile; h += 8) {
      __m256 a[K];
#pragma GCC unroll 8
      for (int i = 0; i < K; ++i) a[i] = _mm256_setzero_ps();
      const float* w = wn + p * Q * K * K;
      const float* xq = xp + h;
      for (int64_t q = 0; q < Q; ++q, w += K * K, xq += K * kTile) {
        __m256 y[K];
        const __m256 x0 = _mm256_loadu_ps(xq);
#pragma GCC unroll 8
        for (int i = 0; i < K; ++i) y[i] = _mm256_mul_ps(_mm256_broadcast_ss(w + i * K), x0);
#pragma GCC unroll 8
        for (int j = 1; j < K; ++j) {
          const __m256 xr = _mm256_loadu_ps(xq + j * kTile);
#pragma GCC unroll 8
          for (int i = 0; i < K; ++i) y[i] = _mm256_fmadd_ps(_mm256_broadcast_ss(w + i * K + j), xr, y[i]);
        }
        const float* s = sstep + (p * Q + q) * K;
        if (Noise) {
#pragma GCC unroll 8
          for (int i = 0; i < K; ++i) y[i] = _mm256_fmadd_ps(_mm256_loadu_ps(nz + (q * K + i) * kTile + h), vsig, y[i]);
        }
        if (Bm) {  // the clipped columns (real rows only) add nothing here; marked for bound_fix
          __m256 hit = _mm256_setzero_ps();
#pragma GCC unroll 8
          for (int i = 0; i < K; ++i) {
            const __m256 v = _mm256_min_ps(_mm256_max_ps(y[i], vlo), vhi);
            if (i < real) hit = _mm256_or_ps(hit, _mm256_cmp_ps(v, y[i], _CMP_NEQ_UQ));
            y[i] = _mm256_sub_ps(_mm256_fmadd_ps(v, vinv, vshift), vshift);
          }
          const auto bits = static_cast<uint16_t>(static_cast<unsigned>(_mm256_movemask_ps(hit)) << h);
          hits[p * Q + q] = static_cast<uint16_t>(h == 0 ? bits : (hits[p * Q + q] | bits));
#pragma GCC unroll 8
          for (int i = 0; i < K; ++i) a[i] = _mm256_blendv_ps(_mm256_fmadd_ps(y[i], _mm256_broadcast_ss(s + i), a[i]), a[i], hit);
          continue;
        }
#pragma GCC unroll 8
        for (int i = 0; i < K; ++i) {
          const __m256 v = Clip ? _mm256_min_ps(_mm256_max_ps(y[i], vlo), vhi) : y[i];
          const __m256 r = _mm256_sub_ps(_mm256_fmadd_ps(v, vinv, vshift), vshift);
          a[i] = _mm256_fmadd_ps(r, _mm256_broadcast_ss(s + i), a[i]);
        }
      }
#pragma GCC unroll 8
      for (int i = 0; i < K; ++i) _mm256_storeu_ps(acc + (p * K + i) * ld + h, a[i]);
    }
  }
}
#endif

// ADC output noise of a layer group: the 16-bit normal (hw/physics/normal16.h) of noise block
// panel P + p of `rng`, number 16 (q k + i) + c, times sigma is added to the partial sum of block
// (p, q), row i, panel column c: a pure function of (seed, draw, layer, group, element), drawn in
// the kernel's registers as it adds them (AVX-512) or one row block at a time into L1 (portable).
struct AdcNoise {
  RandomStream rng;
  float sigma;
};

// adc_block_gemm on panel number `panel`; with noise (nz != nullptr) it always clips. Bound
// management: hits != nullptr (P Q masks; rows = the real rows of the P row blocks).
void adc_block_gemm(int64_t P, int64_t Q, int64_t ld, const float* wn, const float* sstep, const float* xp, float lo, float hi,
                    float inv, bool clip, float* acc, const AdcNoise* noise = nullptr, int64_t panel = 0,
                    uint16_t* hits = nullptr, int64_t rows = 0) {
  if (hits && !clip && !noise) {  // nothing can leave the range: nothing to recompute
    std::fill(hits, hits + P * Q, uint16_t{0});
    hits = nullptr;
  }
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool avx512 = vmath::use_avx512();
  static const bool avx2 = vmath::use_avx2();
#else
  constexpr bool avx512 = false;
#endif
  if (noise) {
    constexpr int64_t K = 8;
    thread_local std::vector<float> nz;
    const uint64_t seed = noise->rng.seed(), stream = noise->rng.stream();
    for (int64_t p = 0; p < P; ++p) {
      const uint64_t block = static_cast<uint64_t>(panel * P + p);
      const float *w = wn + p * Q * K * K, *s = sstep + p * Q * K;
      float* a = acc + p * K * ld;
      uint16_t* h = hits ? hits + p * Q : nullptr;
#if defined(__x86_64__) && defined(__GNUC__)
      if (avx512) {
        n16::LanesAvx512 lanes;
        lanes.seed = seed;
        lanes.stream = stream;
        lanes.block = block;
        n16::seed_lanes(seed, stream, block, lanes);
        if (h)
          adc_block_gemm_avx512<true, true, true>(1, Q, ld, w, s, xp, lo, hi, inv, a, &lanes, noise->sigma, rows - p * K, h);
        else
          adc_block_gemm_avx512<true, true>(1, Q, ld, w, s, xp, lo, hi, inv, a, &lanes, noise->sigma);
        continue;
      }
#endif
      uint32_t st[4][16];
      n16::seed_lanes(seed, stream, block, st);
      nz.resize(static_cast<size_t>(Q * K * kTile));
      n16::steps(st, seed, stream, block, 0, Q * K / 2, nz.data());
#if defined(__x86_64__) && defined(__GNUC__)
      if (avx2) {
        if (h)
          adc_block_gemm_avx2<true, true, true>(1, Q, ld, w, s, xp, lo, hi, inv, a, nz.data(), noise->sigma, rows - p * K, h);
        else
          adc_block_gemm_avx2<true, true, false>(1, Q, ld, w, s, xp, lo, hi, inv, a, nz.data(), noise->sigma, 0, nullptr);
        continue;
      }
#endif
      adc_block_gemm_portable(1, Q, ld, w, s, xp, lo, hi, inv, true, a, nz.data(), noise->sigma, rows - p * K, h);
    }
    return;
  }
#if defined(__x86_64__) && defined(__GNUC__)
  if (avx512) {
    if (hits)
      return adc_block_gemm_avx512<true, false, true>(P, Q, ld, wn, sstep, xp, lo, hi, inv, acc,
                                                      static_cast<n16::LanesAvx512*>(nullptr), 0.0f, rows, hits);
    if (clip) return adc_block_gemm_avx512<true, false>(P, Q, ld, wn, sstep, xp, lo, hi, inv, acc);
    return adc_block_gemm_avx512<false, false>(P, Q, ld, wn, sstep, xp, lo, hi, inv, acc);
  }
  if (avx2) {
    if (hits) return adc_block_gemm_avx2<true, false, true>(P, Q, ld, wn, sstep, xp, lo, hi, inv, acc, nullptr, 0.0f, rows, hits);
    if (clip)
      return adc_block_gemm_avx2<true, false, false>(P, Q, ld, wn, sstep, xp, lo, hi, inv, acc, nullptr, 0.0f, 0, nullptr);
    return adc_block_gemm_avx2<false, false, false>(P, Q, ld, wn, sstep, xp, lo, hi, inv, acc, nullptr, 0.0f, 0, nullptr);
  }
#endif
  adc_block_gemm_portable(P, Q, ld, wn, sstep, xp, lo, hi, inv, clip, acc, nullptr, 0.0f, rows, hits);
}

// Dense product on one packed panel (ideal ADC): acc[r, c] = sum_{kk < K} W[r, kk] xp[kk, c] for
// r < R (a multiple of 8), kk in order, with W packed by 8-row strips: wp[(r / 8) K 8 + kk 8 + r % 8].
__attribute__((target_clones("arch=x86-64-v3", "default"))) void dense_panel_gemm_portable(int64_t R, int64_t K, const float* wp,
                                                                                           const float* xp, float* acc,
                                                                                           int64_t ld) {
  for (int64_t p = 0; p < R / 8; ++p) {
    float a[8][kTile] = {};
    const float* w = wp + p * K * 8;
    for (int64_t kk = 0; kk < K; ++kk)
      for (int i = 0; i < 8; ++i)
        for (int64_t c = 0; c < kTile; ++c) a[i][c] += w[kk * 8 + i] * xp[kk * kTile + c];
    for (int i = 0; i < 8; ++i)
      for (int64_t c = 0; c < kTile; ++c) acc[(p * 8 + i) * ld + c] = a[i][c];
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f"))) void dense_panel_gemm_avx512(int64_t R, int64_t K, const float* wp, const float* xp,
                                                                float* acc, int64_t ld) {
  for (int64_t p = 0; p < R / 8; ++p) {
    __m512 a[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) a[i] = _mm512_setzero_ps();
    const float* w = wp + p * K * 8;
    for (int64_t kk = 0; kk < K; ++kk) {
      const __m512 x = _mm512_loadu_ps(xp + kk * kTile);
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i) a[i] = _mm512_fmadd_ps(_mm512_set1_ps(w[kk * 8 + i]), x, a[i]);
    }
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) _mm512_storeu_ps(acc + (p * 8 + i) * ld, a[i]);
  }
}
#endif

#if defined(__x86_64__) && defined(__GNUC__)
// The same product with AVX2 + FMA (CPUs without AVX-512): half a row strip (4 rows x 16 columns,
// 8 accumulator registers of the 16) per pass, each element still fma-accumulated in kk order from
// 0, so the bits equal the AVX-512 kernel's.
__attribute__((target("avx2,fma"))) void dense_panel_gemm_avx2(int64_t R, int64_t K, const float* wp, const float* xp, float* acc,
                                                               int64_t ld) {
  for (int64_t p = 0; p < R / 8; ++p) {
    const float* w = wp + p * K * 8;
    for (int h = 0; h < 8; h += 4) {
      __m256 a[4][2];
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) a[i][0] = a[i][1] = _mm256_setzero_ps();
      for (int64_t kk = 0; kk < K; ++kk) {
        const __m256 x0 = _mm256_loadu_ps(xp + kk * kTile), x1 = _mm256_loadu_ps(xp + kk * kTile + 8);
#pragma GCC unroll 4
        for (int i = 0; i < 4; ++i) {
          const __m256 b = _mm256_broadcast_ss(w + kk * 8 + h + i);
          a[i][0] = _mm256_fmadd_ps(b, x0, a[i][0]);
          a[i][1] = _mm256_fmadd_ps(b, x1, a[i][1]);
        }
      }
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) {
        _mm256_storeu_ps(acc + (p * 8 + h + i) * ld, a[i][0]);
        _mm256_storeu_ps(acc + (p * 8 + h + i) * ld + 8, a[i][1]);
      }
    }
  }
}
#endif

void dense_panel_gemm(int64_t R, int64_t K, const float* wp, const float* xp, float* acc, int64_t ld) {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool avx512 = vmath::use_avx512();
  if (avx512) return dense_panel_gemm_avx512(R, K, wp, xp, acc, ld);
  static const bool avx2 = vmath::use_avx2();
  if (avx2) return dense_panel_gemm_avx2(R, K, wp, xp, acc, ld);
#endif
  dense_panel_gemm_portable(R, K, wp, xp, acc, ld);
}

// max_i |x_i| (16 running maxima: vectorisable without reassociation).
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"))) float abs_max(const float* x, int64_t n) {
  float m[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int c = 0; c < 16; ++c) m[c] = std::max(m[c], std::abs(x[i + c]));
  for (; i < n; ++i) m[0] = std::max(m[0], std::abs(x[i]));
  float r = 0.0f;
  for (int c = 0; c < 16; ++c) r = std::max(r, m[c]);
  return r;
}

// m_j = max(m_j, |x_j|).
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"))) void abs_max_into(const float* x, int64_t n,
                                                                                                float* m) {
  for (int64_t j = 0; j < n; ++j) m[j] = std::max(m[j], std::abs(x[j]));
}

// One packed input panel: dst[i kTile + c] = DAC(x[i ld + c] * rs[c]) for rows i < rows and
// columns c < m (0 for c >= m); DAC = clip to +-bound and round to `step` (step 0: ideal),
// exactly hw/converters.h's quantize() (nearbyint of the rounded product). DAC noise (nz !=
// nullptr): fma(nz[i kTile + c], sigma, normalised input) before the clip.
__attribute__((target_clones("arch=x86-64-v3", "default"))) void pack_panel_portable(const float* x, int64_t ld, int64_t m,
                                                                                     int64_t rows, const float* rs, float* dst,
                                                                                     float bound, float step, const float* nz,
                                                                                     float sigma) {
  const float inv = step > 0 ? 1.0f / step : 0.0f;
  for (int64_t i = 0; i < rows; ++i) {
    const float* xr = x + i * ld;
    float* d = dst + i * kTile;
    for (int64_t c = 0; c < kTile; ++c) {
      float v = c < m ? xr[c] * rs[c] : 0.0f;
      if (nz) v = std::fma(nz[i * kTile + c], sigma, v);
      if (step > 0) v = std::nearbyint(std::min(std::max(v, -bound), bound) * inv) * step;
      d[c] = v;
    }
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12: _mm512_undefined_ps in max/min
// Normalisation by r and the DAC (pack_panel_portable's operations) on one register.
struct DacAvx512 {
  __m512 r, lo, hi, step, inv, sigma;
  bool quantise;
};
__attribute__((target("avx512f"))) inline DacAvx512 dac_avx512(const float* rs, int64_t m, float bound, float step,
                                                               float sigma = 0.0f) {
  const __mmask16 mask = static_cast<__mmask16>((1u << m) - 1u);
  return {_mm512_maskz_loadu_ps(mask, rs),
          _mm512_set1_ps(-bound),
          _mm512_set1_ps(bound),
          _mm512_set1_ps(step),
          _mm512_set1_ps(step > 0 ? 1.0f / step : 0.0f),
          _mm512_set1_ps(sigma),
          step > 0};
}
// nz: this register's 16 standard normals (DAC noise, sigma * nz added after the normalisation), or nullptr.
__attribute__((target("avx512f"))) inline __m512 dac_apply(const DacAvx512& d, __m512 x, const float* nz = nullptr) {
  __m512 v = _mm512_mul_ps(x, d.r);
  if (nz) v = _mm512_fmadd_ps(_mm512_loadu_ps(nz), d.sigma, v);
  if (d.quantise) {
    v = _mm512_mul_ps(_mm512_min_ps(_mm512_max_ps(v, d.lo), d.hi), d.inv);
    v = _mm512_mul_ps(_mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), d.step);
  }
  return v;
}

__attribute__((target("avx512f"))) void pack_panel_avx512(const float* x, int64_t ld, int64_t m, int64_t rows, const float* rs,
                                                          float* dst, float bound, float step, const float* nz, float sigma) {
  const __mmask16 mask = static_cast<__mmask16>((1u << m) - 1u);
  const DacAvx512 dac = dac_avx512(rs, m, bound, step, sigma);
  if (nz)
    for (int64_t i = 0; i < rows; ++i)
      _mm512_storeu_ps(dst + i * kTile, dac_apply(dac, _mm512_maskz_loadu_ps(mask, x + i * ld), nz + i * kTile));
  else
    for (int64_t i = 0; i < rows; ++i) _mm512_storeu_ps(dst + i * kTile, dac_apply(dac, _mm512_maskz_loadu_ps(mask, x + i * ld)));
}
#pragma GCC diagnostic pop
#endif

// nz (DAC noise, or nullptr): standard normals [rows][kTile], sigma times each added to the normalised input.
void pack_panel(const float* x, int64_t ld, int64_t m, int64_t rows, const float* rs, float* dst, float bound, float step,
                const float* nz = nullptr, float sigma = 0.0f) {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool avx512 = vmath::use_avx512();
  if (avx512) return pack_panel_avx512(x, ld, m, rows, rs, dst, bound, step, nz, sigma);
#endif
  pack_panel_portable(x, ld, m, rows, rs, dst, bound, step, nz, sigma);
}

// DAC noise of a layer group: normal number panel chunked(C kTile) + r kTile + c of `rng` (fill_normal_inv)
// for packed row r < rows, panel column c; C = the padded rows of the layer's panels.
void dac_noise(const RandomStream& rng, int64_t panel, int64_t C, int64_t rows, std::vector<float>& nz) {
  nz.resize(static_cast<size_t>(rows * kTile));
  rng.fill_normal_inv(static_cast<uint64_t>(panel * chunked(C * kTile)), rows * kTile, nz.data());
}

// One packed panel of im2col(image) for a same-width convolution (models/mapped_gemm.h): rows
// r = (c kh + i) kw + j < channels kh kw, columns p = j0 + c' (c' < m; 0 beyond): dst[r kTile + c'];
// colmax[c'] = max over the rows of |dst[r kTile + c']|. As ow = iw, column p of row r reads
// image[c] at p + dr iw + dc (dr = i dh - pt, dc = j dw - pl) when valid, so a row of the panel
// is one masked contiguous load; the mask depends on (i, j) only.
uint32_t window_mask(const models::SameWidthConv& cv, int64_t j0, int64_t m, int64_t dr, int64_t dc) {
  uint32_t mask = 0;
  for (int64_t c = 0; c < m; ++c) {
    const int64_t p = j0 + c, oh = p / cv.iw, ow = p % cv.iw;
    if (oh + dr >= 0 && oh + dr < cv.ih && ow + dc >= 0 && ow + dc < cv.iw) mask |= 1u << c;
  }
  return mask;
}

__attribute__((target_clones("arch=x86-64-v3", "default"))) void gather_panel_portable(const float* image,
                                                                                       const models::SameWidthConv& cv,
                                                                                       int64_t j0, int64_t m, float* dst,
                                                                                       float* colmax) {
  const int64_t plane = cv.ih * cv.iw;
  float mx[kTile] = {};
  for (int64_t i = 0; i < cv.kh; ++i)
    for (int64_t j = 0; j < cv.kw; ++j) {
      const int64_t dr = i * cv.dh - cv.pt, dc = j * cv.dw - cv.pl, off = j0 + dr * cv.iw + dc;
      const uint32_t mask = window_mask(cv, j0, m, dr, dc);
      for (int64_t ch = 0; ch < cv.channels; ++ch) {
        const float* src = image + ch * plane + off;
        float* d = dst + ((ch * cv.kh + i) * cv.kw + j) * kTile;
        for (int64_t c = 0; c < kTile; ++c) {
          d[c] = (mask >> c) & 1u ? src[c] : 0.0f;
          mx[c] = std::max(mx[c], std::abs(d[c]));
        }
      }
    }
  for (int64_t c = 0; c < kTile; ++c) colmax[c] = mx[c];
}

#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12: _mm512_undefined_ps in max
// Pack = false: the raw panel and its column maxima (colmax); Pack = true: each window row
// normalised by rs and put through the DAC on the way (dac_apply; colmax unused).
// nz (Pack only, DAC noise, or nullptr): standard normals [rows][kTile] of the panel.
template <bool Pack>
__attribute__((target("avx512f"))) void gather_panel_avx512(const float* image, const models::SameWidthConv& cv, int64_t j0,
                                                            int64_t m, float* dst, float* colmax, const float* rs = nullptr,
                                                            float bound = 0.0f, float step = 0.0f, const float* nz = nullptr,
                                                            float sigma = 0.0f) {
  const int64_t plane = cv.ih * cv.iw;
  const __m512 sign = _mm512_set1_ps(-0.0f);
  __m512 mx = _mm512_setzero_ps();
  DacAvx512 dac{};
  if (Pack) dac = dac_avx512(rs, m, bound, step, sigma);
  for (int64_t i = 0; i < cv.kh; ++i)
    for (int64_t j = 0; j < cv.kw; ++j) {
      const int64_t dr = i * cv.dh - cv.pt, dc = j * cv.dw - cv.pl, off = j0 + dr * cv.iw + dc;
      const __mmask16 mask = static_cast<__mmask16>(window_mask(cv, j0, m, dr, dc));
      const float* src = image + off;
      float* d = dst + (i * cv.kw + j) * kTile;
      const float* e = nz ? nz + (i * cv.kw + j) * kTile : nullptr;
      for (int64_t ch = 0; ch < cv.channels; ++ch, src += plane, d += cv.kh * cv.kw * kTile) {
        const __m512 v = _mm512_maskz_loadu_ps(mask, src);  // masked-off lanes are not read
        if (Pack) {
          _mm512_storeu_ps(d, dac_apply(dac, v, e));
          if (e) e += cv.kh * cv.kw * kTile;
        } else {
          _mm512_storeu_ps(d, v);
          mx = _mm512_max_ps(mx, _mm512_castsi512_ps(_mm512_andnot_si512(_mm512_castps_si512(sign), _mm512_castps_si512(v))));
        }
      }
    }
  if (!Pack) _mm512_storeu_ps(colmax, mx);
}
#pragma GCC diagnostic pop
#endif

void gather_panel(const float* image, const models::SameWidthConv& cv, int64_t j0, int64_t m, float* dst, float* colmax) {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool avx512 = vmath::use_avx512();
  if (avx512) return gather_panel_avx512<false>(image, cv, j0, m, dst, colmax);
#endif
  gather_panel_portable(image, cv, j0, m, dst, colmax);
}

// The column maxima of a same-width convolution's whole im2col matrix (columns [0, n)) without
// gathering it: colmax[p] = max over the window of A, A[h, w] = max over channels |image[c, h, w]|
// (the same maximum as gather_panel's, which also counts the zeros of the padding).
void column_maxima(const float* image, const models::SameWidthConv& cv, int64_t n, std::vector<float>& A, float* colmax) {
  const int64_t plane = cv.ih * cv.iw;
  A.assign(static_cast<size_t>(plane), 0.0f);
  for (int64_t ch = 0; ch < cv.channels; ++ch) {
    const float* x = image + ch * plane;
    for (int64_t q = 0; q < plane; ++q) A[q] = std::max(A[q], std::abs(x[q]));
  }
  std::fill(colmax, colmax + n, 0.0f);
  for (int64_t i = 0; i < cv.kh; ++i)
    for (int64_t j = 0; j < cv.kw; ++j) {
      const int64_t dr = i * cv.dh - cv.pt, dc = j * cv.dw - cv.pl;
      const int64_t ow_lo = std::max<int64_t>(0, -dc), ow_hi = std::min(cv.iw, cv.iw - dc);
      for (int64_t oh = 0; oh * cv.iw < n; ++oh) {
        if (oh + dr < 0 || oh + dr >= cv.ih) continue;
        const float* a = A.data() + (oh + dr) * cv.iw + dc;
        float* cm = colmax + oh * cv.iw;
        const int64_t hi = std::min(ow_hi, n - oh * cv.iw);
        for (int64_t ow = ow_lo; ow < hi; ++ow) cm[ow] = std::max(cm[ow], a[ow]);
      }
    }
}

bool have_avx512() {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool avx512 = vmath::use_avx512();
  return avx512;
#else
  return false;
#endif
}

// The effective weights wn * scale of a layer group as a dense [rows, cols] matrix packed by
// 8-row strips for dense_panel_gemm (rows padded to a multiple of 8 with zeros).
void pack_dense(const models::GemmTiles& t, int64_t k, const float* wn, const float* scale, const float* bgain,
                std::vector<float>& wp) {
  const int64_t Q = t.Q;
  wp.assign(static_cast<size_t>((t.rows + 7) / 8 * 8 * t.cols), 0.0f);
  for (int64_t r = 0; r < t.rows; ++r) {
    float* dst = wp.data() + (r / 8) * t.cols * 8 + r % 8;
    for (int64_t q = 0; q < Q; ++q) {
      const int64_t b = (r / k) * Q + q;
      const float* w = wn + b * k * k + (r % k) * k;
      const float s = bgain ? scale[b] * bgain[b * k + r % k] : scale[b];
      for (int64_t j = 0; j < k && q * k + j < t.cols; ++j) dst[(q * k + j) * 8] = w[j] * s;
    }
  }
}

// Output columns [j0, j0 + m) of a same-width convolution from its accumulator panel: the
// write_output value (acc * colscale) * gain, then + bias[r], then Relu/Clip -- the same float
// operations, in the same order, as write_output followed by the Conv kernel's bias and epilogue
// passes (baseline code: no fused multiply-add can merge the multiply and the bias add).
void finish_panel(const float* acc, int64_t ld, int64_t rows, int64_t j0, int64_t m, const float* colscale, float gain,
                  const models::ConvEpilogue* ep, float* y, int64_t n) {
  const float* bias = ep ? ep->bias : nullptr;
  const models::PostOp post = ep ? ep->post : models::PostOp::None;
  const float lo = ep ? ep->lo : 0.0f, hi = ep ? ep->hi : 0.0f;
  for (int64_t r = 0; r < rows; ++r) {
    const float* a = acc + r * ld + j0;
    float* yr = y + r * n + j0;
    for (int64_t c = 0; c < m; ++c) yr[c] = a[c] * colscale[j0 + c] * gain;
    if (bias) {
      const float b = bias[r];
      for (int64_t c = 0; c < m; ++c) yr[c] += b;
    }
    if (post == models::PostOp::Relu) {
      for (int64_t c = 0; c < m; ++c) yr[c] = yr[c] > 0.0f ? yr[c] : 0.0f;
    } else if (post == models::PostOp::Clip) {
      for (int64_t c = 0; c < m; ++c) yr[c] = std::min(std::max(yr[c], lo), hi);
    }
  }
}

// Per-thread work buffers (reused across calls; sized to the largest layer seen).
struct Work {
  std::vector<float> wn_own, scale_own, xn, colscale, rscale, sstep, wdense, part, acc, wpack, chanmax, dac_nz, adc_nz;
  std::vector<float> wn_nz, wn_sig, wn_abs, wn_xsq;  // weight noise per MVM
  std::vector<float> rowscale;                       // general route: each row's block scale (x gain)
  std::vector<float> bm_x, bm_y;                     // bound management: one block's inputs and outputs
  std::vector<char> bm_hit;                          // bound management: clipped (block row, vector) pairs
  std::vector<uint16_t> bm_mask;                     // bound management, fused kernel: clipped columns per block
  std::vector<float> bm_raw, bm_wsq;                 // a raw conv input panel; |W| x^2 of a recomputation
};
thread_local Work tw;

}  // namespace

WeightNoise weight_noise_from_name(const std::string& name) {
  if (name == "none") return WeightNoise::none;
  if (name == "additive_constant") return WeightNoise::additive_constant;
  if (name == "pcm_read") return WeightNoise::pcm_read;
  throw Error("unknown weight-noise type \"" + name + "\" (known: none, additive_constant, pcm_read)");
}

NoiseManagement noise_management_from_name(const std::string& name) {
  if (name == "abs_max") return NoiseManagement::abs_max;
  if (name == "constant") return NoiseManagement::constant;
  if (name == "none") return NoiseManagement::none;
  throw Error("unknown noise management \"" + name + "\" (known: abs_max, constant, none)");
}

BoundManagement bound_management_from_name(const std::string& name) {
  if (name == "none") return BoundManagement::none;
  if (name == "iterative") return BoundManagement::iterative;
  throw Error("bound management \"" + name + "\" is not none or iterative");
}

bool HardwareGemm::fused_adc() const {
  // Quantising ADCs of <= 22 bits, with or without output noise (an unquantised noisy ADC takes the general path).
  // Weight noise per MVM takes the general path; bound management recomputes the clipped block
  // columns the fused kernel marks (bound_fix).
  return m_io.adc.bits > 0 && m_io.adc.bits <= 22 && m_wl.spec.block_size == 8 && !m_io.weight_noise();
}

// One bound-management recomputation's products, fused multiply-adds in input order:
// y_i = sum_c w_ic x_c, wsq_i = sum_c |w_ic| x_c^2, xsq = sum_c x_c^2 (the same bits with or
// without FMA hardware: std::fma rounds once either way).
namespace {
__attribute__((target_clones("arch=x86-64-v3", "default"))) void rerun_products(const float* w, const float* xs, int64_t k,
                                                                                float* y, float* wsq, float* xsq) {
  float s = 0.0f;
  for (int64_t c = 0; c < k; ++c) s = std::fma(xs[c], xs[c], s);
  *xsq = s;
  for (int64_t i = 0; i < k; ++i) {
    float v = 0.0f, a = 0.0f;
    for (int64_t c = 0; c < k; ++c) {
      v = std::fma(w[i * k + c], xs[c], v);
      a = std::fma(std::abs(w[i * k + c]), xs[c] * xs[c], a);
    }
    y[i] = v;
    wsq[i] = a;
  }
}

}  // namespace

int64_t HardwareGemm::bound_rerun(int64_t p, int64_t q, int64_t j, int64_t P, int64_t Q, int64_t n, int64_t cols, const float* xv,
                                  int64_t xstride, float rscale, const float* wn, const RandomStream& rng, float* out,
                                  int64_t ostride) const {
  const int64_t k = m_wl.spec.block_size;
  const ConverterSpec &dac = m_io.dac, &adc = m_io.adc;
  const double res = dac.step();  // the DAC's step over its range (aihwkit's inp_res x 2 inp_bound)
  const float* w = wn + (p * Q + q) * k * k;
  tw.bm_x.resize(static_cast<size_t>(k));
  tw.bm_y.resize(static_cast<size_t>(k));
  tw.bm_wsq.resize(static_cast<size_t>(k));
  float* xs = tw.bm_x.data();
  float* y = tw.bm_y.data();
  int64_t runs = 0;
  double f = 1;  // the factor of the result in part (f = 1: the first pass, clipped)
  // aihwkit's loop: a result at factor f stands once it does not clip, or f > max_bm_factor, or
  // f > max_bm_res / step; otherwise the block is recomputed at 2 f.
  for (int round = 1; !(f > m_io.max_bm_factor) && !(res > 0 && f > m_io.max_bm_res / res); ++round) {
    f *= 2;
    ++runs;
    // Fresh draws: number ((((q P + p) n + j) 64 + round) 3 + kind) k + i of the stream.
    const uint64_t pair =
        (static_cast<uint64_t>(q) * static_cast<uint64_t>(P) + static_cast<uint64_t>(p)) * static_cast<uint64_t>(n) +
        static_cast<uint64_t>(j);
    const uint64_t base = (pair * 64 + static_cast<uint64_t>(round)) * 3 * static_cast<uint64_t>(k);
    const float inv_f = static_cast<float>(1.0 / f);
    for (int64_t c = 0; c < k; ++c) {
      const int64_t in = q * k + c;
      if (in >= cols) {  // zero-padded input rows: no input, no noise (as the first pass)
        xs[c] = 0.0f;
        continue;
      }
      float v = xv[in * xstride] * rscale * inv_f;
      if (dac.noise_std > 0) v += static_cast<float>(dac.noise_std * rng.normal(base + static_cast<uint64_t>(c)));
      xs[c] = v;
    }
    quantize(dac, xs, k);  // (a zero-padded input stays 0)
    float xsq = 0.0f;
    rerun_products(w, xs, k, y, tw.bm_wsq.data(), &xsq);
    for (int64_t i = 0; i < k; ++i) {
      float v = y[i];
      const float wsq = tw.bm_wsq[static_cast<size_t>(i)];
      if (m_io.weight_noise()) {
        const float sig =
            static_cast<float>(m_io.w_noise) * std::sqrt(m_io.w_noise_type == WeightNoise::additive_constant ? xsq : wsq);
        v += sig * static_cast<float>(rng.normal(base + static_cast<uint64_t>(k + i)));
      }
      if (adc.noise_std > 0) v += static_cast<float>(adc.noise_std * rng.normal(base + static_cast<uint64_t>(2 * k + i)));
      y[i] = v;
    }
    bool clipped = false;  // a partial sum converts past the bound (aihwkit: discretise, then test)
    const float hi = m_adc_edge;
    for (int64_t i = 0; i < k; ++i) clipped = clipped || std::abs(y[i]) > hi;
    quantize(adc, y, k);
    for (int64_t i = 0; i < k; ++i) out[i * ostride] = y[i] * static_cast<float>(f);
    if (!clipped) break;
  }
  return runs;
}

void HardwareGemm::weights(int64_t layer, int64_t group, uint64_t draw, const float*& wn, const float*& scale) const {
  if (m_cached) {
    wn = m_cache_wn[layer][group].data();
    scale = m_cache_scale[layer][group].data();
    return;
  }
  const models::GemmTiles& t = m_wl.layers.at(layer).gemms.at(group);
  tw.wn_own.resize(t.blocks.size());
  tw.scale_own.resize(static_cast<size_t>(t.P * t.Q));
  m_realizer.realize(layer, group, draw, tw.wn_own.data(), tw.scale_own.data());
  wn = tw.wn_own.data();
  scale = tw.scale_own.data();
}

namespace {

// One round of bound management on up to 16 vectors of one k = 8 block at once (lane l = panel
// column l; the operations of HardwareGemm::bound_rerun, lane by lane, in the same order):
// xs = DAC(xs) (dstep 0: no DAC), y_i = sum_c w_ic xs_c by fused multiply-adds in c order.
__attribute__((target_clones("arch=x86-64-v3", "default"))) void bm_lanes_products(const float* w, float xs[8][kTile],
                                                                                   float y[8][kTile], float dlo, float dhi,
                                                                                   float dstep) {
  if (dstep > 0) {
    const float inv = 1.0f / dstep;
    for (int c = 0; c < 8; ++c)
      for (int64_t l = 0; l < kTile; ++l) xs[c][l] = std::nearbyint(std::min(std::max(xs[c][l], dlo), dhi) * inv) * dstep;
  }
  for (int i = 0; i < 8; ++i) {
    float v[kTile] = {};
    for (int c = 0; c < 8; ++c)
      for (int64_t l = 0; l < kTile; ++l) v[l] = std::fma(w[i * 8 + c], xs[c][l], v[l]);
    for (int64_t l = 0; l < kTile; ++l) y[i][l] = v[l];
  }
}

// The ADC of that round: out = f ADC(y) on the active lanes; returns the lanes whose y converts
// past the bound hi in any row (|y| > edge, ConverterSpec::clip_edge).
__attribute__((target_clones("arch=x86-64-v3", "default"))) uint32_t bm_lanes_adc(const float y[8][kTile], float out[8][kTile],
                                                                                  uint32_t active, float hi, float edge,
                                                                                  float step, float f) {
  const float inv = 1.0f / step;
  uint32_t clipped = 0;
  for (int i = 0; i < 8; ++i) {
    float r[kTile];
    for (int64_t l = 0; l < kTile; ++l) {
      clipped |= static_cast<uint32_t>(std::abs(y[i][l]) > edge) << l;
      r[l] = std::nearbyint(std::min(std::max(y[i][l], -hi), hi) * inv) * step * f;
    }
    for (int64_t l = 0; l < kTile; ++l)
      if ((active >> l) & 1u) out[i][l] = r[l];
  }
  return clipped;
}

}  // namespace

int64_t HardwareGemm::bound_fix(int64_t P, int64_t Q, int64_t n, int64_t cols, int64_t j0, const uint16_t* hits, const float* xv,
                                int64_t xstride, int64_t jstride, const float* rscale, const float* wn, const float* scale,
                                const float* bg, const RandomStream& rng, float* acc, int64_t ld) const {
  // The fused kernel's k = 8 and no weight noise per MVM: all marked vectors of a block go
  // through bound_rerun's loop together (they share f), each with its own draws.
  constexpr int64_t k = 8;
  const ConverterSpec &dac = m_io.dac, &adc = m_io.adc;
  const double res = dac.step();
  const float dlo = static_cast<float>(-dac.bound), dhi = static_cast<float>(dac.bound);
  const float dstep = dac.bits > 0 ? static_cast<float>(dac.step()) : 0.0f;
  const float ahi = static_cast<float>(adc.bound), aedge = m_adc_edge;
  const float astep = static_cast<float>(adc.step());
  alignas(64) float xr[k][kTile], xs[k][kTile], y[k][kTile], out[k][kTile];
  int64_t reruns = 0;
  for (int64_t p = 0; p < P; ++p)
    for (int64_t q = 0; q < Q; ++q) {
      uint32_t active = hits[p * Q + q];
      for (int64_t c = 0; c < kTile; ++c)
        if (j0 + c >= n) active &= ~(1u << c);  // padding columns of the panel: no input vector
      if (!active) continue;
      const uint32_t marked = active;
      const float* w = wn + (p * Q + q) * k * k;
      std::memset(xr, 0, sizeof xr);
      for (uint32_t a = active; a; a &= a - 1) {
        const int64_t l = __builtin_ctz(a);
        for (int64_t c = 0; c < k && q * k + c < cols; ++c) xr[c][l] = xv[l * jstride + (q * k + c) * xstride] * rscale[l];
      }
      double f = 1;
      for (int round = 1; active && !(f > m_io.max_bm_factor) && !(res > 0 && f > m_io.max_bm_res / res); ++round) {
        f *= 2;
        reruns += __builtin_popcount(active);
        const float inv_f = static_cast<float>(1.0 / f);
        for (int64_t c = 0; c < k; ++c)
          for (int64_t l = 0; l < kTile; ++l) xs[c][l] = xr[c][l] * inv_f;
        // Fresh draws: number ((((q P + p) n + j) 64 + round) 3 + kind) k + i, as bound_rerun.
        const auto base = [&](int64_t l) {
          const uint64_t pair =
              (static_cast<uint64_t>(q) * static_cast<uint64_t>(P) + static_cast<uint64_t>(p)) * static_cast<uint64_t>(n) +
              static_cast<uint64_t>(j0 + l);
          return (pair * 64 + static_cast<uint64_t>(round)) * 3 * static_cast<uint64_t>(k);
        };
        if (dac.noise_std > 0)
          for (uint32_t a = active; a; a &= a - 1) {
            const int64_t l = __builtin_ctz(a);
            const uint64_t b = base(l);
            for (int64_t c = 0; c < k && q * k + c < cols; ++c)
              xs[c][l] += static_cast<float>(dac.noise_std * rng.normal(b + static_cast<uint64_t>(c)));
          }
        bm_lanes_products(w, xs, y, dlo, dhi, dstep);
        if (adc.noise_std > 0)
          for (uint32_t a = active; a; a &= a - 1) {
            const int64_t l = __builtin_ctz(a);
            const uint64_t b = base(l);
            for (int64_t i = 0; i < k; ++i)
              y[i][l] += static_cast<float>(adc.noise_std * rng.normal(b + static_cast<uint64_t>(2 * k + i)));
          }
        active &= bm_lanes_adc(y, out, active, ahi, aedge, astep, static_cast<float>(f));
      }
      const float s = scale[p * Q + q];
      for (int64_t i = 0; i < k; ++i) {
        const float si = bg ? s * bg[(p * Q + q) * k + i] : s;
        for (uint32_t a = marked; a; a &= a - 1) {
          const int64_t l = __builtin_ctz(a);
          acc[(p * k + i) * ld + l] += si * out[i][l];
        }
      }
    }
  return reruns;
}

bool HardwareGemm::adc_setup(int64_t blocks, const float* wn, const float* scale, const float* bg) const {
  // Per-block output scale times the ADC step; no clipping when |partial sum| <= k max|wn| max|x|
  // cannot pass the bound by half a step (the normalised inputs are within the DAC bound or 1).
  const ConverterSpec &adc = m_io.adc, &dac = m_io.dac;
  const int64_t k = m_wl.spec.block_size;
  const float adc_step = static_cast<float>(adc.step());
  tw.sstep.resize(static_cast<size_t>(blocks * k));
  for (int64_t b = 0; b < blocks; ++b)
    for (int64_t i = 0; i < k; ++i) tw.sstep[b * k + i] = bg ? scale[b] * bg[b * k + i] * adc_step : scale[b] * adc_step;
  // Largest |DAC output|: the DAC's bound, else 1 for abs-max normalised inputs, else unbounded.
  const double xmax = dac.bits > 0 ? dac.bound : m_io.inputs_within_one() ? 1.0 : HUGE_VAL;
  const double wmax = abs_max(wn, blocks * k * k);
  return !(dac.bits > 0 || dac.noise_std == 0) ||
         !(static_cast<double>(k) * wmax * xmax * (1 + 1e-5) <= adc.bound + 0.25 * adc.step());
}

void HardwareGemm::write_output(int64_t layer, int64_t rows, int64_t n, int64_t ld, float* y, bool y_trans) const {
  const float gain = layer < static_cast<int64_t>(m_gain.size()) ? m_gain[layer] : 1.0f;
  const float* acc = tw.acc.data();
  const float* colscale = tw.colscale.data();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < n; ++j) {
      float v = acc[r * ld + j] * colscale[j] * gain;
      if (y_trans)
        y[j * rows + r] = v;
      else
        y[r * n + j] = v;
    }
}

bool HardwareGemm::conv_same_width(int64_t layer, int64_t group, int64_t sample, const float* image,
                                   const models::SameWidthConv& cv, float* y, const models::ConvEpilogue* ep) {
  const models::GemmTiles& t = m_wl.layers.at(layer).gemms.at(group);
  const ConverterSpec &dac = m_io.dac, &adc = m_io.adc;
  const bool fused = fused_adc();
  if (!(fused || adc.ideal()) || m_io.weight_noise() || dac.bits > 22 || cv.channels * cv.kh * cv.kw != t.cols) return false;
  const int64_t k = m_wl.spec.block_size, P = t.P, Q = t.Q, R = P * k, C = Q * k;
  const int64_t n = cv.out_h * cv.iw, tiles = (n + kTile - 1) / kTile, ld = tiles * kTile;
  const float *wn, *scale;
  const uint64_t draw = m_draw_base + static_cast<uint64_t>(sample);
  weights(layer, group, draw, wn, scale);
  const float* bg = bgain(layer, group);
  const bool clip = fused && adc_setup(P * Q, wn, scale, bg);
  // Converter noise: the same streams and element numbers as gemm() on the im2col matrix.
  const RandomStream group_rng = m_rng.derive(draw).derive(static_cast<uint64_t>(layer) << 20 | static_cast<uint64_t>(group));
  const bool dac_noisy = dac.noise_std > 0;
  const RandomStream dac_rng = group_rng.derive(0);
  const AdcNoise adc_noise{group_rng.derive(1), static_cast<float>(adc.noise_std)};
  const AdcNoise* adc_nz = adc.noise_std > 0 ? &adc_noise : nullptr;
  const float dac_sigma = static_cast<float>(dac.noise_std);
  const bool bm = fused && m_io.bound_managed();  // bound management: the kernel marks, bound_fix recomputes
  // The kernel's clip: the bound, or with bound management the last value that converts within it
  // (a column is marked when a partial sum converts past the bound, as aihwkit tests).
  const float adc_hi = bm ? m_adc_edge : static_cast<float>(adc.bound);
  const RandomStream bm_rng = group_rng.derive(3);
  if (bm) tw.bm_mask.resize(static_cast<size_t>(P * Q));
  int64_t reruns = 0;
  const int64_t R8 = (t.rows + 7) / 8 * 8;
  const float* wp = nullptr;
  if (!fused) {
    // Ideal ADC: the effective weights wn * scale as one dense matrix (as gemm() gives sgemm),
    // packed by 8-row strips (once per batch when the weights are shared by its draws).
    if (m_cached && !m_cache_wpack[layer][group].empty()) {
      wp = m_cache_wpack[layer][group].data();
    } else {
      pack_dense(t, k, wn, scale, bg, tw.wpack);
      wp = tw.wpack.data();
    }
  }
  const float adc_step = static_cast<float>(adc.step()), dac_step = dac.bits > 0 ? static_cast<float>(dac.step()) : 0.0f;
  const float gain = layer < static_cast<int64_t>(m_gain.size()) ? m_gain[layer] : 1.0f;
  tw.acc.resize(std::max(R, R8) * ld);
  tw.colscale.assign(ld, 0.0f);
  tw.rscale.resize(kTile);
  tw.xn.resize(C * kTile);
  float* panel = tw.xn.data();
  // AVX-512 with normalised inputs: the column maxima first (from the image), then each panel
  // gathered, normalised and converted in one pass.
  const bool one_pass = (fused || !dac.ideal()) && have_avx512();
  if (one_pass) column_maxima(image, cv, n, tw.chanmax, tw.colscale.data());
  for (int64_t ti = 0; ti < tiles; ++ti) {
    const int64_t j0 = ti * kTile, m = std::min(kTile, n - j0);
    const auto set_rscale = [&] {
      for (int64_t c = 0; c < kTile; ++c) {
        if (c < m) tw.colscale[j0 + c] = m_io.nm_scale(tw.colscale[j0 + c]);  // noise management
        const float cs = tw.colscale[j0 + c];
        tw.rscale[c] = c < m && cs > 0 ? 1.0f / cs : 0.0f;
      }
    };
    bool packed = false;
    if (dac_noisy) dac_noise(dac_rng, ti, C, t.cols, tw.dac_nz);
    const float* dnz = dac_noisy ? tw.dac_nz.data() : nullptr;
#if defined(__x86_64__) && defined(__GNUC__)
    if (one_pass) {  // gather_panel then pack_panel in one pass (the same operations on the same values)
      set_rscale();
      gather_panel_avx512<true>(image, cv, j0, m, panel, nullptr, tw.rscale.data(), static_cast<float>(dac.bound), dac_step, dnz,
                                dac_sigma);
      std::fill(panel + t.cols * kTile, panel + C * kTile, 0.0f);
      packed = true;
    }
#endif
    if (!packed) {
      // The panel straight from the image (im2col columns [j0, j0 + m)), its column maxima, then
      // normalisation and DAC in place: the same values and operations as im2col + gemm().
      gather_panel(image, cv, j0, m, panel, tw.colscale.data() + j0);
      if (fused || !dac.ideal()) {
        std::fill(panel + t.cols * kTile, panel + C * kTile, 0.0f);
        set_rscale();
        pack_panel(panel, kTile, m, t.cols, tw.rscale.data(), panel, static_cast<float>(dac.bound), dac_step, dnz, dac_sigma);
      } else {
        std::fill(tw.colscale.data() + j0, tw.colscale.data() + j0 + kTile, 1.0f);  // raw inputs: no normalisation
      }
    }
    if (fused)
      adc_block_gemm(P, Q, ld, wn, tw.sstep.data(), panel, -adc_hi, adc_hi, 1.0f / adc_step, clip, tw.acc.data() + j0, adc_nz, ti,
                     bm ? tw.bm_mask.data() : nullptr, t.rows);
    else
      dense_panel_gemm(R8, t.cols, wp, panel, tw.acc.data() + j0, ld);
    if (bm && std::any_of(tw.bm_mask.begin(), tw.bm_mask.end(), [](uint16_t h) { return h != 0; })) {
      // The raw im2col columns of the panel for the recomputations.
      tw.bm_raw.resize(static_cast<size_t>(t.cols * kTile));
      float colmax[kTile];
      gather_panel(image, cv, j0, m, tw.bm_raw.data(), colmax);
      reruns += bound_fix(P, Q, n, t.cols, j0, tw.bm_mask.data(), tw.bm_raw.data(), kTile, 1, tw.rscale.data(), wn, scale, bg,
                          bm_rng, tw.acc.data() + j0, ld);
    }
    finish_panel(tw.acc.data(), ld, t.rows, j0, m, tw.colscale.data(), gain, ep, y, n);
  }
  if (reruns > 0) m_bm_reruns.fetch_add(reruns, std::memory_order_relaxed);
  return true;
}

void HardwareGemm::gemm(int64_t layer, int64_t group, int64_t sample, const float* x, bool x_trans, int64_t n, float* y,
                        bool y_trans) {
  Work& tw = ptc::hw::tw;  // the thread-local buffers, looked up once (not per element)
  const models::GemmTiles& t = m_wl.layers.at(layer).gemms.at(group);
  const int64_t k = m_wl.spec.block_size, P = t.P, Q = t.Q, R = P * k, C = Q * k;
  const uint64_t draw = m_draw_base + static_cast<uint64_t>(sample);
  const float *wn, *scale;
  weights(layer, group, draw, wn, scale);
  const float* bg = bgain(layer, group);
  std::vector<float>&xn = tw.xn, &colscale = tw.colscale, &rscale = tw.rscale, &wdense = tw.wdense, &part = tw.part,
  &acc = tw.acc;
  const float gain = layer < static_cast<int64_t>(m_gain.size()) ? m_gain[layer] : 1.0f;
  const auto dense_weights = [&](int64_t rows) {  // wn * scale as a dense [rows, C] matrix
    wdense.resize(rows * C);
    for (int64_t p = 0; p * k < rows; ++p)
      for (int64_t q = 0; q < Q; ++q) {
        const float* b = wn + (p * Q + q) * k * k;
        const float s = scale[p * Q + q];
        for (int64_t i = 0; i < k && p * k + i < rows; ++i) {
          const float si = bg ? s * bg[(p * Q + q) * k + i] : s;
          for (int64_t j = 0; j < k; ++j) wdense[(p * k + i) * C + q * k + j] = b[i * k + j] * si;
        }
      }
  };

  if (m_io.dac.ideal() && m_io.adc.ideal() && !m_io.weight_noise()) {
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

  // Inputs abs-max normalised per vector (s = max|x|, x / s as x * (1 / s)) and through the DAC:
  // for the fused kernel packed into panels of kTile columns ([tiles][C][kTile], zero-padded
  // rows and columns), else as [C, n].
  const bool fused = fused_adc();
  const int64_t tiles = (n + kTile - 1) / kTile, ld = fused ? tiles * kTile : n;
  colscale.assign(ld, 0.0f);
  if (x_trans) {
    for (int64_t j = 0; j < n; ++j) colscale[j] = abs_max(x + j * t.cols, t.cols);
  } else {
    for (int64_t i = 0; i < t.cols; ++i) abs_max_into(x + i * n, n, colscale.data());
  }
  rscale.assign(ld, 0.0f);
  for (int64_t j = 0; j < n; ++j) {
    colscale[j] = m_io.nm_scale(colscale[j]);  // noise management (abs_max: unchanged)
    rscale[j] = colscale[j] > 0 ? 1.0f / colscale[j] : 0.0f;
  }
  const ConverterSpec& dac = m_io.dac;
  const bool dac_fast = dac.bits <= 22;
  const ConverterSpec& adc = m_io.adc;
  const float adc_step = static_cast<float>(adc.step());
  acc.resize(R * ld);
  const bool clip = fused && adc_setup(P * Q, wn, scale, bg);
  const RandomStream group_rng = m_rng.derive(draw).derive(static_cast<uint64_t>(layer) << 20 | static_cast<uint64_t>(group));
  const AdcNoise adc_noise{group_rng.derive(1), static_cast<float>(adc.noise_std)};
  const AdcNoise* adc_nz = adc.noise_std > 0 ? &adc_noise : nullptr;
  const bool bm_fused = fused && m_io.bound_managed();  // bound management: the kernel marks, bound_fix recomputes
  const float adc_hi = bm_fused ? m_adc_edge : static_cast<float>(adc.bound);  // as in conv
  const RandomStream bm_fused_rng = group_rng.derive(3);
  if (bm_fused) tw.bm_mask.resize(static_cast<size_t>(P * Q));
  int64_t fused_reruns = 0;
  // After the kernel on panel ti: the marked block columns recomputed from the raw inputs x.
  const auto fix_panel = [&](int64_t ti) {
    if (!bm_fused) return;
    const int64_t j0 = ti * kTile;
    fused_reruns += bound_fix(P, Q, n, t.cols, j0, tw.bm_mask.data(), x_trans ? x + j0 * t.cols : x + j0, x_trans ? 1 : n,
                              x_trans ? t.cols : 1, rscale.data() + j0, wn, scale, bg, bm_fused_rng, acc.data() + j0, ld);
  };
  if (fused && !x_trans && dac_fast) {
    // Panel by panel: pack (normalise, DAC) kTile input columns, then all row blocks on them
    // while the panel is in L1. Converter noise drawn in bulk per panel (DAC) and per row block (ADC).
    xn.resize(C * kTile);
    const float dac_step = dac.bits > 0 ? static_cast<float>(dac.step()) : 0.0f;
    const bool dac_noisy = dac.noise_std > 0;
    const RandomStream dac_rng = group_rng.derive(0);
    for (int64_t ti = 0; ti < tiles; ++ti) {
      if (dac_noisy) dac_noise(dac_rng, ti, C, t.cols, tw.dac_nz);
      pack_panel(x + ti * kTile, n, std::min(kTile, n - ti * kTile), t.cols, rscale.data() + ti * kTile, xn.data(),
                 static_cast<float>(dac.bound), dac_step, dac_noisy ? tw.dac_nz.data() : nullptr,
                 static_cast<float>(dac.noise_std));
      std::fill(xn.data() + t.cols * kTile, xn.data() + C * kTile, 0.0f);
      adc_block_gemm(P, Q, ld, wn, tw.sstep.data(), xn.data(), -adc_hi, adc_hi, 1.0f / adc_step, clip, acc.data() + ti * kTile,
                     adc_nz, ti, bm_fused ? tw.bm_mask.data() : nullptr, t.rows);
      fix_panel(ti);
    }
  } else {
    // General case, element by element. DAC noise (real input rows only, as the panel path)
    // drawn in bulk, laid out as xn: [C, n] (element numbers i n + j), or for the fused kernel
    // panels [tiles][C][kTile] with the panel path's element numbers (dac_noise per panel).
    xn.assign(C * ld, 0.0f);
    const bool dac_noisy = dac.noise_std > 0;
    const float dac_sigma = static_cast<float>(dac.noise_std);
    if (dac_noisy) {
      const RandomStream dac_rng = group_rng.derive(0);
      tw.dac_nz.resize(static_cast<size_t>(C * ld));
      if (fused) {
        for (int64_t ti = 0; ti < tiles; ++ti)
          dac_rng.fill_normal_inv(static_cast<uint64_t>(ti * chunked(C * kTile)), t.cols * kTile,
                                  tw.dac_nz.data() + ti * C * kTile);
      } else {
        dac_rng.fill_normal_inv(0, C * ld, tw.dac_nz.data());
      }
    }
    if (fused) {
      for (int64_t i = 0; i < t.cols; ++i)
        for (int64_t j = 0; j < n; ++j) {
          const int64_t at = ((j / kTile) * C + i) * kTile + j % kTile;
          float v = (x_trans ? x[j * t.cols + i] : x[i * n + j]) * rscale[j];
          if (dac_noisy) v = std::fma(tw.dac_nz[at], dac_sigma, v);
          quantize(dac, &v, 1);
          xn[at] = v;
        }
    } else {
      // Row i of [C, n] (element numbers i n + j): the same operations per element, a row at a time.
      for (int64_t i = 0; i < t.cols; ++i) {
        dac_row(x_trans ? x + i : x + i * n, x_trans ? t.cols : 1, rscale.data(), dac_noisy ? tw.dac_nz.data() + i * n : nullptr,
                dac_sigma, n, xn.data() + i * n);
        quantize(dac, xn.data() + i * n, n);
      }
    }
    if (fused)
      for (int64_t ti = 0; ti < tiles; ++ti) {
        adc_block_gemm(P, Q, ld, wn, tw.sstep.data(), xn.data() + ti * C * kTile, -adc_hi, adc_hi, 1.0f / adc_step, clip,
                       acc.data() + ti * kTile, adc_nz, ti, bm_fused ? tw.bm_mask.data() : nullptr, t.rows);
        fix_panel(ti);
      }
  }

  if (fused) {
    // acc is complete (above)
    if (fused_reruns > 0) m_bm_reruns.fetch_add(fused_reruns, std::memory_order_relaxed);
  } else if (m_io.adc.ideal() && !m_io.weight_noise()) {
    // One dense GEMM with the effective weights (identical to summing block partials exactly).
    dense_weights(R);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(R), static_cast<int>(n), static_cast<int>(C), 1.0f,
                wdense.data(), static_cast<int>(C), xn.data(), static_cast<int>(ld), 0.0f, acc.data(), static_cast<int>(ld));
  } else {
    // Per block column q: partial sums of all P blocks at once, then the ADC, then accumulate.
    std::fill(acc.begin(), acc.end(), 0.0f);
    wdense.resize(R * k);
    part.resize(R * n);
    const RandomStream adc_rng = group_rng.derive(1);
    const bool bm = m_io.bound_managed();
    const RandomStream bm_rng = group_rng.derive(3);
    int64_t reruns = 0;
    // Without bound management the noise, the ADC and the accumulation run as one pass
    // (finish_column); with it, as separate passes, since the clipped pairs are found between the
    // noise and the ADC and recomputed before the accumulation.
    FinishColumn fin0;
    if (adc.bits > 0) {
      fin0.quant = true;
      fin0.lo = static_cast<float>(-adc.bound);
      fin0.hi = static_cast<float>(adc.bound);
      fin0.step = static_cast<float>(adc.step());
      fin0.inv = 1.0f / fin0.step;
    }
    std::vector<float>& rowscale = tw.rowscale;
    rowscale.resize(static_cast<size_t>(R));
    for (int64_t q = 0; q < Q; ++q) {
      FinishColumn fin = fin0;
      for (int64_t p = 0; p < P; ++p)
        std::copy(wn + (p * Q + q) * k * k, wn + (p * Q + q + 1) * k * k, wdense.data() + p * k * k);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(R), static_cast<int>(n), static_cast<int>(k), 1.0f,
                  wdense.data(), static_cast<int>(k), xn.data() + q * k * ld, static_cast<int>(ld), 0.0f, part.data(),
                  static_cast<int>(n));
      if (m_io.weight_noise()) {
        // Weight noise per MVM, output-referred (aihwkit's order: after the product, before the
        // output noise and the ADC); one standard normal per partial sum, element q chunked(R n) + row n + column.
        tw.wn_nz.resize(static_cast<size_t>(R * n));
        group_rng.derive(2).fill_normal_inv(static_cast<uint64_t>(q * chunked(R * n)), R * n, tw.wn_nz.data());
        const float w = static_cast<float>(m_io.w_noise);
        const float* xq = xn.data() + q * k * ld;
        if (m_io.w_noise_type == WeightNoise::additive_constant) {
          // sigma_j = w_noise ||x_n,q column j||_2, the same for every row.
          tw.wn_sig.assign(static_cast<size_t>(n), 0.0f);
          col_sumsq(xq, ld, k, n, tw.wn_sig.data());
          for (int64_t j = 0; j < n; ++j) tw.wn_sig[j] = w * std::sqrt(tw.wn_sig[j]);
          if (!bm) {
            fin.wnz = tw.wn_nz.data();
            fin.wcol = tw.wn_sig.data();
          } else {
            add_noise_cols(part.data(), tw.wn_nz.data(), tw.wn_sig.data(), R, n);
          }
        } else {
          // sigma_rj = w_noise sqrt(sum_c |wn_rc| x_n,cj^2): |W| times the squared inputs.
          tw.wn_abs.resize(static_cast<size_t>(R * k));
          tw.wn_xsq.resize(static_cast<size_t>(k * n));
          tw.wn_sig.resize(static_cast<size_t>(R * n));
          for (int64_t e = 0; e < R * k; ++e) tw.wn_abs[e] = std::abs(wdense[e]);
          for (int64_t c = 0; c < k; ++c)
            for (int64_t j = 0; j < n; ++j) tw.wn_xsq[c * n + j] = xq[c * ld + j] * xq[c * ld + j];
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(R), static_cast<int>(n), static_cast<int>(k),
                      1.0f, tw.wn_abs.data(), static_cast<int>(k), tw.wn_xsq.data(), static_cast<int>(n), 0.0f, tw.wn_sig.data(),
                      static_cast<int>(n));
          if (!bm) {
            fin.wnz = tw.wn_nz.data();
            fin.wvar = tw.wn_sig.data();
            fin.w = w;
          } else {
            add_noise_sqrt(part.data(), tw.wn_nz.data(), w, tw.wn_sig.data(), R * n);
          }
        }
      }
      if (adc.noise_std > 0) {  // ADC output noise drawn in bulk: element q chunked(R n) + row n + column
        tw.adc_nz.resize(static_cast<size_t>(R * n));
        adc_rng.fill_normal_inv(static_cast<uint64_t>(q * chunked(R * n)), R * n, tw.adc_nz.data());
        const float sigma = static_cast<float>(adc.noise_std);
        if (!bm) {
          fin.anz = tw.adc_nz.data();
          fin.asig = sigma;
        } else {
          add_noise(part.data(), tw.adc_nz.data(), sigma, R * n);
        }
      }
      if (!bm) {  // the noise, the ADC and the accumulation in one pass
        for (int64_t p = 0; p < P; ++p)
          for (int64_t i = 0; i < k; ++i)
            rowscale[p * k + i] = bg ? scale[p * Q + q] * bg[(p * Q + q) * k + i] : scale[p * Q + q];
        finish_column(fin, part.data(), R, n, rowscale.data(), acc.data(), ld);
        continue;
      }
      if (bm) {  // bound management: the (block, vector) pairs whose partial sums leave the ADC range
        tw.bm_hit.assign(static_cast<size_t>(P * n), 0);
        const float hi = m_adc_edge;  // converts past the bound
        for (int64_t r = 0; r < t.rows; ++r)
          for (int64_t j = 0; j < n; ++j)
            if (std::abs(part[r * n + j]) > hi) tw.bm_hit[(r / k) * n + j] = 1;
      }
      quantize(adc, part.data(), R * n);
      if (bm)
        for (int64_t h = 0; h < P * n; ++h)
          if (tw.bm_hit[h])
            reruns += bound_rerun(h / n, q, h % n, P, Q, n, t.cols, x_trans ? x + (h % n) * t.cols : x + h % n, x_trans ? 1 : n,
                                  rscale[h % n], wn, bm_rng, part.data() + (h / n) * k * n + h % n, n);
      for (int64_t p = 0; p < P; ++p) {
        float s = scale[p * Q + q];
        float* a = acc.data() + p * k * ld;
        const float* pp = part.data() + p * k * n;
        for (int64_t i = 0; i < k; ++i) {
          const float si = bg ? s * bg[(p * Q + q) * k + i] : s;
          for (int64_t j = 0; j < n; ++j) a[i * ld + j] += si * pp[i * n + j];
        }
      }
    }
    if (reruns > 0) m_bm_reruns.fetch_add(reruns, std::memory_order_relaxed);
  }
  write_output(layer, t.rows, n, ld, y, y_trans);
}

void HardwareGemm::prepare_batch() {
  m_cached = m_realizer.shared_across_draws();
  if (!m_cached) return;
  m_cache_wn.resize(m_wl.layers.size());
  m_cache_scale.resize(m_wl.layers.size());
  m_cache_wpack.resize(m_wl.layers.size());
  for (size_t l = 0; l < m_wl.layers.size(); ++l) {
    m_cache_wn[l].resize(m_wl.layers[l].gemms.size());
    m_cache_scale[l].resize(m_wl.layers[l].gemms.size());
    m_cache_wpack[l].resize(m_wl.layers[l].gemms.size());
    for (size_t g = 0; g < m_wl.layers[l].gemms.size(); ++g) {
      const auto& t = m_wl.layers[l].gemms[g];
      m_cache_wn[l][g].resize(t.blocks.size());
      m_cache_scale[l][g].resize(static_cast<size_t>(t.P * t.Q));
      m_realizer.realize(static_cast<int64_t>(l), static_cast<int64_t>(g), m_draw_base, m_cache_wn[l][g].data(),
                         m_cache_scale[l][g].data());
      m_cache_wpack[l][g].clear();
      if (m_io.adc.ideal() && m_wl.layers[l].op == "Conv")  // for conv_same_width
        pack_dense(t, m_wl.spec.block_size, m_cache_wn[l][g].data(), m_cache_scale[l][g].data(),
                   bgain(static_cast<int64_t>(l), static_cast<int64_t>(g)), m_cache_wpack[l][g]);
    }
  }
}

void HardwareGemm::set_gain(int64_t layer, double alpha) {
  if (layer < 0 || layer >= static_cast<int64_t>(m_wl.layers.size()) || !std::isfinite(alpha))
    throw Error("output gain: bad layer or value");
  if (m_gain.empty()) m_gain.assign(m_wl.layers.size(), 1.0f);
  m_gain[layer] = static_cast<float>(alpha);
}

void HardwareGemm::check_gains(int64_t layer, int64_t group, const std::vector<float>& v, const char* what) const {
  if (layer < 0 || layer >= static_cast<int64_t>(m_wl.layers.size()) || group < 0 ||
      group >= static_cast<int64_t>(m_wl.layers[layer].gemms.size()))
    throw Error(std::string(what) + ": bad layer or group");
  const auto& t = m_wl.layers[layer].gemms[group];
  if (!v.empty() && static_cast<int64_t>(v.size()) != t.P * t.Q * m_wl.spec.block_size)
    throw Error(std::string(what) + ": layer " + std::to_string(layer) + " expects " +
                std::to_string(t.P * t.Q * m_wl.spec.block_size) + " values, got " + std::to_string(v.size()));
  for (float g : v)
    if (!std::isfinite(g)) throw Error(std::string(what) + ": non-finite value");
}

namespace {
// The (layer, group) slot of a per-group table, sizing the table on first use.
std::vector<float>& slot(std::vector<std::vector<std::vector<float>>>& table, const models::CompiledWorkload& wl, int64_t layer,
                         int64_t group) {
  if (table.empty()) {
    table.resize(wl.layers.size());
    for (size_t l = 0; l < wl.layers.size(); ++l) table[l].resize(wl.layers[l].gemms.size());
  }
  return table[static_cast<size_t>(layer)][static_cast<size_t>(group)];
}
}  // namespace

void HardwareGemm::combine_gains(int64_t layer, int64_t group) {
  const std::vector<float>&b = slot(m_bgain, m_wl, layer, group), &r = slot(m_rscale, m_wl, layer, group);
  std::vector<float>& c = slot(m_bcomb, m_wl, layer, group);
  if (b.empty() || r.empty()) {
    c = b.empty() ? r : b;
  } else {
    c.resize(b.size());
    for (size_t i = 0; i < b.size(); ++i) c[i] = b[i] * r[i];
  }
  // The batch's packed dense weights include the gains: pack again from the cache.
  if (static_cast<size_t>(layer) < m_cache_wpack.size() && static_cast<size_t>(group) < m_cache_wpack[layer].size())
    m_cache_wpack[layer][group].clear();
}

void HardwareGemm::set_block_gains(int64_t layer, int64_t group, std::vector<float> gains) {
  check_gains(layer, group, gains, "block gains");
  slot(m_bgain, m_wl, layer, group) = std::move(gains);
  combine_gains(layer, group);
}

void HardwareGemm::set_row_scales(int64_t layer, int64_t group, std::vector<float> scales) {
  check_gains(layer, group, scales, "row scales");
  slot(m_rscale, m_wl, layer, group) = std::move(scales);
  combine_gains(layer, group);
}

const std::vector<float>& HardwareGemm::block_gains(int64_t layer, int64_t group) const {
  static const std::vector<float> none;
  if (m_bgain.empty()) return none;
  return m_bgain.at(layer).at(group);
}

const float* HardwareGemm::bgain(int64_t layer, int64_t group) const {
  if (m_bcomb.empty()) return nullptr;
  const auto& g = m_bcomb[layer][group];
  return g.empty() ? nullptr : g.data();
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

namespace {

#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"  // GCC bug 105593 (hw/physics/vec_math.h)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// For time_adc_kernel only: the lanes' raw xoshiro128+ halves as numbers (signed 16-bit, as
// floats), with no Gaussian shaping: what any per-conversion generator costs at the least (the
// random bits, their conversion, the store and the add), not a noise model.
struct RawBitsAvx512 : n16::LanesAvx512 {
  __attribute__((target("avx512f"))) void next(float* lo, float* hi) {
    const __m512i w = _mm512_add_epi32(s0, s3);
    _mm512_store_ps(lo, _mm512_cvtepi32_ps(_mm512_srai_epi32(_mm512_slli_epi32(w, 16), 16)));
    _mm512_store_ps(hi, _mm512_cvtepi32_ps(_mm512_srai_epi32(w, 16)));
    n16::xoshiro_step(s0, s1, s2, s3);
  }
};
#pragma GCC diagnostic pop

// For time_adc_kernel only, the AVX2 route's floor: steps 0 .. n - 1 of the lanes as raw signed
// 16-bit halves (no Gaussian shaping), in n16::steps's layout.
__attribute__((target("avx2"))) void raw_bits_avx2(uint32_t st[4][16], int64_t n, float* out) {
  for (int h = 0; h < 16; h += 8) {
    __m256i s0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(st[0] + h)),
            s1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(st[1] + h)),
            s2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(st[2] + h)),
            s3 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(st[3] + h));
    for (int64_t s = 0; s < n; ++s) {
      const __m256i w = _mm256_add_epi32(s0, s3);
      _mm256_storeu_ps(out + 2 * s * 16 + h, _mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_slli_epi32(w, 16), 16)));
      _mm256_storeu_ps(out + (2 * s + 1) * 16 + h, _mm256_cvtepi32_ps(_mm256_srai_epi32(w, 16)));
      n16::xoshiro_step(s0, s1, s2, s3);
    }
  }
}
#endif

}  // namespace

AdcKernelTiming time_adc_kernel(int64_t P, int64_t Q, int64_t panels, int reps) {
#if defined(__x86_64__) && defined(__GNUC__)
  const bool avx512 = vmath::use_avx512();
  if (!avx512 && !vmath::use_avx2())
    throw Error("time_adc_kernel: the fused ADC kernels time on AVX-512 or AVX2 + FMA only (not with PTC_NO_AVX2)");
  if (P < 1 || Q < 1 || panels < 1 || reps < 1) throw Error("time_adc_kernel: P, Q, panels and reps must be >= 1");
  constexpr int64_t K = 8;
  RandomStream rng(7, 11);
  std::vector<float> wn(static_cast<size_t>(P * Q * K * K)), sstep(static_cast<size_t>(P * Q * K), 1.0f / 128.0f),
      xp(static_cast<size_t>(panels * Q * K * kTile)), acc(static_cast<size_t>(P * K * kTile));
  for (size_t i = 0; i < wn.size(); ++i)  // |w| <= 1 (a block's normalised weights)
    wn[i] = static_cast<float>(2.0 * rng.uniform(i) - 1.0);
  for (size_t i = 0; i < xp.size(); ++i) {  // ReLU-like inputs in [0, 1]: half of them zero
    const double v = rng.uniform(wn.size() + i);
    xp[i] = v < 0.5 ? 0.0f : static_cast<float>(2.0 * v - 1.0);
  }
  const float bound = 8.0f, inv = 127.5f / bound;  // 8-bit ADC at full scale k = 8
  const AdcNoise noise{rng.derive(1), 0.02f};
  double sink = 0.0;
  // AVX2 (no fused generator): the route draws a row block's normals into a buffer, then runs the
  // kernel; its frame adds a buffer of zeros, its floor a buffer of raw bits.
  std::vector<float> zeros(static_cast<size_t>(Q * K * kTile), 0.0f), bits(zeros.size());
  auto run_avx2 = [&](int mode, int64_t pn, const float* x) {
    if (mode == 0)
      return adc_block_gemm_avx2<false, false, false>(P, Q, kTile, wn.data(), sstep.data(), x, -bound, bound, inv, acc.data(),
                                                      nullptr, 0.0f, 0, nullptr);
    if (mode == 2)
      return adc_block_gemm(P, Q, kTile, wn.data(), sstep.data(), x, -bound, bound, inv, true, acc.data(), &noise, pn);
    for (int64_t p = 0; p < P; ++p) {
      uint32_t st[4][16];
      n16::seed_lanes(noise.rng.seed(), noise.rng.stream(), static_cast<uint64_t>(pn * P + p), st);
      if (mode == 3) raw_bits_avx2(st, Q * K / 2, bits.data());
      adc_block_gemm_avx2<true, true, false>(1, Q, kTile, wn.data() + p * Q * K * K, sstep.data() + p * Q * K, x, -bound, bound,
                                             inv, acc.data() + p * K * kTile, mode == 3 ? bits.data() : zeros.data(), noise.sigma,
                                             0, nullptr);
    }
  };
  auto run = [&](int mode) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t pn = 0; pn < panels; ++pn) {
      const float* x = xp.data() + pn * Q * K * kTile;
      if (!avx512) {
        run_avx2(mode, pn, x);
      } else if (mode == 0) {
        adc_block_gemm_avx512<false, false>(P, Q, kTile, wn.data(), sstep.data(), x, -bound, bound, inv, acc.data());
      } else if (mode == 2) {
        adc_block_gemm(P, Q, kTile, wn.data(), sstep.data(), x, -bound, bound, inv, true, acc.data(), &noise, pn);
      } else {
        for (int64_t p = 0; p < P; ++p) {
          RawBitsAvx512 lanes;
          n16::seed_lanes(noise.rng.seed(), noise.rng.stream(), static_cast<uint64_t>(pn * P + p), lanes);
          const float *w = wn.data() + p * Q * K * K, *s = sstep.data() + p * Q * K;
          float* a = acc.data() + p * K * kTile;
          if (mode == 1)
            adc_block_gemm_avx512<true, false>(1, Q, kTile, w, s, x, -bound, bound, inv, a);
          else
            adc_block_gemm_avx512<true, true, false, RawBitsAvx512>(1, Q, kTile, w, s, x, -bound, bound, inv, a, &lanes,
                                                                    noise.sigma);
        }
      }
      sink += static_cast<double>(acc[static_cast<size_t>(pn % (P * K * kTile))]);
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  double best[4] = {1e300, 1e300, 1e300, 1e300};
  for (int r = 0; r < reps; ++r)
    for (int mode = 0; mode < 4; ++mode) best[mode] = std::min(best[mode], run(mode));
  const double per = 1e9 / static_cast<double>(panels * P * Q * K * kTile);
  AdcKernelTiming t{best[0] * per, best[1] * per, best[2] * per, best[3] * per, sink, avx512 ? "avx512" : "avx2"};
  return t;
#else
  (void)P, (void)Q, (void)panels, (void)reps;
  throw Error("time_adc_kernel: the fused ADC kernels time on x86-64 with AVX-512 or AVX2 only");
#endif
}

}  // namespace ptc::hw
