// Branch-free float transcendental functions and a lane-parallel Philox4x32-10, written so that
// the compiler vectorises loops over them (no libm calls, no data-dependent branches).
// Contract: pure functions; the same input gives the same bits for a given build and CPU
// dispatch path. Accuracy (checked in tests/unit/test_vec_math.cpp against libm):
// - log_f: |error| < 3e-7 absolute on [1e-8, 1] (the Box-Muller range), relative 2e-7 elsewhere,
//   for positive normal floats.
// - sincos_2pi_f(u) = (cos 2 pi u, sin 2 pi u) for u in [0, 1): |error| < 3e-7.
// - cos_f: |error| < 3e-7 for |x| <= kCosMaxArg (Cody-Waite reduction, Cephes' 3-part pi/2);
//   callers fall back to std::cos outside that range.
// Polynomials: Taylor series (Abramowitz & Stegun 4.1.27 atanh form for log; 4.3.65/4.3.66 for
// sin/cos), truncated where the next term is below float resolution on the reduced range.
// Philox4x32-10: Salmon et al., SC'11 ("Parallel random numbers: as easy as 1, 2, 3"); the same
// bits as Random123's philox4x32 (checked in the tests).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

namespace ptc::hw::vmath {

inline uint32_t bits_of(float x) {
  uint32_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}
inline float float_of(uint32_t b) {
  float x;
  std::memcpy(&x, &b, sizeof x);
  return x;
}

// Natural log of a positive normal float.
inline float log_f(float x) {
  const uint32_t b = bits_of(x);
  int32_t e = static_cast<int32_t>((b >> 23) & 0xffu) - 127;
  float m = float_of((b & 0x7fffffu) | 0x3f800000u);  // [1, 2)
  const bool big = m > 1.41421356f;
  m = big ? m * 0.5f : m;
  e = big ? e + 1 : e;
  const float s = (m - 1.0f) / (m + 1.0f), s2 = s * s;  // |s| <= 0.1716
  const float p = s2 * (1.0f / 3 + s2 * (1.0f / 5 + s2 * (1.0f / 7 + s2 * (1.0f / 9))));
  const float fe = static_cast<float>(e);
  // ln 2 split so that fe * ln2_hi is exact for |e| < 2^9.
  return fe * 0.693145751953125f + (2.0f * s + (2.0f * s * p + fe * 1.428606765330187e-06f));
}

// sin and cos of r for |r| <= pi/4.
inline void sincos_reduced(float r, float& s, float& c) {
  const float r2 = r * r;
  s = r + r * r2 * (-1.0f / 6 + r2 * (1.0f / 120 + r2 * (-1.0f / 5040 + r2 * (1.0f / 362880))));
  c = 1.0f + r2 * (-0.5f + r2 * (1.0f / 24 + r2 * (-1.0f / 720 + r2 * (1.0f / 40320 + r2 * (-1.0f / 3628800)))));
}

// (cos 2 pi u, sin 2 pi u) for u in [0, 1): the quadrant comes from u itself, so there is no
// reduction error.
inline void sincos_2pi_f(float u, float& c_out, float& s_out) {
  const float t = 4.0f * u;
  const int32_t qi = static_cast<int32_t>(t + 0.5f);  // nearest quadrant, t >= 0
  const float r = (t - static_cast<float>(qi)) * 1.57079632679489662f;
  float s, c;
  sincos_reduced(r, s, c);
  const int32_t q = qi & 3;
  // Rotate by q * 90 degrees: (c, s), (-s, c), (-c, -s), (s, -c).
  const float cc = (q & 1) ? s : c, ss = (q & 1) ? c : s;
  c_out = (q == 1 || q == 2) ? -cc : cc;
  s_out = (q >= 2) ? -ss : ss;
}

constexpr float kCosMaxArg = 4096.0f;

// cos x for |x| <= kCosMaxArg.
inline float cos_f(float x) {
  const float y = x * 0.636619772367581343f;  // 2 / pi
  const int32_t q = static_cast<int32_t>(y + (y >= 0 ? 0.5f : -0.5f));
  const float fq = static_cast<float>(q);
  // Cephes' pi/2 = DP1 + DP2 + DP3 (DP1 has 8 significant bits: fq * DP1 exact for |q| < 2^16).
  const float r = ((x - fq * 1.5703125f) - fq * 4.837512969970703125e-4f) - fq * 7.54978995489188216e-8f;
  float s, c;
  sincos_reduced(r, s, c);
  const int32_t m = q & 3;
  const float v = (m & 1) ? s : c;
  return (m == 1 || m == 2) ? -v : v;  // cos(r + m pi/2): c, -s, -c, s
}

// Philox4x32-10 on kLanes counters at once (c0..c3 in, results in place), key (k0, k1).
constexpr int kLanes = 16;
inline void philox4x32_10(uint32_t* c0, uint32_t* c1, uint32_t* c2, uint32_t* c3, uint32_t k0, uint32_t k1) {
  for (int round = 0; round < 10; ++round) {
    for (int i = 0; i < kLanes; ++i) {
      const uint64_t p0 = uint64_t{0xD2511F53u} * c0[i], p1 = uint64_t{0xCD9E8D57u} * c2[i];
      const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1[i] ^ k0;
      const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3[i] ^ k1;
      c1[i] = static_cast<uint32_t>(p1);
      c3[i] = static_cast<uint32_t>(p0);
      c0[i] = n0;
      c2[i] = n2;
    }
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
// The same 16 lanes with AVX-512F intrinsics. The loop above vectorises its 32 x 32 -> 64-bit
// products as 64-bit multiplies (vpmullq: 3 uops each); here they are vpmuludq on the even and
// on the odd lanes (one uop each), the high and low halves blended back into 32-bit lanes.
// Known false positive (GCC bug 105593, seen with Debian's GCC 12.2): the unmasked AVX-512
// intrinsics used here (_mm512_mul_epu32, _mm512_srli/slli_epi64) pass _mm512_undefined_epi32()
// (deliberately self-initialised, `__m512i __Y = __Y;`) as the pass-through operand of an
// all-ones mask, so that operand is never read, yet GCC reports "'__Y' is used uninitialized"
// once they are inlined here. Silenced for this function only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
// In registers: x0..x3 are the counters' words in, the results out.
__attribute__((target("avx512f"))) inline void philox4x32_10_avx512(__m512i& x0, __m512i& x1, __m512i& x2, __m512i& x3,
                                                                    uint32_t k0, uint32_t k1) {
  const __m512i m0 = _mm512_set1_epi32(static_cast<int>(0xD2511F53u)), m1 = _mm512_set1_epi32(static_cast<int>(0xCD9E8D57u));
  constexpr __mmask16 odd = 0xAAAA;
  for (int round = 0; round < 10; ++round) {
    const __m512i e0 = _mm512_mul_epu32(x0, m0), o0 = _mm512_mul_epu32(_mm512_srli_epi64(x0, 32), m0);
    const __m512i e1 = _mm512_mul_epu32(x2, m1), o1 = _mm512_mul_epu32(_mm512_srli_epi64(x2, 32), m1);
    const __m512i hi0 = _mm512_mask_blend_epi32(odd, _mm512_srli_epi64(e0, 32), o0);
    const __m512i lo0 = _mm512_mask_blend_epi32(odd, e0, _mm512_slli_epi64(o0, 32));
    const __m512i hi1 = _mm512_mask_blend_epi32(odd, _mm512_srli_epi64(e1, 32), o1);
    const __m512i lo1 = _mm512_mask_blend_epi32(odd, e1, _mm512_slli_epi64(o1, 32));
    // 0x96: a ^ b ^ c
    x0 = _mm512_ternarylogic_epi32(hi1, x1, _mm512_set1_epi32(static_cast<int>(k0)), 0x96);
    x2 = _mm512_ternarylogic_epi32(hi0, x3, _mm512_set1_epi32(static_cast<int>(k1)), 0x96);
    x1 = lo1;
    x3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
}

__attribute__((target("avx512f"))) inline void philox4x32_10_avx512(uint32_t* c0, uint32_t* c1, uint32_t* c2, uint32_t* c3,
                                                                    uint32_t k0, uint32_t k1) {
  static_assert(kLanes == 16, "one AVX-512 register of 32-bit lanes");
  __m512i x0 = _mm512_loadu_si512(c0), x1 = _mm512_loadu_si512(c1), x2 = _mm512_loadu_si512(c2), x3 = _mm512_loadu_si512(c3);
  philox4x32_10_avx512(x0, x1, x2, x3, k0, k1);
  _mm512_storeu_si512(c0, x0);
  _mm512_storeu_si512(c1, x1);
  _mm512_storeu_si512(c2, x2);
  _mm512_storeu_si512(c3, x3);
}
#pragma GCC diagnostic pop
#endif

// The AVX-512 kernels where the CPU has them, unless PTC_NO_AVX512 is set in the environment.
inline bool use_avx512() {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool v = __builtin_cpu_supports("avx512f") && std::getenv("PTC_NO_AVX512") == nullptr;
  return v;
#else
  return false;
#endif
}

// Else the AVX2 + FMA kernels, unless PTC_NO_AVX2 is set too (then the portable ones). Tests run
// each path that way; all give the same bits.
inline bool use_avx2() {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool v = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && std::getenv("PTC_NO_AVX2") == nullptr;
  return v;
#else
  return false;
#endif
}

// philox4x32_10 through the AVX-512 path when the CPU has it (the same bits either way).
inline void philox4x32_10_fast(uint32_t* c0, uint32_t* c1, uint32_t* c2, uint32_t* c3, uint32_t k0, uint32_t k1) {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool avx512 = use_avx512();
  if (avx512) return philox4x32_10_avx512(c0, c1, c2, c3, k0, k1);
#endif
  philox4x32_10(c0, c1, c2, c3, k0, k1);
}

}  // namespace ptc::hw::vmath
