#include "hw/converters.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace ptc::hw {

double ConverterSpec::step() const {
  return bits > 0 ? 2 * bound / (std::ldexp(1.0, bits) - 2) : 0.0;
}

float ConverterSpec::clip_edge() const {
  const float b = static_cast<float>(bound);
  if (bits <= 0) return b;
  const float step_f = static_cast<float>(step()), inv = 1.0f / step_f;
  const float top = std::nearbyint(b * inv);  // the bound's level, as quantize() converts the bound
  const auto within = [&](uint32_t u) {
    float x;
    std::memcpy(&x, &u, 4);
    return std::nearbyint(x * inv) <= top;
  };
  // Positive floats order as their bit patterns: within(lo) holds (the bound), within(hi) does not
  // (a step past it); bisect to the last pattern that holds.
  uint32_t lo, hi;
  const float past = b + step_f;
  std::memcpy(&lo, &b, 4);
  std::memcpy(&hi, &past, 4);
  while (hi - lo > 1) {
    const uint32_t mid = lo + (hi - lo) / 2;
    (within(mid) ? lo : hi) = mid;
  }
  float edge;
  std::memcpy(&edge, &lo, 4);
  return edge;
}

namespace {
// The x86-64-v3 clone rounds with vroundps in the current rounding mode; the baseline calls libm's
// nearbyintf per element. Both round to nearest even, so the bits are the same.
__attribute__((target_clones("arch=x86-64-v3", "default"))) void quantize_span(float* x, int64_t n, float lo, float hi, float inv,
                                                                               float step) {
  for (int64_t i = 0; i < n; ++i) x[i] = std::nearbyint(std::min(std::max(x[i], lo), hi) * inv) * step;
}
}  // namespace

void quantize(const ConverterSpec& c, float* x, int64_t n) {
  if (c.bits <= 0) return;
  const float lo = static_cast<float>(-c.bound), hi = static_cast<float>(c.bound);
  const float step = static_cast<float>(c.step()), inv = 1.0f / step;
  quantize_span(x, n, lo, hi, inv, step);
}

void convert(const ConverterSpec& c, float* x, int64_t n, const RandomStream& rng, uint64_t first) {
  if (c.noise_std > 0)
    for (int64_t i = 0; i < n; ++i) x[i] += static_cast<float>(c.noise_std * rng.normal(first + static_cast<uint64_t>(i)));
  quantize(c, x, n);
}

}  // namespace ptc::hw
