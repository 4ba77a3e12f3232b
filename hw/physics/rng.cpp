#include "hw/physics/rng.h"

#include <Random123/philox.h>
#include <Random123/boxmuller.hpp>
#include <Random123/uniform.hpp>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "hw/physics/normal16.h"
#include "hw/physics/vec_math.h"

namespace ptc::hw {
namespace {

using Philox = r123::Philox4x32;

// Counter = (block lo, block hi, stream lo, stream hi); key = seed.
Philox::ctr_type block(uint64_t seed, uint64_t stream, uint64_t b) {
  Philox::ctr_type c = {{static_cast<uint32_t>(b), static_cast<uint32_t>(b >> 32), static_cast<uint32_t>(stream),
                         static_cast<uint32_t>(stream >> 32)}};
  Philox::key_type k = {{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)}};
  return Philox()(c, k);
}

// Counter range of the fast normals (bit 62 of the block index; uniforms use bit 63).
constexpr uint64_t kFastNormalRange = uint64_t{1} << 62;
constexpr int kPerCall = 4 * vmath::kLanes;  // normals per lane-parallel Philox call

// 4 * kLanes normals of blocks b0 .. b0 + kLanes - 1: out[4 i + j] = normal j of block b0 + i.
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"))) void fast_normals(uint64_t seed, uint64_t stream,
                                                                                                uint64_t b0, float* out) {
  constexpr int L = vmath::kLanes;
  uint32_t c0[L], c1[L], c2[L], c3[L];
  for (int i = 0; i < L; ++i) {
    const uint64_t b = (b0 + static_cast<uint64_t>(i)) | kFastNormalRange;
    c0[i] = static_cast<uint32_t>(b);
    c1[i] = static_cast<uint32_t>(b >> 32);
    c2[i] = static_cast<uint32_t>(stream);
    c3[i] = static_cast<uint32_t>(stream >> 32);
  }
  vmath::philox4x32_10_fast(c0, c1, c2, c3, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  // Box-Muller on (c0, c1) and (c2, c3): u in (0, 1) from the top 24 bits.
  constexpr float kU = 1.0f / 16777216.0f;
  for (int i = 0; i < L; ++i) {
    const float ua = (static_cast<float>(c0[i] >> 8) + 0.5f) * kU, va = static_cast<float>(c1[i] >> 8) * kU;
    const float ub = (static_cast<float>(c2[i] >> 8) + 0.5f) * kU, vb = static_cast<float>(c3[i] >> 8) * kU;
    float ra = -2.0f * vmath::log_f(ua), rb = -2.0f * vmath::log_f(ub);
    ra = std::sqrt(ra);  // ra > 0: u < 1
    rb = std::sqrt(rb);
    float ca, sa, cb, sb;
    vmath::sincos_2pi_f(va, ca, sa);
    vmath::sincos_2pi_f(vb, cb, sb);
    out[4 * i] = ra * ca;
    out[4 * i + 1] = ra * sa;
    out[4 * i + 2] = rb * cb;
    out[4 * i + 3] = rb * sb;
  }
}

// Converter normals (fill_normal_inv): chunks of kInvChunk numbers; chunk c seeds 16 xoshiro128+
// lanes (Blackman and Vigna, "Scrambled linear pseudorandom number generators", ACM TOMS 2021)
// with one Philox4x32-10 block each (counter (16 c + lane) | bit 61, so its own range); number
// 16 s + lane of the chunk is the lane's output s, 32 bits w: sign = bit 31, the next 23 bits
// give v = (m + 1/2) 2^-24 in (0, 1/2), and the number is -/+ Phi^-1(v) from a degree-4
// polynomial per octave of v (tools/bench/fit_inverse_normal.py; |error| < 3.2e-5).
constexpr uint64_t kInvRange = uint64_t{1} << 61;
constexpr int kInvChunk = static_cast<int>(RandomStream::kNormalInvChunk), kInvSteps = kInvChunk / 16;
// kInvCoef[k][o]: coefficient of t^k in octave o (v in [2^-(o+2), 2^-(o+1)), t = v 2^(o+2)); 32 wide for vpermt2ps.
alignas(64) const float kInvCoef[5][32] = {
    {-1.77945232f,
     -2.06906891f,
     -2.3313446f,
     -2.57449484f,
     -2.80167007f,
     -3.01533103f,
     -3.21742821f,
     -3.40952134f,
     -3.59286976f,
     -3.76850343f,
     -3.93727326f,
     -4.09989023f,
     -4.25695515f,
     -4.40897894f,
     -4.55640173f,
     -4.69960403f,
     -4.83891821f,
     -4.9746356f,
     -5.10701418f,
     -5.23628235f,
     -5.36264467f,
     -5.48628426f,
     -5.60736609f,
     -5.72603941f,
     0,
     0,
     0,
     0,
     0,
     0,
     0,
     0},
    {1.57268119f,
     1.36824298f,
     1.21284163f,
     1.09681773f,
     1.00676632f,
     0.934619129f,
     0.875324488f,
     0.825575709f,
     0.783121645f,
     0.746377051f,
     0.714192927f,
     0.685715199f,
     0.660295427f,
     0.637431502f,
     0.616728485f,
     0.597870946f,
     0.580603778f,
     0.564718246f,
     0.550041616f,
     0.536429763f,
     0.523761332f,
     0.511933327f,
     0.500857711f,
     0.490458727f,
     0,
     0,
     0,
     0,
     0,
     0,
     0,
     0},
    {-0.636930108f,
     -0.608505607f,
     -0.561549544f,
     -0.520305097f,
     -0.485305548f,
     -0.455644101f,
     -0.430313826f,
     -0.408464283f,
     -0.389424473f,
     -0.372674167f,
     -0.357809782f,
     -0.344515771f,
     -0.332543045f,
     -0.321692675f,
     -0.311804175f,
     -0.302746743f,
     -0.294412553f,
     -0.28671217f,
     -0.27957058f,
     -0.272924453f,
     -0.266719967f,
     -0.260910988f,
     -0.255457819f,
     -0.250326067f,
     0,
     0,
     0,
     0,
     0,
     0,
     0,
     0},
    {0.190762892f,
     0.18150717f,
     0.16672802f,
     0.154554993f,
     0.144386858f,
     0.135788023f,
     0.128431946f,
     0.122069135f,
     0.116508603f,
     0.111603558f,
     0.107240207f,
     0.103329405f,
     0.099800542f,
     0.0965970606f,
     0.0936731473f,
     0.0909913331f,
     0.0885206908f,
     0.0862354264f,
     0.0841139108f,
     0.0821378008f,
     0.0802914947f,
     0.0785615891f,
     0.0769365206f,
     0.0754062608f,
     0,
     0,
     0,
     0,
     0,
     0,
     0,
     0},
    {-0.021519836f,
     -0.0224976391f,
     -0.020770805f,
     -0.0192811415f,
     -0.0180302318f,
     -0.0169703346f,
     -0.0160621814f,
     -0.0152754867f,
     -0.0145870484f,
     -0.0139790215f,
     -0.0134375514f,
     -0.0129517699f,
     -0.0125130527f,
     -0.0121144811f,
     -0.0117504429f,
     -0.0114163412f,
     -0.0111083761f,
     -0.0108233765f,
     -0.010558675f,
     -0.0103120152f,
     -0.0100814691f,
     -0.00986538175f,
     -0.00966232549f,
     -0.00947105791f,
     0,
     0,
     0,
     0,
     0,
     0,
     0,
     0},
};

// 16 xoshiro128+ lane states st[word][lane] from the Philox blocks first + lane of (seed, stream).
void philox_lanes(uint64_t seed, uint64_t stream, uint64_t first, uint32_t st[4][16]) {
  for (int i = 0; i < 16; ++i) {
    const uint64_t b = first + static_cast<uint64_t>(i);
    st[0][i] = static_cast<uint32_t>(b);
    st[1][i] = static_cast<uint32_t>(b >> 32);
    st[2][i] = static_cast<uint32_t>(stream);
    st[3][i] = static_cast<uint32_t>(stream >> 32);
  }
  vmath::philox4x32_10_fast(st[0], st[1], st[2], st[3], static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  for (int i = 0; i < 16; ++i)
    if ((st[0][i] | st[1][i] | st[2][i] | st[3][i]) == 0) st[0][i] = 1;  // xoshiro's one forbidden state
}

// The lanes' xoshiro128+ states of chunk c.
void inv_seed(uint64_t seed, uint64_t stream, uint64_t chunk, uint32_t st[4][16]) {
  philox_lanes(seed, stream, (chunk * 16) | kInvRange, st);
}

// The normal of one 32-bit word (scalar; the AVX-512 path does the same operations).
inline float inv_normal(uint32_t w) {
  const float v = std::fma(static_cast<float>((w >> 8) & 0x7fffffu), 5.9604644775390625e-8f, 2.98023223876953125e-8f);
  const uint32_t b = vmath::bits_of(v);
  const uint32_t o = 125u - (b >> 23);
  const float t = vmath::float_of((b & 0x7fffffu) | 0x3f800000u);
  float p = kInvCoef[4][o];
  for (int k = 3; k >= 0; --k) p = std::fma(p, t, kInvCoef[k][o]);
  return vmath::float_of(vmath::bits_of(p) ^ (w & 0x80000000u));
}

// The first `steps` outputs of the lanes (16 numbers each).
void inv_chunk_portable(uint32_t st[4][16], float* out, int steps) {
  for (int s = 0; s < steps; ++s)
    for (int i = 0; i < 16; ++i) {
      uint32_t &s0 = st[0][i], &s1 = st[1][i], &s2 = st[2][i], &s3 = st[3][i];
      out[s * 16 + i] = inv_normal(s0 + s3);
      n16::xoshiro_step(s0, s1, s2, s3);
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
// GCC bug 105593 (see hw/physics/vec_math.h): false "used uninitialized" warnings from the
// unmasked AVX-512 shift intrinsics, silenced for this function only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
__attribute__((target("avx512f"))) void inv_chunk_avx512(uint32_t st[4][16], float* out, int steps) {
  __m512i s0 = _mm512_loadu_si512(st[0]), s1 = _mm512_loadu_si512(st[1]), s2 = _mm512_loadu_si512(st[2]),
          s3 = _mm512_loadu_si512(st[3]);
  __m512 lo[5], hi[5];
  for (int k = 0; k < 5; ++k) {
    lo[k] = _mm512_load_ps(kInvCoef[k]);
    hi[k] = _mm512_load_ps(kInvCoef[k] + 16);
  }
  const __m512i m23 = _mm512_set1_epi32(0x7fffff), one = _mm512_set1_epi32(0x3f800000), c125 = _mm512_set1_epi32(125),
                sign = _mm512_set1_epi32(static_cast<int>(0x80000000u));
  const __m512 scale = _mm512_set1_ps(5.9604644775390625e-8f), half = _mm512_set1_ps(2.98023223876953125e-8f);
  for (int s = 0; s < steps; ++s) {
    const __m512i w = _mm512_add_epi32(s0, s3);
    const __m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srli_epi32(w, 8), m23)), scale, half);
    const __m512i b = _mm512_castps_si512(v);
    const __m512i o = _mm512_sub_epi32(c125, _mm512_srli_epi32(b, 23));
    const __m512 t = _mm512_castsi512_ps(_mm512_or_si512(_mm512_and_si512(b, m23), one));
    __m512 p = _mm512_permutex2var_ps(lo[4], o, hi[4]);
    for (int k = 3; k >= 0; --k) p = _mm512_fmadd_ps(p, t, _mm512_permutex2var_ps(lo[k], o, hi[k]));
    _mm512_storeu_ps(out + s * 16, _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(p), _mm512_and_si512(w, sign))));
    n16::xoshiro_step(s0, s1, s2, s3);
  }
}
#pragma GCC diagnostic pop
#endif

