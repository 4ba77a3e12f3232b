// The noisy reads of one RNS block (docs/rns.md §7), shared by the core's forward GEMM (RnsCore)
// and the backward products of on-chip training (ChipBackwardGemm): a block of `rows` words, each
// read through the n + r modulus channels, channel c of row i with phase error delta ~ N(mu, s^2)
// (mu: the ring's deterministic offset, s: its per-read std), which shifts the residue by
// round(delta m_c / 2 pi), independently of the residue.
//
// Exact and cheap: per block and input vector one uniform decides whether any of its rows (n + r)
// reads errs (probability 1 - prod (1 - p)); only then are the reads drawn one by one, conditioned
// on at least one error, and each erring read's shift from its law given s != 0. Draw indices of a
// block with base b and N = rows (n + r) reads: b (any error), b + 1 + j (read j errs), b + 1 + N +
// j (its shift); retry a of row i draws from stream.derive(b).derive(i), indices 2 (a (n + r) + c)
// and + 1. A block therefore uses draw indices [b, b + 1 + 2N).
//
// Contract: const and thread-safe; results are pure functions of the laws, the stream and the base.
#pragma once

#include <cstdint>
#include <vector>

#include "hw/physics/rng.h"
#include "hw/rns/rrns.h"

namespace ptc::hw::rns {

// The residue shift of one channel read: nonzero shifts with their probabilities.
struct ShiftLaw {
  double p_err = 0;            // P(s != 0)
  std::vector<int64_t> shift;  // nonzero shifts
  std::vector<double> cum;     // cumulative probabilities of the nonzero shifts (last = p_err)
  // A nonzero shift from u in [0, p_err).
  int64_t pick(double u) const;
};
// s = round(delta m / 2 pi) mod m with delta ~ N(mu, sigma^2) (sigma 0: deterministic).
ShiftLaw shift_law(int64_t m, double mu, double sigma);

// One decoded word.
struct WordOutcome {
  int64_t value = 0;            // the decoded integer (0 when flagged after R retries)
  int retries = 0;              // recomputations made
  uint64_t corrected_mask = 0;  // channels whose residue the decoder corrected (any attempt)
};

class BlockLaws {
 public:
  // offset_rad, std_rad: [i (n + r) + c] for rows i < rows (the code's channel count n + r <= 64).
  BlockLaws(const RrnsCode& code, int64_t rows, const double* offset_rad, const double* std_rad);
  int64_t rows() const { return m_rows; }
  bool noisy() const { return m_any.empty() ? false : m_any[0] > 0; }
  // Draws the shifts of every read of the block (shifts: rows (n + r) values; all 0 when the
  // block is clean) and returns whether any read errs.
  bool draw(const RandomStream& s, uint64_t base, int64_t* shifts) const;
  // Reads row i's word whose exact value is d with the drawn shifts sh (n + r values; nullptr or
  // all zero: clean, the word is d) and decodes it; an uncorrectable word is recomputed up to
  // max_retries times with fresh reads (the offsets stay). Counts the word, its attempts, residue
  // errors, and whether it was detected, corrected, retried, failed or silent.
  WordOutcome decode(const RrnsCode& code, int max_retries, int64_t d, const int64_t* sh, const RandomStream& s, uint64_t base,
                     int64_t i, RrnsCounters& counters) const;

 private:
  int64_t m_rows = 0;
  int m_ch = 0;
  std::vector<ShiftLaw> m_laws;  // [i ch + c]
  std::vector<double> m_any;     // [j] = 1 - prod_{j' >= j} (1 - p_j'), j <= rows ch
};

}  // namespace ptc::hw::rns
