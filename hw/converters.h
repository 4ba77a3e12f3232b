// DAC/ADC models with aihwkit's resolution convention (docs/converters_energy.md §1): a converter
// has a bound (clipping at +-bound) and a resolution given in bits: n bits = 2^n - 2 steps over
// [-bound, +bound] (step = 2 bound / (2^n - 2)); bits = 0 is ideal (no quantisation, no clipping).
// Optional Gaussian output noise (std in the same units) is added before quantisation.
#pragma once

#include <cstdint>

#include "hw/physics/rng.h"

namespace ptc::hw {

struct ConverterSpec {
  int bits = 0;          // 0 = ideal
  double bound = 1.0;    // full scale, in the converter's normalised units
  double noise_std = 0;  // additive Gaussian noise before quantisation (ADC output noise)
  bool ideal() const { return bits == 0 && noise_std == 0; }
  double step() const;  // quantisation step (0 when ideal)
  // The largest float x that converts within the bound: nearbyint(x * (1 / step)), in float as
  // quantize() computes it, is at most the bound's level (bits > 0; bound itself otherwise). A
  // value beyond it rounds to a level past the bound. aihwkit's bound management tests the
  // discretised output against the bound, so this is its test before rounding
  // (docs/converters_energy.md section 2).
  float clip_edge() const;
};

// Clips to +-bound and rounds to the step, in place (nothing when bits == 0).
void quantize(const ConverterSpec& c, float* x, int64_t n);
// Adds noise_std * N(0,1) from `rng` at indices [first, first + n), then quantises.
void convert(const ConverterSpec& c, float* x, int64_t n, const RandomStream& rng, uint64_t first);

}  // namespace ptc::hw
