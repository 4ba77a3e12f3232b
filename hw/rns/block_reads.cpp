// The noisy reads of one RNS block; see block_reads.h.
#include "hw/rns/block_reads.h"

#include <cmath>
#include <optional>

#include "models/error.h"

namespace ptc::hw::rns {

namespace {

// Q(x) = P(N(0,1) > x).
double qf(double x) {
  return 0.5 * std::erfc(x / std::sqrt(2.0));
}
// P(lo < Z < hi) for a standard normal Z, accurate in both tails.
double normal_mass(double lo, double hi) {
  if (lo >= 0) return qf(lo) - qf(hi);
  if (hi <= 0) return qf(-hi) - qf(-lo);
  return 1.0 - qf(hi) - qf(-lo);
}

}  // namespace

int64_t ShiftLaw::pick(double u) const {
  for (size_t i = 0; i + 1 < cum.size(); ++i)
    if (u < cum[i]) return shift[i];
  return shift.back();
}

ShiftLaw shift_law(int64_t m, double mu, double sigma) {
  ShiftLaw L;
  const double step = 2 * M_PI / static_cast<double>(m);
  if (sigma <= 0) {
    const int64_t sft = std::llround(mu / step);
    if (sft % m != 0) L.p_err = 1, L.shift = {sft}, L.cum = {1.0};
    return L;
  }
  // Shifts within 9 sigma of the mean (the mass beyond is below 1e-18).
  const int64_t lo = static_cast<int64_t>(std::floor((mu - 9 * sigma) / step)) - 1;
  const int64_t hi = static_cast<int64_t>(std::ceil((mu + 9 * sigma) / step)) + 1;
  for (int64_t j = lo; j <= hi; ++j) {
    if (j % m == 0) continue;  // a whole turn reads the true residue
    const double pj =
        normal_mass(((static_cast<double>(j) - 0.5) * step - mu) / sigma, ((static_cast<double>(j) + 0.5) * step - mu) / sigma);
    if (!(pj > 0)) continue;
    L.p_err += pj;
    L.shift.push_back(j);
    L.cum.push_back(L.p_err);
  }
  return L;
}

BlockLaws::BlockLaws(const RrnsCode& code, int64_t rows, const double* offset_rad, const double* std_rad)
    : m_rows(rows), m_ch(code.n() + code.k()) {
  if (m_ch > 64) throw Error("rns: more than 64 modulus channels");
  const int64_t N = rows * m_ch;
  m_laws.reserve(static_cast<size_t>(N));
  for (int64_t i = 0; i < rows; ++i)
    for (int c = 0; c < m_ch; ++c) {
      const size_t j = static_cast<size_t>(i * m_ch + c);
      m_laws.push_back(shift_law(code.moduli()[c], offset_rad[j], std_rad[j]));
    }
  m_any.assign(static_cast<size_t>(N + 1), 0.0);
  double log_clean = 0;
  for (int64_t j = N - 1; j >= 0; --j) {
    log_clean += m_laws[j].p_err >= 1 ? -INFINITY : std::log1p(-m_laws[j].p_err);
    m_any[j] = -std::expm1(log_clean);
  }
}

bool BlockLaws::draw(const RandomStream& s, uint64_t base, int64_t* shifts) const {
  const int64_t N = m_rows * m_ch;
  if (!(m_any[0] > 0) || !(s.uniform(base) < m_any[0])) {
    for (int64_t j = 0; j < N; ++j) shifts[j] = 0;
    return false;
  }
  bool need = true;  // no error drawn yet: condition on one among the rest
  for (int64_t j = 0; j < N; ++j) {
    shifts[j] = 0;
    const double pj = m_laws[j].p_err;
    if (pj <= 0) continue;
    const double pe = need ? std::min(1.0, pj / m_any[j]) : pj;
    if (pe < 1 && s.uniform(base + 1 + static_cast<uint64_t>(j)) >= pe) continue;
    need = false;
    shifts[j] = m_laws[j].pick(s.uniform(base + 1 + static_cast<uint64_t>(N + j)) * pj);
  }
  return true;
}

WordOutcome BlockLaws::decode(const RrnsCode& code, int max_retries, int64_t d, const int64_t* sh, const RandomStream& s,
                              uint64_t base, int64_t i, RrnsCounters& counters) const {
  ++counters.words;
  ++counters.attempts;
  WordOutcome o;
  o.value = d;
  bool err = false;
  if (sh)
    for (int c = 0; c < m_ch; ++c) err = err || sh[c] != 0;
  if (!err) return o;
  const ShiftLaw* L = m_laws.data() + i * m_ch;
  const std::vector<int64_t> truth = code.encode(d);
  std::vector<int64_t> read(static_cast<size_t>(m_ch)), r(truth.size());
  std::optional<RandomStream> rs;
  for (int a = 0;; ++a) {
    if (a > 0) {  // a retry: fresh reads of every channel
      if (!rs) rs = s.derive(base).derive(static_cast<uint64_t>(i));
      ++o.retries;
      ++counters.attempts;
      for (int c = 0; c < m_ch; ++c) {
        const double u = rs->uniform(static_cast<uint64_t>(2 * (a * m_ch + c)));
        read[c] = u < L[c].p_err ? L[c].pick(rs->uniform(static_cast<uint64_t>(2 * (a * m_ch + c) + 1)) * L[c].p_err) : 0;
      }
      sh = read.data();
    }
    for (int c = 0; c < m_ch; ++c) {
      r[c] = mod(truth[c] + sh[c], code.moduli()[c]);
      counters.residue_errors += r[c] != truth[c];
    }
    const DecodeResult dr = code.decode(r.data());
    if (dr.status == DecodeStatus::corrected) {
      // The decoder locates the corrected residues: those that differ from its value's.
      const std::vector<int64_t> fixed = code.encode(dr.value);
      for (int c = 0; c < m_ch; ++c)
        if (fixed[c] != r[c]) o.corrected_mask |= uint64_t{1} << c;
    }
    if (a == 0 && dr.status != DecodeStatus::clean) ++counters.detected;
    if (dr.status == DecodeStatus::uncorrectable) {
      if (a < max_retries) {
        ++counters.retried;
        continue;
      }
      ++counters.failed;
      o.value = 0;  // flagged after R retries: contributes nothing
      return o;
    }
    if (dr.value != d)
      ++counters.silent;
    else if (dr.status == DecodeStatus::corrected)
      ++counters.corrected;
    o.value = dr.value;
    return o;
  }
}

}  // namespace ptc::hw::rns
