// Counter-based random streams (Philox4x32-10 from Debian's librandom123): every draw is a pure
// function of (seed, stream id, index), so any instant can be evaluated directly and results do
// not depend on evaluation order or thread count.
#pragma once

#include <cstdint>

namespace ptc::hw {

class RandomStream {
 public:
  RandomStream(uint64_t seed, uint64_t stream) : m_seed(seed), m_stream(stream) {}

  // Standard normal number `index` of this stream (Box-Muller on Philox output).
  double normal(uint64_t index) const;
  // normal(2 p) and normal(2 p + 1) from one Philox call and one Box-Muller (the same bits as two
  // normal() calls, which each compute the pair and keep one).
  void normal_pair(uint64_t p, double& even, double& odd) const;
  // out[j] = normal(first + j) for j < n, each pair computed once.
  void normals(uint64_t first, int64_t n, double* out) const;
  // Uniform number `index` in (0, 1).
  double uniform(uint64_t index) const;
  // out[j] = normal(first + j) for j < n (double Box-Muller, two per Philox call).
  void fill_normal(uint64_t first, int64_t n, float* out) const;
  // Bulk standard normals for per-draw device noise: out[j] = fast normal number first + j of
  // this stream, a pure function of (seed, stream, first + j). Four per Philox call (float
  // Box-Muller on 32-bit uniforms with vectorised log/sincos, hw/physics/vec_math.h); its own
  // counter range, so independent of normal() and uniform(). Tails are cut at 5.9 sigma
  // (uniforms have 24 bits).
  void fill_normal_fast(uint64_t first, int64_t n, float* out) const;
  // Bulk standard normals for converter noise, cheaper still: out[j] = inverse-CDF normal number
  // first + j of this stream, a pure function of (seed, stream, first + j). Chunks of
  // kNormalInvChunk numbers (fastest when `first` is a multiple of it);
  // chunk c seeds 16 xoshiro128+ lanes from Philox (its own counter range, so independent of the
  // other draws); each 32-bit output gives one normal by a polynomial inverse normal CDF per
  // octave (|error| < 3.2e-5; 23-bit uniforms cut the tails at 5.4 sigma).
  void fill_normal_inv(uint64_t first, int64_t n, float* out) const;
  static constexpr int64_t kNormalInvChunk = 4096;

  uint64_t seed() const { return m_seed; }
  uint64_t stream() const { return m_stream; }
  // A sub-stream for a component: independent of this one and of other ids.
  RandomStream derive(uint64_t id) const;

 private:
  uint64_t m_seed, m_stream;
};

}  // namespace ptc::hw
