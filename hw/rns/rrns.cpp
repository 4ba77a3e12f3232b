// Residue errors and RRNS decoding (docs/rns.md §4–§5); see rrns.h for the model and the contract.
#include "hw/rns/rrns.h"

#include <cmath>
#include <map>

#include "models/error.h"

namespace ptc::hw::rns {

namespace {

constexpr double kPi = 3.14159265358979323846;

void subsets(int total, int n, int start, std::vector<int>& cur, std::vector<std::vector<int>>& out) {
  if (static_cast<int>(cur.size()) == n) {
    out.push_back(cur);
    return;
  }
  for (int i = start; i < total; ++i) {
    cur.push_back(i);
    subsets(total, n, i + 1, cur, out);
    cur.pop_back();
  }
}

std::vector<int64_t> concat(std::vector<int64_t> a, const std::vector<int64_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

double q_function(double x) {
  return 0.5 * std::erfc(x / std::sqrt(2.0));
}

double residue_error_probability(int64_t m, double sigma_phi_rad) {
  if (m < 2) throw Error("residue_error_probability: m must be >= 2, got " + std::to_string(m));
  if (!(sigma_phi_rad >= 0) || !std::isfinite(sigma_phi_rad))
    throw Error("residue_error_probability: sigma_phi_rad must be finite and >= 0");
  if (sigma_phi_rad == 0) return 0;
  return 2 * q_function(kPi / (static_cast<double>(m) * sigma_phi_rad));
}

int64_t read_residue(int64_t r, int64_t m, double phase_error_rad) {
  const double level = static_cast<double>(r) + phase_error_rad * static_cast<double>(m) / (2 * kPi);
  return mod(static_cast<int64_t>(std::llround(level)), m);
}

std::vector<double> error_count_distribution(const std::vector<double>& p) {
  std::vector<double> d{1.0};
  for (double pi : p) {
    std::vector<double> next(d.size() + 1, 0.0);
    for (size_t e = 0; e < d.size(); ++e) {
      next[e] += d[e] * (1 - pi);
      next[e + 1] += d[e] * pi;
    }
    d.swap(next);
  }
  return d;
}

RrnsCode::RrnsCode(std::vector<int64_t> base, std::vector<int64_t> redundant)
    : m_n(static_cast<int>(base.size())),
      m_k(static_cast<int>(redundant.size())),
      m_base_range(Crt(base).range()),
      m_all(concat(base, redundant)) {
  for (int64_t r : redundant)
    for (int64_t b : base)
      if (r <= b)
        throw Error("RrnsCode: redundant modulus " + std::to_string(r) + " must be larger than every base modulus (" +
                    std::to_string(b) + ")");
  if (m_k > 0) {
    std::vector<int> cur;
    subsets(m_n + m_k, m_n, 0, cur, m_subsets);
    for (const auto& s : m_subsets) {
      std::vector<int64_t> mods;
      for (int i : s) mods.push_back(m_all.moduli()[i]);
      m_subset_crt.emplace_back(mods);
    }
  }
}

std::vector<int64_t> RrnsCode::encode(int64_t value) const {
  if (!legitimate(value))
    throw Error("RrnsCode::encode: " + std::to_string(value) +
                " outside the legitimate range of M_n = " + std::to_string(m_base_range));
  return m_all.residues(value);
}

DecodeResult RrnsCode::decode(const int64_t* residues) const {
  const int64_t full = m_all.to_signed(m_all.reconstruct(residues));
  if (legitimate(full)) return {DecodeStatus::clean, full};
  // Detected: vote over the CRTs of all n-subsets (legitimate candidates only), in subset order.
  std::map<int64_t, int> votes;
  int64_t best = 0;
  int best_votes = 0;
  std::vector<int64_t> sub(m_n);
  for (size_t s = 0; s < m_subsets.size(); ++s) {
    for (int j = 0; j < m_n; ++j) sub[j] = residues[m_subsets[s][j]];
    const int64_t x = m_subset_crt[s].to_signed(m_subset_crt[s].reconstruct(sub.data()));
    if (!legitimate(x)) continue;
    const int v = ++votes[x];
    if (v > best_votes) best_votes = v, best = x;
  }
  if (best_votes > 0) {
    int disagree = 0;
    for (int c = 0; c < m_n + m_k; ++c) disagree += mod(best, m_all.moduli()[c]) != residues[c];
    // Within floor(k/2) of the received word: the unique such codeword (distance k + 1).
    if (disagree <= correctable()) return {DecodeStatus::corrected, best};
  }
  return {DecodeStatus::uncorrectable, full};
}

RrnsCounters& RrnsCounters::operator+=(const RrnsCounters& o) {
  words += o.words, attempts += o.attempts, residue_errors += o.residue_errors, detected += o.detected;
  corrected += o.corrected, retried += o.retried, failed += o.failed, silent += o.silent;
  return *this;
}

WordResult noisy_word(const RrnsCode& code, int64_t true_value, const std::vector<double>& sigma_phi_rad,
                      const RandomStream& stream, uint64_t first, int max_retries, RrnsCounters& counters) {
  return noisy_word(code, true_value, std::vector<double>(sigma_phi_rad.size(), 0.0), sigma_phi_rad, stream, first, max_retries,
                    counters);
}

WordResult noisy_word(const RrnsCode& code, int64_t true_value, const std::vector<double>& offset_rad,
                      const std::vector<double>& sigma_phi_rad, const RandomStream& stream, uint64_t first, int max_retries,
                      RrnsCounters& counters) {
  const int channels = code.n() + code.k();
  if (static_cast<int>(sigma_phi_rad.size()) != channels || static_cast<int>(offset_rad.size()) != channels)
    throw Error("noisy_word: expected " + std::to_string(channels) + " channel sigmas and offsets, got " +
                std::to_string(sigma_phi_rad.size()) + " and " + std::to_string(offset_rad.size()));
  if (max_retries < 0) throw Error("noisy_word: max_retries must be >= 0");
  const std::vector<int64_t> truth = code.encode(true_value);
  std::vector<int64_t> read(channels);
  WordResult out;
  ++counters.words;
  for (int a = 0; a <= max_retries; ++a) {
    ++counters.attempts;
    for (int c = 0; c < channels; ++c) {
      const double delta =
          offset_rad[c] +
          (sigma_phi_rad[c] != 0 ? sigma_phi_rad[c] * stream.normal(first + static_cast<uint64_t>(a * channels + c)) : 0.0);
      read[c] = read_residue(truth[c], code.moduli()[c], delta);
      counters.residue_errors += read[c] != truth[c];
    }
    const DecodeResult d = code.decode(read.data());
    if (a == 0 && d.status != DecodeStatus::clean) ++counters.detected;
    out.attempts = a + 1;
    out.value = d.value;
    if (d.status == DecodeStatus::uncorrectable) {
      if (a < max_retries) {
        ++counters.retried;
        continue;
      }
      out.failed = true;
      ++counters.failed;
      return out;
    }
    if (d.value != true_value)
      ++counters.silent;
    else if (d.status == DecodeStatus::corrected)
      ++counters.corrected;
    return out;
  }
  return out;
}

}  // namespace ptc::hw::rns
