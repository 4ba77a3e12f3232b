// The weight layers of a compiled workload on RNS tiles (docs/rns.md §6): every k x k block of
// the compiled layout [P, Q, k, k] is one RnsTile of dot-product length h = k (block floating
// point per block row and per k-input segment, one RRNS word per block row and input vector),
// partial sums of the Q blocks of a row block accumulated digitally in q order.
//
// Contract: a models::MappedGemm (models/mapped_gemm.h): thread-safe, results independent of the
// calling thread; noise draw (layer, group, sample, vector, block, row) is a pure function of the
// stream given at construction. Counters are summed per layer under a lock. Not yet a registered
// device: the `rns` device will own one of these (docs/rns.md §7).
#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

#include "hw/physics/rng.h"
#include "hw/rns/rns_tile.h"
#include "models/compiler.h"
#include "models/mapped_gemm.h"

namespace ptc::hw::rns {

class RnsGemm : public models::MappedGemm {
 public:
  // sigma_phi_rad: one Gaussian phase-noise std per channel (n + k; zeros = noise-free). The
  // workload must outlive this object; its weights are quantised here, once.
  RnsGemm(const models::CompiledWorkload& wl, const RnsTileSpec& spec, std::vector<double> sigma_phi_rad,
          const RandomStream& rng);

  void gemm(int64_t layer, int64_t group, int64_t sample, const float* x, bool x_trans, int64_t n, float* y,
            bool y_trans) override;

  const RnsTile& tile() const { return m_tile; }
  RrnsCounters counters(int64_t layer) const;

 private:
  const models::CompiledWorkload& m_wl;
  RnsTile m_tile;
  std::vector<double> m_sigma;
  RandomStream m_rng;
  std::vector<std::vector<std::vector<RnsTile::Weights>>> m_weights;  // [layer][group][block p Q + q]
  mutable std::mutex m_mutex;
  std::vector<RrnsCounters> m_counters;  // per layer
};

}  // namespace ptc::hw::rns