#if defined(__x86_64__) && defined(__GNUC__)
// tab[o] for 8 lanes of o in [0, 24) (the octaves inv_chunk evaluates): three 8-entry quarters
// permuted by o's low 3 bits, then chosen by bit 3 and bit 4.
__attribute__((target("avx2"))) inline __m256 lut24_avx2(const float* tab, __m256i o) {
  const __m256 q0 = _mm256_permutevar8x32_ps(_mm256_load_ps(tab), o), q1 = _mm256_permutevar8x32_ps(_mm256_load_ps(tab + 8), o),
               q2 = _mm256_permutevar8x32_ps(_mm256_load_ps(tab + 16), o);
  const __m256 b3 = _mm256_castsi256_ps(_mm256_slli_epi32(o, 28)), b4 = _mm256_castsi256_ps(_mm256_slli_epi32(o, 27));
  return _mm256_blendv_ps(_mm256_blendv_ps(q0, q1, b3), q2, b4);
}

// inv_chunk_avx512 with AVX2 + FMA, 8 lanes at a time (the same operations, so the same bits).
// The octave o = 125 - exponent(v) is in [0, 24) for every v = (m + 1/2) 2^-24 in (0, 1/2).
__attribute__((target("avx2,fma"))) void inv_chunk_avx2(uint32_t st[4][16], float* out, int steps) {
  const __m256i m23 = _mm256_set1_epi32(0x7fffff), one = _mm256_set1_epi32(0x3f800000), c125 = _mm256_set1_epi32(125),
                sign = _mm256_set1_epi32(static_cast<int>(0x80000000u));
  const __m256 scale = _mm256_set1_ps(5.9604644775390625e-8f), half = _mm256_set1_ps(2.98023223876953125e-8f);
  for (int h = 0; h < 16; h += 8) {
    __m256i s0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(st[0] + h)),
            s1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(st[1] + h)),
            s2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(st[2] + h)),
            s3 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(st[3] + h));
    for (int s = 0; s < steps; ++s) {
      const __m256i w = _mm256_add_epi32(s0, s3);
      const __m256 v = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(w, 8), m23)), scale, half);
      const __m256i b = _mm256_castps_si256(v);
      const __m256i o = _mm256_sub_epi32(c125, _mm256_srli_epi32(b, 23));
      const __m256 t = _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(b, m23), one));
      __m256 p = lut24_avx2(kInvCoef[4], o);
      for (int k = 3; k >= 0; --k) p = _mm256_fmadd_ps(p, t, lut24_avx2(kInvCoef[k], o));
      _mm256_storeu_ps(out + s * 16 + h,
                       _mm256_castsi256_ps(_mm256_xor_si256(_mm256_castps_si256(p), _mm256_and_si256(w, sign))));
      n16::xoshiro_step(s0, s1, s2, s3);
    }
  }
}
#endif

