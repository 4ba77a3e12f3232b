// Converter normals drawn inside a kernel, 16 bits each (docs/converters_energy.md section 2):
// block `block` of a stream is 16 xoshiro128+ lanes (Blackman and Vigna, "Scrambled linear
// pseudorandom number generators", ACM TOMS 47(4), 2021) seeded by one Philox4x32-10 block each
// (counter range bit 60, its own); step s of the lanes gives 32 normals, number 32 s + l from the
// low half of lane l's 32-bit output w and number 32 s + 16 + l from its high half:
//   low:  sign = bit 0 of w,  magnitude m = bits 1..15
//   high: sign = bit 31 of w, magnitude m = bits 16..30
// and the normal is -/+ Phi^-1(v) with v = (2 m + 1) 2^-17 = (m + 1/2) 2^-16, from a degree-3
// polynomial per half octave of v (tools/bench/fit_inverse_normal16.py; |error| < 4.4e-5).
// Magnitudes m < 8 (|normal| > 3.6, probability 2^-12 per normal) take 8 more bits from a
// Philox draw of their own, v = (256 m + b + 1/2) 2^-24, on the 24-octave polynomial of
// RandomStream::fill_normal_inv: the tails reach 5.4 sigma, as there. Every normal is a pure
// function of (seed, stream, block, number). The AVX-512 step and the portable step give the same
// bits.
#pragma once

#include <cstdint>
#include <cstring>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

namespace ptc::hw::n16 {

// One xoshiro128+ step of a lane's state (Blackman and Vigna's reference; the output is s0 + s3
// before the step).
inline void xoshiro_step(uint32_t& s0, uint32_t& s1, uint32_t& s2, uint32_t& s3) {
  const uint32_t t = s1 << 9;
  s2 ^= s0;
  s3 ^= s1;
  s1 ^= s2;
  s0 ^= s3;
  s2 ^= t;
  s3 = (s3 << 11) | (s3 >> 21);
}

// kCoef[k][j]: coefficient of t^k on piece j = (bits of float(2 m + 1) >> 22) mod 32.
extern const float kCoef[4][32];

// The 16 lanes of block `block` of stream (seed, stream): st[word][lane].
void seed_lanes(uint64_t seed, uint64_t stream, uint64_t block, uint32_t st[4][16]);

// Normal number `index` (< 2^32) of the block for a tail magnitude m < 8 (neg: sign bit set).
float tail_normal(uint64_t seed, uint64_t stream, uint64_t block, uint64_t index, uint32_t m, bool neg);

// The normal of odd a = 2 m + 1 >= 16 (the vector step does the same operations).
inline float normal_of(uint32_t a, bool neg) {
  const float fa = static_cast<float>(a);
  uint32_t b;
  std::memcpy(&b, &fa, 4);
  const uint32_t j = (b >> 22) & 31u, tb = (b & 0x7fffffu) | 0x3f800000u;
  float t;
  std::memcpy(&t, &tb, 4);
  float p = __builtin_fmaf(kCoef[3][j], t, kCoef[2][j]);
  p = __builtin_fmaf(p, t, kCoef[1][j]);
  p = __builtin_fmaf(p, t, kCoef[0][j]);
  return neg ? -p : p;
}

// One step of the lanes (scalar): lo[l] = normal 32 s + l, hi[l] = normal 32 s + 16 + l.
void step_portable(uint32_t st[4][16], uint64_t seed, uint64_t stream, uint64_t block, uint64_t s, float* lo, float* hi);

// Steps first .. first + n - 1 of the lanes: out[(2 k) 16 + l] = lo, out[(2 k + 1) 16 + l] = hi of
// step first + k (AVX2 + FMA where the CPU has them, else step_portable; the same bits).
void steps(uint32_t st[4][16], uint64_t seed, uint64_t stream, uint64_t block, uint64_t first, int64_t n, float* out);

#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"  // GCC bug 105593 (hw/physics/vec_math.h)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// The same step on 16 lanes in registers.
__attribute__((target("avx512f"))) inline void xoshiro_step(__m512i& s0, __m512i& s1, __m512i& s2, __m512i& s3) {
  const __m512i t9 = _mm512_slli_epi32(s1, 9);
  s2 = _mm512_xor_si512(s2, s0);
  s3 = _mm512_xor_si512(s3, s1);
  s1 = _mm512_xor_si512(s1, s2);
  s0 = _mm512_xor_si512(s0, s3);
  s2 = _mm512_xor_si512(s2, t9);
  s3 = _mm512_rol_epi32(s3, 11);
}

// The lanes in registers, for a kernel that adds the normals as it goes.
struct LanesAvx512 {
  __m512i s0, s1, s2, s3;
  uint64_t seed, stream, block, step = 0;

  __attribute__((target("avx512f"))) void load(const uint32_t st[4][16]) {
    s0 = _mm512_loadu_si512(st[0]);
    s1 = _mm512_loadu_si512(st[1]);
    s2 = _mm512_loadu_si512(st[2]);
    s3 = _mm512_loadu_si512(st[3]);
  }

