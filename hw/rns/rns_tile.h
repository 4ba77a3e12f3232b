// One RNS tile (docs/rns.md §3, §5, §6): a block of `rows` weight rows of dot-product length h
// computed against an input vector, the numerics an RNS core applies per block — block floating
// point on both operands, the integer dot product of each row as one RRNS word read through noisy
// residue channels (retries included), and the shared exponents applied digitally.
//
// BFP grouping (Mirage's BFP + RNS, the group equal to the tile length h): the input vector is one
// group (one shared exponent e_x) and every weight row is one group (e_w[r]), so
//   y[r] = 2^(e_x + e_w[r]) * D_r,   D_r = sum_j q_x[j] q_w[r, j] read through the RRNS.
// The residues of D_r are those the per-modulus modular dot products produce (rns_dot is exact),
// so the word is encoded from the exact integer and the channel noise acts on its residues.
//
// Contract: pure functions of their arguments and the counter-based stream; const and
// thread-safe. A spec whose moduli cannot hold every dot product of length h at the given
// mantissa bits is rejected (ptc::Error naming `what` and the rule).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hw/physics/rng.h"
#include "hw/rns/rns.h"
#include "hw/rns/rrns.h"

namespace ptc::hw::rns {

struct RnsTileSpec {
  std::vector<int64_t> base;       // n moduli (the legitimate range)
  std::vector<int64_t> redundant;  // k redundant moduli (RRNS), may be empty
  int input_bits = 6;              // BFP mantissa bits of the inputs (sign included)
  int weight_bits = 6;             // BFP mantissa bits of the weights (sign included)
  int max_retries = 0;             // R: recomputations of an uncorrectable word
  // BFP group along the dot product in tiles: g = group_tiles * h values share one exponent
  // (docs/rns.md §3). Each tile still reads one word per row; the exponents are added digitally
  // per tile, so a coarser group only changes the quantisation. 1 = one exponent per tile row.
  int group_tiles = 1;
};

class RnsTile {
 public:
  RnsTile(const RnsTileSpec& spec, int64_t h, const std::string& what);

  // BFP weights of a block, quantised once when it is programmed: one exponent per row.
  struct Weights {
    int64_t rows = 0;
    std::vector<int32_t> mantissa;  // [rows, h]
    std::vector<int> exponent;      // [rows]
  };
  Weights quantize_weights(const float* w, int64_t rows) const;  // w: [rows, h] row-major

  // y[r] for r < w.rows from the input x[0..h). sigma_phi_rad: one phase-noise standard deviation
  // per channel (n + k; all zero = noise-free, no draws). Word r draws from
  // stream.normal(first + r * words_stride() + ...) (rrns.h noisy_word). A word still
  // uncorrectable after R retries is flagged (counters.failed) and gives y[r] = 0; a silent error
  // gives the wrong value it decoded to.
  void matvec(const Weights& w, const float* x, const std::vector<double>& sigma_phi_rad, const RandomStream& stream,
              uint64_t first, float* y, RrnsCounters& counters) const;

  // Phase-shifter segments (Mirage's modular multiplier, docs/rns.md §6): row r of the tile has,
  // per channel c and input element i, one segment per bit j < adc_bits(m_c) of the input residue,
  // index ((r (n + k) + c) h + i) B + j with B = the largest adc_bits of the moduli.
  int64_t segments(int64_t rows) const { return rows * (m_code.n() + m_code.k()) * m_h * m_max_bits; }
  int64_t segment_index(int64_t r, int c, int64_t i, int j) const {
    return ((r * (m_code.n() + m_code.k()) + c) * m_h + i) * m_max_bits + j;
  }
  // As matvec, with the phase error of each word built from its segments: channel c of row r
  // carries the sum of offset_rad[s] over its switched-in segments s (bit j of the input residue
  // x_i mod m_c set) plus Gaussian noise whose variance is the sum of std_rad[s]^2 over them; the
  // offsets stay on retries. offset_rad, std_rad: segments(w.rows) values each (std_rad may be
  // null: no random part). This is how ring-phase drift and noise become data-dependent residue
  // errors.
  void matvec_segments(const Weights& w, const float* x, const float* offset_rad, const float* std_rad,
                       const RandomStream& stream, uint64_t first, float* y, RrnsCounters& counters) const;

  // The BFP input of one tile (one shared exponent), so that a segment read by several blocks is
  // quantised once.
  BfpVector quantize_input(const float* x) const { return bfp_quantize(x, m_h, m_bfp_x); }

  // BFP over `segments` consecutive h-segments of one vector (x[0 .. segments h)) with the spec's
  // group of group_tiles segments (the last group may be shorter): one BfpVector per segment, its
  // h mantissas and the one exponent of its group. With group_tiles = 1 segment s equals
  // quantize_input(x + s h) (inputs) or the row's quantize_weights (weights).
  std::vector<BfpVector> quantize_input_segments(const float* x, int64_t segments) const;
  std::vector<BfpVector> quantize_weight_segments(const float* x, int64_t segments) const;
  int group_tiles() const { return m_spec.group_tiles; }

  // Noise draws one word may use: (R + 1) (n + k).
  uint64_t words_stride() const { return static_cast<uint64_t>((m_spec.max_retries + 1) * (m_code.n() + m_code.k())); }
  const RrnsCode& code() const { return m_code; }
  int spec_max_retries() const { return m_spec.max_retries; }
  int64_t h() const { return m_h; }

 private:
  RnsTileSpec m_spec;
  int64_t m_h;
  RrnsCode m_code;
  BfpSpec m_bfp_x, m_bfp_w;
  int m_max_bits = 0;
};

}  // namespace ptc::hw::rns