// The first 16 steps numbers of chunk c.
void inv_chunk(uint64_t seed, uint64_t stream, uint64_t chunk, float* out, int steps) {
  uint32_t st[4][16];
  inv_seed(seed, stream, chunk, st);
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool avx512 = vmath::use_avx512();
  if (avx512) return inv_chunk_avx512(st, out, steps);
  static const bool avx2 = vmath::use_avx2();
  if (avx2) return inv_chunk_avx2(st, out, steps);
#endif
  inv_chunk_portable(st, out, steps);
}

}  // namespace

namespace n16 {

// Counter ranges of the 16-bit normals: lane seeds (bit 60) and tail draws (bit 59).
constexpr uint64_t kLaneRange = uint64_t{1} << 60, kTailRange = uint64_t{1} << 59;
constexpr uint64_t kMaxBlocks = uint64_t{1} << 26;

// tools/bench/fit_inverse_normal16.py (pieces 30 and 31 are never evaluated).
alignas(64) const float kCoef[4][32] = {
    {-4.53385305f, -4.46036053f, -4.38572836f, -4.30995464f, -4.23293543f, -4.15466452f, -4.07295084f, -3.99294281f,
     -3.91045809f, -3.82688689f, -3.74090195f, -3.65380812f, -3.56413913f, -3.47320914f, -3.37944674f, -3.28420353f,
     -3.18579984f, -3.08563471f, -2.98190308f, -2.87605643f, -2.76613927f, -2.65365958f, -2.53647947f, -2.41616917f,
     -2.29036951f, -2.16073251f, -2.02469087f, -1.88429034f, -1.73885548f, -1.60787392f, 0.0f,         0.0f},
    {0.539062381f, 0.388136804f, 0.557350755f, 0.40174517f,  0.5775702f,   0.416840225f, 0.595773816f, 0.43214184f,
     0.62327975f,  0.451968402f, 0.652422309f, 0.473792583f, 0.685229301f, 0.498712361f, 0.72308588f,  0.527724624f,
     0.767542064f, 0.562095344f, 0.820713997f, 0.603628516f, 0.885708749f, 0.655038416f, 0.967312872f, 0.720606744f,
     1.07327461f,  0.807470798f, 1.21708131f,  0.92920059f,  1.43268692f,  1.16164982f,  0.0f,         0.0f},
    {-0.212356582f, -0.108573638f, -0.219157189f, -0.112158552f, -0.226626113f, -0.116106667f, -0.231999099f, -0.11973539f,
     -0.242722705f, -0.125018269f, -0.253375769f, -0.13060151f,  -0.265037358f, -0.136835665f, -0.278219372f, -0.143942177f,
     -0.293347955f, -0.15214619f,  -0.310910165f, -0.161719158f, -0.331500351f, -0.172985867f, -0.355789244f, -0.186270744f,
     -0.384276479f, -0.201653704f, -0.416501284f, -0.218705818f, -0.457030147f, -0.269181669f, 0.0f,          0.0f},
    {0.0375897139f, 0.0137014221f, 0.0387742668f, 0.0141463457f, 0.040073216f,  0.0146355433f, 0.0408930108f, 0.015063202f,
     0.0428275801f, 0.0157295559f, 0.0446894802f, 0.0164207574f, 0.046705626f,  0.017187288f,  0.0489737615f, 0.0180577394f,
     0.0515681356f, 0.0190595556f, 0.0545717105f, 0.020226039f,  0.0580894686f, 0.0216002297f, 0.0622595884f, 0.0232407618f,
     0.0672891811f, 0.0252581518f, 0.0738029853f, 0.0282790139f, 0.0887525007f, 0.0451633707f, 0.0f,          0.0f},
};

void seed_lanes(uint64_t seed, uint64_t stream, uint64_t block, uint32_t st[4][16]) {
  if (block >= kMaxBlocks) throw std::out_of_range("converter noise: more than 2^26 noise blocks in one layer group");
  philox_lanes(seed, stream, (block * 16) | kLaneRange, st);
}

#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"  // GCC bug 105593 (hw/physics/vec_math.h)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
__attribute__((target("avx512f"))) void seed_lanes(uint64_t seed, uint64_t stream, uint64_t block, LanesAvx512& lanes) {
  if (block >= kMaxBlocks) throw std::out_of_range("converter noise: more than 2^26 noise blocks in one layer group");
  // Counter of lane i = (block 16 | kLaneRange) + i: the low 4 bits are i, no carry.
  const uint64_t first = (block * 16) | kLaneRange;
  __m512i x0 = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(first))),
                                _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  __m512i x1 = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(first >> 32)));
  __m512i x2 = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(stream)));
  __m512i x3 = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(stream >> 32)));
  vmath::philox4x32_10_avx512(x0, x1, x2, x3, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  // xoshiro's one forbidden state (all words 0) -> word 0 = 1, as philox_lanes does
  const __mmask16 zero =
      _mm512_testn_epi32_mask(_mm512_or_si512(_mm512_or_si512(x0, x1), _mm512_or_si512(x2, x3)), _mm512_set1_epi32(-1));
  lanes.s0 = _mm512_mask_mov_epi32(x0, zero, _mm512_set1_epi32(1));
  lanes.s1 = x1;
  lanes.s2 = x2;
  lanes.s3 = x3;
}
#pragma GCC diagnostic pop
#endif

