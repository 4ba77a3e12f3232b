// RNS arithmetic (docs/rns.md §1–§3); see rns.h for the sources and the contract.
#include "hw/rns/rns.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "models/error.h"

namespace ptc::hw::rns {

namespace {

constexpr int64_t kMaxRange = int64_t{1} << 62;

// a^-1 mod m by the extended Euclidean algorithm (gcd(a, m) = 1).
int64_t inverse_mod(int64_t a, int64_t m) {
  int64_t old_r = mod(a, m), r = m, old_s = 1, s = 0;
  while (r != 0) {
    const int64_t q = old_r / r;
    old_r -= q * r;
    std::swap(old_r, r);
    old_s -= q * s;
    std::swap(old_s, s);
  }
  return mod(old_s, m);
}

std::string list(const std::vector<int64_t>& v) {
  std::string s = "{";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "}";
}

// Depth-first search for the pairwise-coprime n-subset of cand (descending) with the largest
// product; `logs` are log2 of the candidates. Prunes on log-product bounds.
struct BestSet {
  const std::vector<int64_t>& cand;
  std::vector<double> logs;
  int n;
  double best_log = -1;
  std::vector<int64_t> best, cur;

  void search(size_t start, double log_sum) {
    const int need = n - static_cast<int>(cur.size());
    if (need == 0) {
      if (log_sum > best_log + 1e-12) best_log = log_sum, best = cur;
      return;
    }
    for (size_t i = start; i + need <= cand.size(); ++i) {
      // The largest possible completion takes the next `need` candidates.
      double bound = log_sum;
      for (int j = 0; j < need; ++j) bound += logs[i + j];
      if (bound <= best_log + 1e-12) return;  // candidates only get smaller
      bool coprime = true;
      for (int64_t c : cur) coprime = coprime && std::gcd(c, cand[i]) == 1;
      if (!coprime) continue;
      cur.push_back(cand[i]);
      search(i + 1, log_sum + logs[i]);
      cur.pop_back();
    }
  }
};

}  // namespace

int adc_bits(int64_t m) {
  int b = 0;
  while ((int64_t{1} << b) < m) ++b;
  return b;
}

void check_moduli(const std::vector<int64_t>& moduli, const std::string& what) {
  if (moduli.empty()) throw Error(what + ": expected at least one modulus");
  __int128 prod = 1;
  for (size_t i = 0; i < moduli.size(); ++i) {
    if (moduli[i] < 2)
      throw Error(what + "[" + std::to_string(i) + "]: a modulus must be >= 2, got " + std::to_string(moduli[i]));
    for (size_t j = 0; j < i; ++j)
      if (std::gcd(moduli[i], moduli[j]) != 1)
        throw Error(what + ": moduli must be pairwise coprime, " + std::to_string(moduli[j]) + " and " +
                    std::to_string(moduli[i]) + " share the factor " + std::to_string(std::gcd(moduli[i], moduli[j])));
    prod *= moduli[i];
    if (prod >= kMaxRange) throw Error(what + ": the product of the moduli " + list(moduli) + " must be below 2^62");
  }
}

double log2_range(const std::vector<int64_t>& moduli) {
  double s = 0;
  for (int64_t m : moduli) s += std::log2(static_cast<double>(m));
  return s;
}

int output_bits(int b_in, int b_w, int64_t h) {
  if (b_in < 1 || b_w < 1 || h < 1) throw Error("output_bits: expected b_in, b_w, h >= 1");
  int log2h = 0;
  while ((int64_t{1} << log2h) < h) ++log2h;
  return b_in + b_w + log2h - 1;
}

std::vector<int64_t> blueprint_moduli(int bits, int b_out) {
  if (bits < 2 || bits > 16) throw Error("blueprint_moduli: bits: expected integer in [2,16], got " + std::to_string(bits));
  if (b_out < 1 || b_out > 61) throw Error("blueprint_moduli: b_out: expected integer in [1,61], got " + std::to_string(b_out));
  std::vector<int64_t> cand;
  for (int64_t m = (int64_t{1} << bits) - 1; m >= 2; --m) cand.push_back(m);
  BestSet s{cand, {}, 0, -1, {}, {}};
  for (int64_t c : cand) s.logs.push_back(std::log2(static_cast<double>(c)));
  for (int n = 1; n <= static_cast<int>(cand.size()); ++n) {
    s.n = n;
    s.best_log = -1;
    s.best.clear();
    s.search(0, 0.0);
    if (s.best.empty()) break;
    if (s.best_log >= b_out - 1e-12) return s.best;
  }
  throw Error("blueprint_moduli: no pairwise-coprime moduli below 2^" + std::to_string(bits) + " reach " + std::to_string(b_out) +
              " bits");
}

std::vector<int64_t> special_moduli(int k) {
  if (k < 2 || k > 20) throw Error("special_moduli: k: expected integer in [2,20], got " + std::to_string(k));
  const int64_t p = int64_t{1} << k;
  return {p - 1, p, p + 1};
}

std::vector<int64_t> named_moduli(const std::string& name) {
  auto suffix = [&](const std::string& prefix, int lo, int hi, int& v) {
    if (name.rfind(prefix, 0) != 0) return false;
    const std::string rest = name.substr(prefix.size());
    if (rest.empty() || rest.size() > 2 || !std::all_of(rest.begin(), rest.end(), ::isdigit)) return false;
    v = std::stoi(rest);
    return v >= lo && v <= hi;
  };
  int v = 0;
  if (suffix("blueprint_b", 4, 8, v)) return blueprint_moduli(v, output_bits(v, v, 128));
  if (suffix("special_k", 2, 20, v)) return special_moduli(v);
  throw Error("unknown moduli set \"" + name + "\"; known: blueprint_b4 .. blueprint_b8, special_k2 .. special_k20");
}

std::vector<int64_t> redundant_moduli(const std::vector<int64_t>& base, int k) {
  check_moduli(base, "redundant_moduli: base");
  if (k < 0 || k > 8) throw Error("redundant_moduli: k: expected integer in [0,8], got " + std::to_string(k));
  std::vector<int64_t> all = base, red;
  for (int64_t m = *std::max_element(base.begin(), base.end()) + 1; static_cast<int>(red.size()) < k; ++m) {
    bool ok = true;
    for (int64_t a : all) ok = ok && std::gcd(a, m) == 1;
    if (ok) all.push_back(m), red.push_back(m);
  }
  check_moduli(all, "redundant_moduli: base + redundant");
  return red;
}

Crt::Crt(std::vector<int64_t> moduli) : m_moduli(std::move(moduli)), m_range(1) {
  check_moduli(m_moduli, "Crt: moduli");
  for (int64_t m : m_moduli) m_range *= m;
  for (int64_t m : m_moduli) {
    const int64_t mi = m_range / m;
    m_weights.push_back(static_cast<int64_t>((static_cast<__int128>(mi) * inverse_mod(mi % m, m)) % m_range));
  }
}

int64_t Crt::reconstruct(const int64_t* r) const {
  __int128 acc = 0;
  for (size_t i = 0; i < m_moduli.size(); ++i) acc = (acc + static_cast<__int128>(r[i]) * m_weights[i]) % m_range;
  return static_cast<int64_t>(acc);
}

std::vector<int64_t> Crt::residues(int64_t x) const {
  std::vector<int64_t> r;
  for (int64_t m : m_moduli) r.push_back(mod(x, m));
  return r;
}

int64_t mmu_multiply(int64_t x, int64_t w, int64_t m) {
  int64_t phase = 0, seg = mod(w, m);  // seg = (2^j w) mod m, precomputed digitally per segment
  for (int j = 0, b = adc_bits(m); j < b; ++j, seg = (2 * seg) % m)
    if ((x >> j) & 1) phase = (phase + seg) % m;  // a switched-on segment adds its phase
  return phase;
}

int64_t modular_dot(const int64_t* x, const int64_t* w, int64_t n, int64_t m) {
  int64_t phase = 0;
  for (int64_t i = 0; i < n; ++i) phase = (phase + mmu_multiply(x[i], w[i], m)) % m;
  return phase;
}

int64_t dot_bound(int64_t n, int64_t x_max, int64_t w_max) {
  const __int128 b = static_cast<__int128>(n) * x_max * w_max;
  return b >= kMaxRange ? kMaxRange : static_cast<int64_t>(b);
}

void check_dot_range(int64_t range, int64_t n, int64_t x_max, int64_t w_max, const std::string& what) {
  const int64_t b = dot_bound(n, x_max, w_max);
  if (b >= range - range / 2 || -b < -(range / 2))
    throw Error(what + ": a dot product of " + std::to_string(n) + " terms with |x| <= " + std::to_string(x_max) +
                ", |w| <= " + std::to_string(w_max) + " reaches " + std::to_string(b) +
                ", outside the signed RNS range [-M/2, M/2) of M = " + std::to_string(range));
}

int64_t rns_dot(const Crt& crt, const int32_t* x, const int32_t* w, int64_t n) {
  int64_t x_max = 0, w_max = 0;
  for (int64_t i = 0; i < n; ++i) x_max = std::max<int64_t>(x_max, std::abs(int64_t{x[i]}));
  for (int64_t i = 0; i < n; ++i) w_max = std::max<int64_t>(w_max, std::abs(int64_t{w[i]}));
  check_dot_range(crt.range(), n, x_max, w_max, "rns_dot");
  std::vector<int64_t> xr(n), wr(n), out(crt.size());
  for (int c = 0; c < crt.size(); ++c) {
    const int64_t m = crt.moduli()[c];
    for (int64_t i = 0; i < n; ++i) xr[i] = mod(x[i], m), wr[i] = mod(w[i], m);
    out[c] = modular_dot(xr.data(), wr.data(), n, m);
  }
  return crt.to_signed(crt.reconstruct(out.data()));
}

void BfpSpec::validate(const std::string& what) const {
  if (group < 1) throw Error(what + ".group: expected integer >= 1, got " + std::to_string(group));
  if (mantissa_bits < 2 || mantissa_bits > 24)
    throw Error(what + ".mantissa_bits: expected integer in [2,24], got " + std::to_string(mantissa_bits));
}

double BfpVector::value(int64_t i) const {
  return ldexp_exact(static_cast<double>(mantissa[i]), exponent[i / group]);
}

BfpVector bfp_quantize(const float* x, int64_t n, const BfpSpec& spec) {
  spec.validate("bfp");
  BfpVector v;
  v.group = spec.group;
  v.mantissa.resize(n);
  const double qmax = spec.max_mantissa();
  for (int64_t g0 = 0; g0 < n; g0 += spec.group) {
    const int64_t g1 = std::min<int64_t>(n, g0 + spec.group);
    double amax = 0;
    for (int64_t i = g0; i < g1; ++i) {
      if (!std::isfinite(x[i])) throw Error("bfp_quantize: value " + std::to_string(i) + " is not finite");
      amax = std::max(amax, std::abs(static_cast<double>(x[i])));
    }
    int e = 0;
    if (amax > 0) {
      e = static_cast<int>(std::ceil(std::log2(amax / qmax)));
      while (std::ldexp(amax, -e) > qmax) ++e;  // guard the log2 rounding both ways
      while (std::ldexp(amax, -(e - 1)) <= qmax) --e;
    }
    v.exponent.push_back(e);
    for (int64_t i = g0; i < g1; ++i) v.mantissa[i] = static_cast<int32_t>(std::round(std::ldexp(static_cast<double>(x[i]), -e)));
  }
  return v;
}

double bfp_dot(const BfpVector& x, const BfpVector& w, const IntDot& int_dot) {
  if (x.mantissa.size() != w.mantissa.size() || x.group != w.group)
    throw Error("bfp_dot: operands differ in length or group size (" + std::to_string(x.mantissa.size()) + "/" +
                std::to_string(x.group) + " vs " + std::to_string(w.mantissa.size()) + "/" + std::to_string(w.group) + ")");
  const int64_t n = static_cast<int64_t>(x.mantissa.size());
  double acc = 0;
  for (int64_t g0 = 0, g = 0; g0 < n; g0 += x.group, ++g) {
    const int64_t len = std::min<int64_t>(x.group, n - g0);
    const int64_t d = int_dot(x.mantissa.data() + g0, w.mantissa.data() + g0, len);
    acc += ldexp_exact(static_cast<double>(d), x.exponent[g] + w.exponent[g]);
  }
  return acc;
}

}  // namespace ptc::hw::rns
