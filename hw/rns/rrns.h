// Analog error in the residue domain and redundant-RNS (RRNS) error correction (docs/rns.md §4–§5).
//
// Residue error (Mirage's phase encoding, Demirkiran et al., ISCA 2024): a residue r of modulus m
// leaves its channel as the phase 2 pi r / m; a phase error delta (rad) is read back by rounding to
// the nearest residue, r' = round(r + delta m / (2 pi)) mod m. With delta ~ N(0, sigma_phi^2) the
// residue is wrong when |delta| > pi / m, so p_e = 2 Q(pi / (m sigma_phi)).
//
// RRNS (Blueprint, Nature Communications 2024; standard RRNS coding theory): n base moduli plus k
// redundant ones, each larger than every base modulus, all pairwise coprime. Legitimate results lie
// in the signed range of the base product M_n, [-M_n/2, M_n/2); the code has minimum distance k + 1
// in residues, so up to k residue errors are detected (the CRT over all n + k moduli falls outside
// the legitimate range) and up to floor(k/2) are corrected: the CRT of every n-subset of moduli
// gives a candidate, the candidates vote, and the most voted legitimate candidate is accepted when
// it disagrees with at most floor(k/2) received residues. A detected word that cannot be corrected
// is recomputed (new noise) up to R times.
//
// Contract: pure functions of their arguments and of the counter-based noise stream; no SystemC.
// Bad input throws ptc::Error naming the argument and the rule.
#pragma once

#include <cstdint>
#include <vector>

#include "hw/physics/rng.h"
#include "hw/rns/rns.h"

namespace ptc::hw::rns {

// Standard normal upper tail Q(x) = P(N(0,1) > x).
double q_function(double x);

// Probability that a residue of modulus m is read wrongly under Gaussian phase noise of standard
// deviation sigma_phi_rad: 2 Q(pi / (m sigma_phi)). 0 for sigma_phi = 0.
double residue_error_probability(int64_t m, double sigma_phi_rad);

// Reads residue r in [0, m) after a phase error of phase_error_rad: round(r + delta m / 2pi) mod m.
int64_t read_residue(int64_t r, int64_t m, double phase_error_rad);

// Poisson-binomial distribution of the number of wrong residues when channel i errs independently
// with probability p[i]: out[e] = P(exactly e errors), e = 0 .. p.size().
std::vector<double> error_count_distribution(const std::vector<double>& p);

enum class DecodeStatus {
  clean,          // the CRT over all moduli is legitimate: accepted as is
  corrected,      // detected, and a legitimate candidate within floor(k/2) residue errors was found
  uncorrectable,  // detected, no candidate within floor(k/2): recompute
};

struct DecodeResult {
  DecodeStatus status = DecodeStatus::clean;
  int64_t value = 0;  // signed, in [-M_n/2, M_n/2) unless uncorrectable
};

class RrnsCode {
 public:
  RrnsCode(std::vector<int64_t> base, std::vector<int64_t> redundant);

  int n() const { return m_n; }
  int k() const { return m_k; }
  int correctable() const { return m_k / 2; }
  const std::vector<int64_t>& moduli() const { return m_all.moduli(); }  // base then redundant
  int64_t legit_range() const { return m_base_range; }                   // M_n
  bool legitimate(int64_t signed_value) const {
    return signed_value >= -(m_base_range / 2) && signed_value < m_base_range - m_base_range / 2;
  }

  // Residues of a signed legitimate value over all n + k moduli.
  std::vector<int64_t> encode(int64_t value) const;
  // Decodes received residues (n + k of them, each in [0, m_i)).
  DecodeResult decode(const int64_t* residues) const;

 private:
  int m_n, m_k;
  int64_t m_base_range;
  Crt m_all;
  std::vector<std::vector<int>> m_subsets;  // every n-subset of channel indices
  std::vector<Crt> m_subset_crt;
};

// Counters of RRNS words (per layer in a run).
struct RrnsCounters {
  int64_t words = 0;           // words computed (first attempts)
  int64_t attempts = 0;        // attempts, retries included
  int64_t residue_errors = 0;  // wrong residues read, over all attempts
  int64_t detected = 0;        // words whose first attempt was detected as erroneous
  int64_t corrected = 0;       // words accepted after correction (on any attempt) with the true value
  int64_t retried = 0;         // retries (recomputations) over all words
  int64_t failed = 0;          // words still uncorrectable after R retries (flagged)
  int64_t silent = 0;          // words accepted with a wrong value and no flag
  RrnsCounters& operator+=(const RrnsCounters& o);
};

struct WordResult {
  int64_t value = 0;  // accepted value (the last attempt's candidate if failed)
  int attempts = 1;   // 1 + retries
  bool failed = false;
};

// One word through noisy channels: the true value's residues are read with Gaussian phase noise
// sigma_phi_rad[c] on channel c, decoded, and recomputed on an uncorrectable result up to
// max_retries times. Draw a (attempt) of channel c uses stream.normal(first + a * (n + k) + c); the
// caller gives each word a disjoint counter range of (max_retries + 1) * (n + k). Counters are
// accumulated against the true value.
WordResult noisy_word(const RrnsCode& code, int64_t true_value, const std::vector<double>& sigma_phi_rad,
                      const RandomStream& stream, uint64_t first, int max_retries, RrnsCounters& counters);
// The same with a deterministic phase offset per channel (rad, e.g. the drift of the channel's
// phase shifters): the phase error of channel c is offset_rad[c] + sigma_phi_rad[c] * N(0, 1), and
// the offset is there again on every retry (only the random part is redrawn).
WordResult noisy_word(const RrnsCode& code, int64_t true_value, const std::vector<double>& offset_rad,
                      const std::vector<double>& sigma_phi_rad, const RandomStream& stream, uint64_t first, int max_retries,
                      RrnsCounters& counters);

}  // namespace ptc::hw::rns