float tail_normal(uint64_t seed, uint64_t stream, uint64_t block, uint64_t index, uint32_t m, bool neg) {
  const Philox::ctr_type r = ::ptc::hw::block(seed, stream, (block << 32 | (index & 0xffffffffu)) | kTailRange);
  const uint32_t fine = (m << 8) | (r[0] >> 24);  // 256 m + 8 more bits: v = (fine + 1/2) 2^-24
  return inv_normal((neg ? 0x80000000u : 0u) | (fine << 8));
}

void step_portable(uint32_t st[4][16], uint64_t seed, uint64_t stream, uint64_t block, uint64_t s, float* lo, float* hi) {
  for (int i = 0; i < 16; ++i) {
    uint32_t &s0 = st[0][i], &s1 = st[1][i], &s2 = st[2][i], &s3 = st[3][i];
    const uint32_t w = s0 + s3;
    const uint32_t ml = (w >> 1) & 0x7fffu, mh = (w >> 16) & 0x7fffu;
    lo[i] =
        ml < 8 ? tail_normal(seed, stream, block, 32 * s + static_cast<uint64_t>(i), ml, w & 1u) : normal_of(2 * ml + 1, w & 1u);
    hi[i] = mh < 8 ? tail_normal(seed, stream, block, 32 * s + 16 + static_cast<uint64_t>(i), mh, w >> 31)
                   : normal_of(2 * mh + 1, w >> 31);
    xoshiro_step(s0, s1, s2, s3);
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
namespace {
// normal_of(2 m + 1, false) for every magnitude m >= 8 (0 below: those take the tail path),
// computed once by the scalar function itself, so a lookup gives its bits: 128 KB, in L2.
const float* magnitude_table() {
  static const std::vector<float> t = [] {
    std::vector<float> v(32768, 0.0f);
    for (uint32_t m = 8; m < 32768; ++m) v[m] = normal_of(2 * m + 1, false);
    return v;
  }();
  return t.data();
}

__attribute__((target("avx2,fma"))) void steps_avx2(uint32_t st[4][16], uint64_t seed, uint64_t stream, uint64_t block,
                                                    uint64_t first, int64_t n, float* out) {
  const float* tab = magnitude_table();
  const __m256i m15x = _mm256_set1_epi32(0x7fff), sbit = _mm256_set1_epi32(static_cast<int>(0x80000000u));
  const __m256i eight = _mm256_set1_epi32(8);
  for (int h = 0; h < 16; h += 8) {
    __m256i s0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(st[0] + h)),
            s1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(st[1] + h)),
            s2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(st[2] + h)),
            s3 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(st[3] + h));
    for (int64_t s = 0; s < n; ++s) {
      const __m256i w = _mm256_add_epi32(s0, s3);
      // magnitudes: m = bits 1..15 (low half), bits 16..30 (high half); |normal| by table lookup
      // (its bits are normal_of's), sign xor-ed in: bit 0 (low half), bit 31 (high half)
      const __m256i mlo = _mm256_and_si256(_mm256_srli_epi32(w, 1), m15x), mhi = _mm256_and_si256(_mm256_srli_epi32(w, 16), m15x);
      float* lo = out + 2 * s * 16 + h;
      float* hi = lo + 16;
      const __m256 glo = _mm256_i32gather_ps(tab, mlo, 4), ghi = _mm256_i32gather_ps(tab, mhi, 4);
      _mm256_storeu_ps(lo, _mm256_castsi256_ps(_mm256_xor_si256(_mm256_castps_si256(glo), _mm256_slli_epi32(w, 31))));
      _mm256_storeu_ps(hi, _mm256_castsi256_ps(_mm256_xor_si256(_mm256_castps_si256(ghi), _mm256_and_si256(w, sbit))));
      const int tails = _mm256_movemask_ps(
          _mm256_castsi256_ps(_mm256_or_si256(_mm256_cmpgt_epi32(eight, mlo), _mm256_cmpgt_epi32(eight, mhi))));  // m < 8
      if (tails) {
        alignas(32) uint32_t wl[8];
        _mm256_store_si256(reinterpret_cast<__m256i*>(wl), w);
        const uint64_t base = 32 * (first + static_cast<uint64_t>(s));
        for (int l = 0; l < 8; ++l) {
          if (!((tails >> l) & 1)) continue;
          const uint32_t x = wl[l], ml = (x >> 1) & 0x7fffu, mh = (x >> 16) & 0x7fffu;
          const auto lane = static_cast<uint64_t>(h + l);
          if (ml < 8) lo[l] = tail_normal(seed, stream, block, base + lane, ml, x & 1u);
          if (mh < 8) hi[l] = tail_normal(seed, stream, block, base + 16 + lane, mh, x >> 31);
        }
      }
      n16::xoshiro_step(s0, s1, s2, s3);
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(st[0] + h), s0);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(st[1] + h), s1);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(st[2] + h), s2);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(st[3] + h), s3);
  }
}
}  // namespace
#endif

