// One RNS tile (docs/rns.md §6); see rns_tile.h for the model and the contract.
#include "hw/rns/rns_tile.h"

#include <algorithm>
#include <cmath>

#include "models/error.h"

namespace ptc::hw::rns {

namespace {
const std::vector<int64_t>& checked_base(const RnsTileSpec& spec, const std::string& what) {
  check_moduli(spec.base, what + ".moduli");
  std::vector<int64_t> all = spec.base;
  all.insert(all.end(), spec.redundant.begin(), spec.redundant.end());
  check_moduli(all, what + ".moduli + redundant");
  return spec.base;
}
}  // namespace

RnsTile::RnsTile(const RnsTileSpec& spec, int64_t h, const std::string& what)
    : m_spec(spec), m_h(h), m_code(checked_base(spec, what), spec.redundant) {
  if (h < 1) throw Error(what + ": dot-product length h must be >= 1, got " + std::to_string(h));
  if (spec.group_tiles < 1)
    throw Error(what + ".group: expected a positive multiple of the core size, got " + std::to_string(spec.group_tiles) +
                " core sizes");
  if (spec.max_retries < 0 || spec.max_retries > 100)
    throw Error(what + ".max_retries: expected integer in [0,100], got " + std::to_string(spec.max_retries));
  m_bfp_x.group = m_bfp_w.group = static_cast<int>(h);
  m_bfp_x.mantissa_bits = spec.input_bits;
  m_bfp_w.mantissa_bits = spec.weight_bits;
  m_bfp_x.validate(what + ".input");
  m_bfp_w.validate(what + ".weight");
  check_dot_range(m_code.legit_range(), h, m_bfp_x.max_mantissa(), m_bfp_w.max_mantissa(), what);
  for (int64_t m : m_code.moduli()) m_max_bits = std::max(m_max_bits, adc_bits(m));
}

RnsTile::Weights RnsTile::quantize_weights(const float* w, int64_t rows) const {
  Weights q;
  q.rows = rows;
  q.mantissa.reserve(static_cast<size_t>(rows * m_h));
  for (int64_t r = 0; r < rows; ++r) {
    const BfpVector v = bfp_quantize(w + r * m_h, m_h, m_bfp_w);
    q.mantissa.insert(q.mantissa.end(), v.mantissa.begin(), v.mantissa.end());
    q.exponent.push_back(v.exponent[0]);
  }
  return q;
}

namespace {
std::vector<BfpVector> quantize_segments(const float* x, int64_t segments, int64_t h, int per_group, BfpSpec spec) {
  std::vector<BfpVector> out;
  out.reserve(static_cast<size_t>(segments));
  for (int64_t s0 = 0; s0 < segments; s0 += per_group) {
    const int64_t n = std::min<int64_t>(per_group, segments - s0) * h;
    spec.group = static_cast<int>(n);
    const BfpVector v = bfp_quantize(x + s0 * h, n, spec);
    for (int64_t s = 0; s < n / h; ++s) {
      BfpVector seg;
      seg.group = static_cast<int>(h);
      seg.mantissa.assign(v.mantissa.begin() + s * h, v.mantissa.begin() + (s + 1) * h);
      seg.exponent.push_back(v.exponent[0]);
      out.push_back(std::move(seg));
    }
  }
  return out;
}
}  // namespace

std::vector<BfpVector> RnsTile::quantize_input_segments(const float* x, int64_t segments) const {
  return quantize_segments(x, segments, m_h, m_spec.group_tiles, m_bfp_x);
}
std::vector<BfpVector> RnsTile::quantize_weight_segments(const float* x, int64_t segments) const {
  return quantize_segments(x, segments, m_h, m_spec.group_tiles, m_bfp_w);
}

void RnsTile::matvec(const Weights& w, const float* x, const std::vector<double>& sigma_phi_rad, const RandomStream& stream,
                     uint64_t first, float* y, RrnsCounters& counters) const {
  if (m_spec.group_tiles != 1) throw Error("RnsTile::matvec: one tile reads a group of one tile only (group_tiles = 1)");
  const BfpVector qx = bfp_quantize(x, m_h, m_bfp_x);
  bool noisy = false;
  for (double s : sigma_phi_rad) noisy = noisy || s != 0;
  if (static_cast<int>(sigma_phi_rad.size()) != m_code.n() + m_code.k())
    throw Error("RnsTile::matvec: expected " + std::to_string(m_code.n() + m_code.k()) + " channel sigmas, got " +
                std::to_string(sigma_phi_rad.size()));
  for (int64_t r = 0; r < w.rows; ++r) {
    const int32_t* wr = w.mantissa.data() + r * m_h;
    int64_t d = 0;
    for (int64_t j = 0; j < m_h; ++j) d += int64_t{qx.mantissa[j]} * wr[j];
    if (noisy) {
      const WordResult res = noisy_word(m_code, d, sigma_phi_rad, stream, first + static_cast<uint64_t>(r) * words_stride(),
                                        m_spec.max_retries, counters);
      d = res.failed ? 0 : res.value;  // a word flagged after R retries contributes nothing
    } else {
      ++counters.words;  // noise-free: every word is read exactly, no draws
      ++counters.attempts;
    }
    y[r] = static_cast<float>(ldexp_exact(static_cast<double>(d), qx.exponent[0] + w.exponent[r]));
  }
}

void RnsTile::matvec_segments(const Weights& w, const float* x, const float* offset_rad, const float* std_rad,
                              const RandomStream& stream, uint64_t first, float* y, RrnsCounters& counters) const {
  if (m_spec.group_tiles != 1) throw Error("RnsTile::matvec_segments: one tile reads a group of one tile only (group_tiles = 1)");
  const BfpVector qx = bfp_quantize(x, m_h, m_bfp_x);
  const int ch = m_code.n() + m_code.k();
  std::vector<double> mu(ch), sigma(ch);
  for (int64_t r = 0; r < w.rows; ++r) {
    const int32_t* wr = w.mantissa.data() + r * m_h;
    int64_t d = 0;
    for (int64_t j = 0; j < m_h; ++j) d += int64_t{qx.mantissa[j]} * wr[j];
    for (int c = 0; c < ch; ++c) {
      const int64_t m = m_code.moduli()[c];
      const int bits = adc_bits(m);
      double off = 0, var = 0;
      for (int64_t i = 0; i < m_h; ++i) {
        const int64_t xr = mod(qx.mantissa[i], m);
        for (int j = 0; j < bits; ++j)
          if ((xr >> j) & 1) {
            const int64_t s = segment_index(r, c, i, j);
            off += offset_rad[s];
            if (std_rad) var += double(std_rad[s]) * std_rad[s];
          }
      }
      mu[c] = off;
      sigma[c] = std::sqrt(var);
    }
    const WordResult res =
        noisy_word(m_code, d, mu, sigma, stream, first + static_cast<uint64_t>(r) * words_stride(), m_spec.max_retries, counters);
    d = res.failed ? 0 : res.value;
    y[r] = static_cast<float>(ldexp_exact(static_cast<double>(d), qx.exponent[0] + w.exponent[r]));
  }
}

}  // namespace ptc::hw::rns
