#include "hw/physics/rng.h"

#include <Random123/boxmuller.hpp>
#include <Random123/philox.h>
#include <Random123/uniform.hpp>

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

RandomStream RandomStream::derive(uint64_t id) const {
  // Mix (stream, id) through one Philox call into a new 64-bit stream id.
  Philox::ctr_type r = block(m_seed ^ 0x9E3779B97F4A7C15ULL, m_stream, id);
  return RandomStream(m_seed, (uint64_t{r[1]} << 32) | r[0]);
}

}  // namespace ptc::hw