void steps(uint32_t st[4][16], uint64_t seed, uint64_t stream, uint64_t block, uint64_t first, int64_t n, float* out) {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool avx2 = vmath::use_avx2();
  if (avx2) return steps_avx2(st, seed, stream, block, first, n, out);
#endif
  for (int64_t s = 0; s < n; ++s)
    step_portable(st, seed, stream, block, first + static_cast<uint64_t>(s), out + 2 * s * 16, out + (2 * s + 1) * 16);
}

}  // namespace n16

double RandomStream::normal(uint64_t index) const {
  double even, odd;
  normal_pair(index / 2, even, odd);
  return index % 2 ? odd : even;
}

void RandomStream::normal_pair(uint64_t p, double& even, double& odd) const {
  // Each Philox block gives 2 x 64-bit words -> 2 doubles via Box-Muller.
  Philox::ctr_type r = block(m_seed, m_stream, p);
  uint64_t u0 = (uint64_t{r[1]} << 32) | r[0], u1 = (uint64_t{r[3]} << 32) | r[2];
  r123::double2 z = r123::boxmuller(u0, u1);
  even = z.x, odd = z.y;
}

void RandomStream::normals(uint64_t first, int64_t n, double* out) const {
  int64_t j = 0;
  double e, o;
  if (n > 0 && first % 2) {  // an odd first index: the odd half of its pair
    normal_pair(first / 2, e, o);
    out[j++] = o;
  }
  for (; j + 1 < n; j += 2) normal_pair((first + static_cast<uint64_t>(j)) / 2, out[j], out[j + 1]);
  if (j < n) {
    normal_pair((first + static_cast<uint64_t>(j)) / 2, e, o);
    out[j] = e;
  }
}

