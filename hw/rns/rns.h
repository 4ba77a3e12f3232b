// Residue number system (RNS) arithmetic of an RNS photonic core (docs/rns.md §1–§3): moduli sets
// (given, by name, or chosen by Blueprint's rule), CRT reconstruction, the modular
// multiply-accumulate of one modulus channel, and block floating point (BFP) for real-valued
// inputs and weights.
//
// Sources: Demirkiran et al., "Mirage: An RNS-Based Photonic Accelerator for DNN Training",
// ISCA 2024 (BFP + RNS, modular MAC with phases); "A Blueprint for Precise and
// Fault-Tolerant Analog Neural Networks", Nature Communications 2024 (output bit width
// b_out = b_in + b_w + log2(h) - 1, fewest moduli below 2^b covering b_out); the Chinese remainder
// theorem (textbook).
//
// Contract: pure functions of their arguments; no SystemC. Bad input (a modulus < 2, moduli not
// pairwise coprime, a range beyond 2^62, a dot product that may leave the signed range, bits out of
// range, an unknown set name) throws ptc::Error naming the argument and the rule.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace ptc::hw::rns {

// std::ldexp(v, e) without the library call (a BFP product's scale, once per output word): a
// multiplication by the double 2^e, which is exact or rounds as ldexp does, for e where 2^e is a
// normal double; ldexp itself elsewhere.
inline double ldexp_exact(double v, int e) {
  if (e < -1022 || e > 1023) return std::ldexp(v, e);
  const uint64_t bits = static_cast<uint64_t>(e + 1023) << 52;
  double p;
  std::memcpy(&p, &bits, sizeof p);
  return v * p;
}

// Non-negative remainder of x modulo m (m >= 1).
inline int64_t mod(int64_t x, int64_t m) {
  const int64_t r = x % m;
  return r < 0 ? r + m : r;
}

// Bits of the ADC that reads one residue of modulus m: ceil(log2 m).
int adc_bits(int64_t m);

// Throws unless every modulus is >= 2, the moduli are pairwise coprime and their product is below
// 2^62. `what` names the argument in the message (e.g. "device.moduli").
void check_moduli(const std::vector<int64_t>& moduli, const std::string& what);

// log2 of the product of the moduli.
double log2_range(const std::vector<int64_t>& moduli);

// Blueprint's output bit width of an analog dot product of length h with b_in-bit inputs and
// b_w-bit weights (signed): b_out = b_in + b_w + ceil(log2 h) - 1.
int output_bits(int b_in, int b_w, int64_t h);

// Blueprint's rule: the fewest pairwise-coprime moduli below 2^bits whose product M has
// log2 M >= b_out; among the sets of that size, the one with the largest M. bits in [2, 16].
std::vector<int64_t> blueprint_moduli(int bits, int b_out);

// The special set {2^k - 1, 2^k, 2^k + 1} (cheap forward and reverse conversion), k in [2, 20].
std::vector<int64_t> special_moduli(int k);

// Named sets: "blueprint_b<b>" = blueprint_moduli(b, output_bits(b, b, 128)) for b in [4, 8]
// (Blueprint's h = 128 table), "special_k<k>" = special_moduli(k). Unknown names throw, listing
// the valid forms.
std::vector<int64_t> named_moduli(const std::string& name);

// k redundant moduli for RRNS: the k smallest integers larger than every base modulus that are
// coprime with the base moduli and with each other.
std::vector<int64_t> redundant_moduli(const std::vector<int64_t>& base, int k);

// Chinese remainder theorem over a fixed set of pairwise-coprime moduli.
class Crt {
 public:
  explicit Crt(std::vector<int64_t> moduli);

  const std::vector<int64_t>& moduli() const { return m_moduli; }
  int size() const { return static_cast<int>(m_moduli.size()); }
  int64_t range() const { return m_range; }  // M = prod m_i

  // The unique x in [0, M) with x = r_i (mod m_i); r has size() entries, each in [0, m_i).
  int64_t reconstruct(const int64_t* r) const;
  // Maps [0, M) to the signed range [-M/2, M/2) (x >= ceil(M/2) means x - M).
  int64_t to_signed(int64_t x) const { return x >= m_range - m_range / 2 ? x - m_range : x; }
  // Residues of a (signed) integer.
  std::vector<int64_t> residues(int64_t x) const;

 private:
  std::vector<int64_t> m_moduli;
  std::vector<int64_t> m_weights;  // (M / m_i) * ((M / m_i)^-1 mod m_i) mod M
  int64_t m_range;
};

// One modular multiplication unit (MMU, Mirage): x * w mod m computed as the phase sum
// sum_j x_j * ((2^j w) mod m) mod m over the ceil(log2 m) bits x_j of the residue x in [0, m);
// each term is one phase-shifter segment set to 2 pi ((2^j w) mod m) / m.
int64_t mmu_multiply(int64_t x, int64_t w, int64_t m);

// One modular dot-product unit (MDPU): sum_i x_i w_i mod m by chaining n MMUs along a waveguide
// (phases add, wrapping at 2 pi). x, w are residues in [0, m).
int64_t modular_dot(const int64_t* x, const int64_t* w, int64_t n, int64_t m);

// Largest |sum_i x_i w_i| for n terms with |x_i| <= x_max, |w_i| <= w_max.
int64_t dot_bound(int64_t n, int64_t x_max, int64_t w_max);

// Throws unless every dot product of n terms bounded by x_max, w_max fits the signed range of M:
// dot_bound < M/2 (then the CRT result is exact).
void check_dot_range(int64_t range, int64_t n, int64_t x_max, int64_t w_max, const std::string& what);

// Exact signed integer dot product through the RNS: forward conversion per modulus, MDPU per
// modulus, CRT, signed map. Equals sum x_i w_i whenever check_dot_range holds (checked).
int64_t rns_dot(const Crt& crt, const int32_t* x, const int32_t* w, int64_t n);

// Block floating point: groups of `group` consecutive values share one exponent; each value keeps
// a signed integer mantissa of `mantissa_bits` bits (sign included), |q| <= 2^(bits-1) - 1.
struct BfpSpec {
  int group = 16;
  int mantissa_bits = 6;
  void validate(const std::string& what) const;  // group >= 1, bits in [2, 24]
  int32_t max_mantissa() const { return (int32_t{1} << (mantissa_bits - 1)) - 1; }
};

struct BfpVector {
  std::vector<int32_t> mantissa;  // n values
  std::vector<int> exponent;      // one per group: value_i = mantissa_i * 2^exponent[i / group]
  int group = 1;
  double value(int64_t i) const;
};

// Quantises x[0..n): per group, e = the smallest integer with max|x| / 2^e <= max_mantissa, then
// q_i = round-half-away(x_i / 2^e) (|q_i| <= max_mantissa by construction). A group of zeros gets
// e = 0 and zero mantissas. Non-finite input throws.
BfpVector bfp_quantize(const float* x, int64_t n, const BfpSpec& spec);

// Integer dot product of one group: int_dot(x_mantissas, w_mantissas, length).
using IntDot = std::function<int64_t(const int32_t*, const int32_t*, int64_t)>;

// BFP dot product: for each group g, int_dot over the group's mantissas times 2^(e_x[g] + e_w[g])
// (the shared exponents are added digitally), summed in double in group order. x and w must have
// the same length and group size.
double bfp_dot(const BfpVector& x, const BfpVector& w, const IntDot& int_dot);

}  // namespace ptc::hw::rns