  // Piecewise polynomial of odd a (as int32 lanes), sign from `sgn`'s bit 31.
  __attribute__((target("avx512f"))) static __m512 poly(__m512i a, __m512i sgn) {
    const __m512i b = _mm512_castps_si512(_mm512_cvtepi32_ps(a));
    const __m512i j = _mm512_srli_epi32(b, 22);
    // 0xEA: (b & m23) | one
    const __m512 t =
        _mm512_castsi512_ps(_mm512_ternarylogic_epi32(b, _mm512_set1_epi32(0x7fffff), _mm512_set1_epi32(0x3f800000), 0xEA));
    __m512 p = _mm512_fmadd_ps(_mm512_permutex2var_ps(_mm512_load_ps(kCoef[3]), j, _mm512_load_ps(kCoef[3] + 16)), t,
                               _mm512_permutex2var_ps(_mm512_load_ps(kCoef[2]), j, _mm512_load_ps(kCoef[2] + 16)));
    p = _mm512_fmadd_ps(p, t, _mm512_permutex2var_ps(_mm512_load_ps(kCoef[1]), j, _mm512_load_ps(kCoef[1] + 16)));
    p = _mm512_fmadd_ps(p, t, _mm512_permutex2var_ps(_mm512_load_ps(kCoef[0]), j, _mm512_load_ps(kCoef[0] + 16)));
    // 0x78: p ^ (sgn & signbit)
    return _mm512_castsi512_ps(
        _mm512_ternarylogic_epi32(_mm512_castps_si512(p), sgn, _mm512_set1_epi32(static_cast<int>(0x80000000u)), 0x78));
  }

  // The next step, stored: lo[l] = normal 32 s + l, hi[l] = normal 32 s + 16 + l (64-byte aligned).
  __attribute__((target("avx512f"))) void next(float* lo, float* hi) {
    const __m512i w = _mm512_add_epi32(s0, s3);
    const __m512i one = _mm512_set1_epi32(1), even = _mm512_set1_epi32(0xfffe);
    // 0xEA: (x & even) | one
    const __m512i alo = _mm512_ternarylogic_epi32(w, even, one, 0xEA);
    const __m512i ahi = _mm512_ternarylogic_epi32(_mm512_srli_epi32(w, 15), even, one, 0xEA);
    _mm512_store_ps(lo, poly(alo, _mm512_slli_epi32(w, 31)));
    _mm512_store_ps(hi, poly(ahi, w));
    // Tail magnitudes (a < 16) in either half: rare, patched lane by lane.
    const __mmask16 tail =
        _mm512_testn_epi32_mask(w, _mm512_set1_epi32(0xfff0)) | _mm512_testn_epi32_mask(w, _mm512_set1_epi32(0x7ff80000));
    if (__builtin_expect(tail != 0, 0)) patch(seed, stream, block, step, w, tail, lo, hi);
    xoshiro_step(s0, s1, s2, s3);
    ++step;
  }

  __attribute__((target("avx512f"), noinline, cold)) static void patch(uint64_t seed, uint64_t stream, uint64_t block,
                                                                       uint64_t step, __m512i w, __mmask16 tail, float* l,
                                                                       float* h) {
    alignas(64) uint32_t ws[16];
    _mm512_store_si512(ws, w);
    for (int i = 0; i < 16; ++i) {
      if (!((tail >> i) & 1)) continue;
      const uint32_t ml = (ws[i] >> 1) & 0x7fffu, mh = (ws[i] >> 16) & 0x7fffu;
      if (ml < 8) l[i] = tail_normal(seed, stream, block, 32 * step + i, ml, ws[i] & 1u);
      if (mh < 8) h[i] = tail_normal(seed, stream, block, 32 * step + 16 + i, mh, ws[i] >> 31);
    }
  }
};

// The same step on 8 lanes in registers (AVX2).
__attribute__((target("avx2"))) inline void xoshiro_step(__m256i& s0, __m256i& s1, __m256i& s2, __m256i& s3) {
  const __m256i t9 = _mm256_slli_epi32(s1, 9);
  s2 = _mm256_xor_si256(s2, s0);
  s3 = _mm256_xor_si256(s3, s1);
  s1 = _mm256_xor_si256(s1, s2);
  s0 = _mm256_xor_si256(s0, s3);
  s2 = _mm256_xor_si256(s2, t9);
  s3 = _mm256_or_si256(_mm256_slli_epi32(s3, 11), _mm256_srli_epi32(s3, 21));
}

// The 16 lanes of block `block` of stream (seed, stream), as seed_lanes gives them, seeded in
// registers (the ADC kernel seeds one set per row block and panel).
void seed_lanes(uint64_t seed, uint64_t stream, uint64_t block, LanesAvx512& lanes);
#pragma GCC diagnostic pop
#endif

}  // namespace ptc::hw::n16