double RandomStream::uniform(uint64_t index) const {
  // Uniforms use their own counter range (top bit set) so they never share bits with normals.
  Philox::ctr_type r = block(m_seed, m_stream, (index / 2) | (uint64_t{1} << 63));
  uint64_t u = index % 2 ? ((uint64_t{r[3]} << 32) | r[2]) : ((uint64_t{r[1]} << 32) | r[0]);
  return r123::u01<double>(u);
}

void RandomStream::fill_normal(uint64_t first, int64_t n, float* out) const {
  double buf[256];
  for (int64_t j = 0; j < n; j += 256) {
    const int64_t m = std::min<int64_t>(256, n - j);
    normals(first + static_cast<uint64_t>(j), m, buf);
    for (int64_t i = 0; i < m; ++i) out[j + i] = static_cast<float>(buf[i]);
  }
}

void RandomStream::fill_normal_fast(uint64_t first, int64_t n, float* out) const {
  if (n <= 0) return;
  float buf[kPerCall];
  uint64_t idx = first;
  const uint64_t end = first + static_cast<uint64_t>(n);
  while (idx < end) {
    const uint64_t b0 = idx / 4, base = b0 * 4;
    const uint64_t skip = idx - base;
    if (skip == 0 && end - idx >= static_cast<uint64_t>(kPerCall)) {
      fast_normals(m_seed, m_stream, b0, out + (idx - first));
      idx += kPerCall;
      continue;
    }
    fast_normals(m_seed, m_stream, b0, buf);
    const uint64_t take = std::min<uint64_t>(kPerCall - skip, end - idx);
    std::copy(buf + skip, buf + skip + take, out + (idx - first));
    idx += take;
  }
}

