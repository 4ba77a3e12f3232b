// The backward products of on-chip training on the chip's own arithmetic (Mirage: Demirkiran et
// al., "Mirage: An RNS-Based Photonic Accelerator for DNN Training", ISCA 2024, section 4; docs
// onchip_training.md §2). The input-gradient product (W^T dY) and the weight-gradient product
// (dY X^T) of every hardware layer are computed as the array computes its dot products: the
// reduction dimension K is cut into segments of h = the core size, and each segment's dot product
// is one read of the array; segment results are accumulated digitally (in segment order, in double).
//
// Two arithmetics, with the same grouping so that they differ only where the converters differ:
// - RNS (`rns` device): one BFP exponent per row of op(A) and per column of op(B) within each
//   segment, or within each group of group_tiles segments (mantissa bits of the device), the integer dot product read as one RRNS
//   word through the modulus channels, decoded, corrected or retried as the forward words (rns/block_reads.h, the same exact
//   sampler). Where a word runs sets its channels' phase errors: the rows of op(A) are cut into blocks of h, and block (p, q)
//   (rows p h .. p h + h - 1, segment q) runs on core (p mod R) C + (q mod C) of the R x C array (the forward's cyclic mapping of
//   a block (p, q), models/compiler.cpp), row m on the core's row m mod h, so channel c of that row reads with the ring-phase
//   offset, per-read std and thermal offset of that ring at the training batch's instant plus the channel's own sigma_phi
//   (RnsPlacement, filled by RnsCore::backward_gemm). Noise-free it is exact: y = 2^(e_a + e_b) * sum q_a q_b.
// - Analog (every other device): per segment, each row of op(A) and each column of op(B) is
//   divided by its largest |value| (a, b) and sent through the input DAC (IoSpec::dac: bits, bound,
//   noise); the normalised partial sum goes through the ADC (IoSpec::adc: bound in normalised
//   partial sums, noise, bits) and is multiplied back by a b. With ideal converters it is the exact
//   float product (up to the order of summation).
//
// Contract: thread-safe; the result of a call is a pure function of its arguments and the stream
// given at construction: noise draws of product (layer, pass, site) come from
// stream.derive(layer).derive(pass).derive(site). Counters (RNS words) are summed under a lock.
#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

#include "hw/device/technology.h"
#include "hw/hardware_gemm.h"
#include "hw/physics/rng.h"
#include "hw/rns/block_reads.h"
#include "hw/rns/rns_tile.h"
#include "models/gradients.h"

namespace ptc::hw {

// The phase errors of the RNS core's channels where backward words run: an R x C array of cores
// of h rows, offset_rad and std_rad [(X h + i) (n + r) + c] for core X = row C + column, row i,
// channel c.
struct RnsPlacement {
  int64_t rows = 1, cols = 1;
  int64_t cores() const { return rows * cols; }
  std::vector<double> offset_rad, std_rad;
};

class ChipBackwardGemm : public models::BackwardGemm {
 public:
  // RNS arithmetic: the tile's code and BFP spec, one core whose every row reads channel c with
  // per-read phase noise sigma_phi_rad[c] (n + r values) and no offset.
  ChipBackwardGemm(const rns::RnsTile& tile, std::vector<double> sigma_phi_rad, const RandomStream& stream);
  // RNS arithmetic on the chip's cores (see above).
  ChipBackwardGemm(const rns::RnsTile& tile, RnsPlacement placement, const RandomStream& stream);
  // Analog arithmetic: converters of `io`, segments of h.
  ChipBackwardGemm(const IoSpec& io, int64_t h, const RandomStream& stream);

  void gemm(const models::BackwardSite& at, bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
            const float* B, int ldb, float beta, float* C, int ldc) override;

  bool rns() const { return m_tile != nullptr; }
  int64_t h() const { return m_h; }
  // RNS words read so far (first attempts, retries, errors: rrns.h); zero for the analog arithmetic.
  rns::RrnsCounters counters() const;
  // Segment dot products computed so far (array reads, one per output element and segment).
  int64_t reads() const;
  // RNS on the chip's cores: per ring (X k^2 + i k + c mod k, the layout of
  // Technology::ring_observations) the reads of its row so far (one per block read of the row,
  // plus its retries) and the residues the decoder corrected on it; empty for the analog
  // arithmetic. The selective re-calibration counts these with the forward words' (docs/rns.md §7).
  RingObservations ring_observations() const;

 private:
  const rns::RnsTile* m_tile = nullptr;
  RnsPlacement m_place;
  std::vector<rns::BlockLaws> m_full;  // per core: the read laws of a block of h rows
  IoSpec m_io;
  int64_t m_h = 1;
  RandomStream m_stream;
  mutable std::mutex m_mutex;
  rns::RrnsCounters m_counters;
  int64_t m_reads = 0;
  RingObservations m_obs;
};

}  // namespace ptc::hw
