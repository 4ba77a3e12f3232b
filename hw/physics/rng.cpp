#include "hw/physics/rng.h"

#include <Random123/philox.h>
#include <Random123/boxmuller.hpp>
#include <Random123/uniform.hpp>

#include <algorithm>
#include <cmath>

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

}  // namespace

double RandomStream::normal(uint64_t index) const {
  // Each Philox block gives 2 x 64-bit words -> 2 doubles via Box-Muller.
  Philox::ctr_type r = block(m_seed, m_stream, index / 2);
  uint64_t u0 = (uint64_t{r[1]} << 32) | r[0], u1 = (uint64_t{r[3]} << 32) | r[2];
  r123::double2 z = r123::boxmuller(u0, u1);
  return index % 2 ? z.y : z.x;
}

double RandomStream::uniform(uint64_t index) const {
  // Uniforms use their own counter range (top bit set) so they never share bits with normals.
  Philox::ctr_type r = block(m_seed, m_stream, (index / 2) | (uint64_t{1} << 63));
  uint64_t u = index % 2 ? ((uint64_t{r[3]} << 32) | r[2]) : ((uint64_t{r[1]} << 32) | r[0]);
  return r123::u01<double>(u);
}

void RandomStream::fill_normal(uint64_t first, int64_t n, float* out) const {
  for (int64_t j = 0; j < n; ++j) out[j] = static_cast<float>(normal(first + static_cast<uint64_t>(j)));
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

RandomStream RandomStream::derive(uint64_t id) const {
  // Mix (stream, id) through one Philox call into a new 64-bit stream id.
  Philox::ctr_type r = block(m_seed ^ 0x9E3779B97F4A7C15ULL, m_stream, id);
  return RandomStream(m_seed, (uint64_t{r[1]} << 32) | r[0]);
}

}  // namespace ptc::hw