void RandomStream::fill_normal_inv(uint64_t first, int64_t n, float* out) const {
  if (n <= 0) return;
  alignas(64) float buf[kInvChunk];
  uint64_t idx = first;
  const uint64_t end = first + static_cast<uint64_t>(n);
  while (idx < end) {
    // Only the steps up to the last number needed are generated (a chunk is sequential).
    const uint64_t c = idx / kInvChunk, skip = idx - c * kInvChunk;
    const uint64_t take = std::min<uint64_t>(kInvChunk - skip, end - idx);
    const int steps = static_cast<int>((skip + take + 15) / 16);
    if (skip == 0 && take % 16 == 0) {
      inv_chunk(m_seed, m_stream, c, out + (idx - first), steps);
    } else {
      inv_chunk(m_seed, m_stream, c, buf, steps);
      std::copy(buf + skip, buf + skip + take, out + (idx - first));
    }
    idx += take;
  }
}

RandomStream RandomStream::derive(uint64_t id) const {
  // Mix (stream, id) through one Philox call into a new 64-bit stream id.
  Philox::ctr_type r = block(m_seed ^ 0x9E3779B97F4A7C15ULL, m_stream, id);
  return RandomStream(m_seed, (uint64_t{r[1]} << 32) | r[0]);
}

}  // namespace ptc::hw
