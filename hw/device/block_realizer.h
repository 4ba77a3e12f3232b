// How a device technology hands its weights to the tensor cores.
// Contract: realize() writes, for one group of one compiled layer and one inference draw, the
// normalised effective weights of every block, laid out [P, Q, k, k] (what the core computes
// with, |w| <= ~1), and one digital scale per block [P, Q]; the effective weight is wn * scale.
// It is const, thread-safe and a pure function of (device state, noise time set beforehand,
// layer, group, draw): the same draw gives the same bits on any thread.
// (A technology whose core cannot be described by effective weights, e.g. an RNS modular core,
// implements models::MappedGemm directly instead.)
#pragma once

#include <cstdint>

namespace ptc::hw {

class BlockRealizer {
 public:
  virtual ~BlockRealizer() = default;
  virtual void realize(int64_t layer, int64_t group, uint64_t draw, float* wn, float* scale) const = 0;
  // True when realize() gives the same weights for every draw of the current batch (no per-draw
  // noise, one noise instant), so the weights can be materialised once per batch.
  virtual bool shared_across_draws() const { return false; }
};

}  // namespace ptc::hw
