// The RNS tensor core as a device technology (docs/rns.md §7); see rns_core.h for the model.
#include "hw/rns/rns_core.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "hw/rns/block_reads.h"
#include "hw/training_gemm.h"
#include "models/error.h"

namespace ptc::hw::rns {

namespace {
// The BFP weights of one layer group's blocks [P Q][k][k] (docs/rns.md §3): per block row p and
// weight row i, the row's values along the dot product (Q blocks of k) are cut into groups of
// group_tiles blocks, each with one exponent (RnsTile::quantize_weight_segments).
std::vector<RnsTile::Weights> quantize_blocks(const RnsTile& tile, const models::GemmTiles& t, const float* blocks, int64_t k) {
  std::vector<RnsTile::Weights> W(static_cast<size_t>(t.P * t.Q));
  if (tile.group_tiles() == 1) {
    for (int64_t b = 0; b < t.P * t.Q; ++b) W[static_cast<size_t>(b)] = tile.quantize_weights(blocks + b * k * k, k);
    return W;
  }
  for (auto& w : W) {
    w.rows = k;
    w.mantissa.assign(static_cast<size_t>(k * k), 0);
    w.exponent.assign(static_cast<size_t>(k), 0);
  }
  std::vector<float> row(static_cast<size_t>(t.Q * k));
  for (int64_t p = 0; p < t.P; ++p)
    for (int64_t i = 0; i < k; ++i) {
      for (int64_t q = 0; q < t.Q; ++q) std::copy_n(blocks + ((p * t.Q + q) * k + i) * k, k, row.begin() + q * k);
      const std::vector<BfpVector> seg = tile.quantize_weight_segments(row.data(), t.Q);
      for (int64_t q = 0; q < t.Q; ++q) {
        RnsTile::Weights& w = W[static_cast<size_t>(p * t.Q + q)];
        std::copy(seg[q].mantissa.begin(), seg[q].mantissa.end(), w.mantissa.begin() + i * k);
        w.exponent[static_cast<size_t>(i)] = seg[q].exponent[0];
      }
    }
  return W;
}
}  // namespace

RnsCore::RnsCore(const models::CompiledWorkload& wl, const RnsCoreConfig& cfg, const RandomStream& rng)
    : m_wl(wl),
      m_cfg(cfg),
      m_array{wl.spec.rows, wl.spec.cols, wl.spec.block_size},
      m_rng(rng),
      m_tile(cfg.tile, wl.spec.block_size, "device") {
  // Bind the ring-phase processes in stage order (ties: the order given).
  for (const auto& [p, i] : ring_phase_processes(cfg.noise)) {
    const std::string where = noise_where(cfg.noise_labels, i);
    for (const auto& need : p->needs())
      if (need == "cyclic_mapping" && wl.spec.mapping != "cyclic")
        throw Error(where + ": device rns: a ring-phase process follows DOCTOR's chunk schedule and needs the cyclic mapping");
    std::unique_ptr<PhaseNoise> inst = bind_phase_noise(*p, i, where, m_array, rng);
    if (inst->coupling())
      throw Error(where +
                  ": device rns: linear ring coupling (thermal crosstalk) is not modelled on RNS channels; remove it from noise");
    m_noise.push_back(std::move(inst));
    m_noise_where.push_back(where);
  }
  const int64_t k = wl.spec.block_size;
  for (const auto& L : wl.layers) {
    m_latent.emplace_back();
    m_weights.emplace_back();
    for (const auto& t : L.gemms) {
      m_latent.back().push_back(t.blocks);
      m_weights.back().push_back(quantize_blocks(m_tile, t, t.blocks.data(), k));
      m_writes += static_cast<int64_t>(t.blocks.size());
    }
  }
  m_counters.resize(wl.layers.size());
  m_block_reads.assign(static_cast<size_t>(m_array.cores()), 0);
  m_row_retries.assign(static_cast<size_t>(m_array.cores() * k), 0);
  m_ring_corrected.assign(static_cast<size_t>(m_array.rings()), 0);
  m_ring_reads_added.assign(static_cast<size_t>(m_array.rings()), 0);
  set_times(0, {NoiseTime{}});
}

int64_t RnsCore::program(int64_t layer, int64_t group, const std::vector<float>& blocks, double /*t_s*/) {
  std::vector<float>& lat = m_latent.at(layer).at(group);
  if (blocks.size() != lat.size())
    throw Error("device rns: program() expected " + std::to_string(lat.size()) + " weights, got " +
                std::to_string(blocks.size()));
  const int64_t k = m_wl.spec.block_size, kk = k * k;
  int64_t changed = 0;
  auto& W = m_weights.at(layer).at(group);
  for (size_t b = 0; b < W.size(); ++b) {
    bool any = false;
    for (int64_t i = 0; i < kk; ++i) {
      const size_t j = b * static_cast<size_t>(kk) + static_cast<size_t>(i);
      if (lat[j] != blocks[j]) ++changed, any = true;
    }
    if (any && m_tile.group_tiles() == 1) W[b] = m_tile.quantize_weights(blocks.data() + b * kk, k);
  }
  // A group over several blocks: a changed block moves its group's exponents.
  if (changed > 0 && m_tile.group_tiles() > 1)
    W = quantize_blocks(m_tile, m_wl.layers.at(layer).gemms.at(group), blocks.data(), k);
  lat = blocks;
  m_writes += changed;
  return changed;
}

void RnsCore::set_times(uint64_t draw_base, const std::vector<NoiseTime>& times) {
  if (times.empty()) throw Error("device rns: no noise instant given");
  m_draw_base = draw_base;
  m_slot.clear();
  m_offset.clear();
  m_std.clear();
  bool any_random = false;
  int64_t last = -1;
  for (const auto& t : times) {
    if (t.step < 0) throw Error("device rns: negative step");
    if (m_offset.empty() || t.step != last) {
      std::vector<float> off(static_cast<size_t>(m_array.rings()), 0.0f);
      for (const auto& p : m_noise) p->add_offset(t, off.data());
      m_offset.push_back(std::move(off));
      // Independent Gaussian processes add in variance; a step without any keeps an empty slot.
      std::vector<float> sd;
      any_random = per_read_std(m_noise, m_noise_where, t.step, m_array.rings(), sd) || any_random;
      m_std.push_back(std::move(sd));
      last = t.step;
    }
    m_slot.push_back(static_cast<int32_t>(m_offset.size() - 1));
  }
  // Per-read noise at any of the batch's steps: every slot has a std map (zeros where none).
  if (!any_random) m_std.clear();
  for (auto& sd : m_std)
    if (sd.empty()) sd.assign(static_cast<size_t>(m_array.rings()), 0.0f);
}

void RnsCore::set_ring_temperature_k(const std::vector<double>& dt_k) {
  const int64_t kk = m_array.k * m_array.k;
  if (dt_k.empty() || static_cast<int64_t>(dt_k.size()) % kk != 0)
    throw Error("device rns: ring temperatures: expected a multiple of " + std::to_string(kk) + " rings");
  m_dt_k = dt_k;
}

int64_t RnsCore::relock(int64_t step) {
  // Re-calibration rewrites every phase shifter setting (one write per programmed weight).
  int64_t weights = 0;
  for (const auto& layer : m_latent)
    for (const auto& w : layer) weights += static_cast<int64_t>(w.size());
  m_writes += weights;
  for (auto& p : m_noise) p->relock(NoiseTime{step, 0.0}, nullptr);
  return weights;
}

int64_t RnsCore::relock_rings(int64_t step, const std::vector<char>& rings) {
  if (static_cast<int64_t>(rings.size()) != m_array.rings())
    throw Error("device rns: relock_rings: expected a mask of " + std::to_string(m_array.rings()) + " rings, got " +
                std::to_string(rings.size()));
  const int64_t k = m_array.k, kk = k * k;
  const int ch = channels();
  // Rows (core, i) with a re-tuned ring among their channels' rings.
  std::vector<char> row(static_cast<size_t>(m_array.cores() * k), 0);
  for (int64_t X = 0; X < m_array.cores(); ++X)
    for (int64_t i = 0; i < k; ++i)
      for (int c = 0; c < ch; ++c) row[X * k + i] |= rings[static_cast<size_t>(X * kk + i * k + (c % k))] != 0;
  int64_t writes = 0;
  for (const auto& L : m_wl.layers)
    for (const auto& t : L.gemms)
      for (int64_t b = 0; b < t.P * t.Q; ++b)
        for (int64_t i = 0; i < k; ++i) writes += row[(t.core[b] % m_array.cores()) * k + i] ? k : 0;
  m_writes += writes;
  for (auto& p : m_noise) p->relock(NoiseTime{step, 0.0}, &rings);
  return writes;
}

RingObservations RnsCore::ring_observations() const {
  const int64_t k = m_array.k, kk = k * k;
  std::lock_guard<std::mutex> lock(m_mutex);
  RingObservations o;
  o.corrected = m_ring_corrected;
  o.reads.resize(static_cast<size_t>(m_array.rings()));
  for (int64_t X = 0; X < m_array.cores(); ++X)
    for (int64_t r = 0; r < kk; ++r)
      o.reads[static_cast<size_t>(X * kk + r)] = m_block_reads[static_cast<size_t>(X)] +
                                                 m_row_retries[static_cast<size_t>(X * k + r / k)] +
                                                 m_ring_reads_added[static_cast<size_t>(X * kk + r)];
  return o;
}

void RnsCore::add_ring_observations(const RingObservations& o) {
  const size_t n = static_cast<size_t>(m_array.rings());
  if (o.reads.size() != n || o.corrected.size() != n)
    throw Error("device rns: ring observations: expected " + std::to_string(n) + " rings, got " + std::to_string(o.reads.size()) +
                " reads and " + std::to_string(o.corrected.size()) + " corrections");
  std::lock_guard<std::mutex> lock(m_mutex);
  for (size_t r = 0; r < n; ++r) m_ring_reads_added[r] += o.reads[r], m_ring_corrected[r] += o.corrected[r];
}

double RnsCore::schedule_temperature_k(int64_t step) const {
  for (const auto& p : m_noise) {
    const double t = p->mean_temperature_k(step);
    if (std::isfinite(t)) return t;
  }
  return Technology::schedule_temperature_k(step);
}

double RnsCore::offset_at(size_t slot, int64_t core, int64_t i, int c) const {
  const int64_t k = m_array.k, kk = k * k;
  const int64_t ring = i * k + (c % k);
  // Before any set_times (no instant yet) the processes add nothing; the thermal field still does.
  double off = m_offset.empty() ? 0.0 : m_offset[slot][static_cast<size_t>((core % m_array.cores()) * kk + ring)];
  if (!m_dt_k.empty()) {
    const int64_t cores = static_cast<int64_t>(m_dt_k.size()) / kk;
    off += m_cfg.dphi_dk_rad * m_dt_k[static_cast<size_t>((core % cores) * kk + ring)];
  }
  return off;
}

double RnsCore::std_at(size_t slot, int64_t core, int64_t i, int c) const {
  double var = m_cfg.sigma_phi_rad * m_cfg.sigma_phi_rad;
  if (!m_std.empty()) {
    const int64_t kk = m_array.k * m_array.k;
    const double s = m_std[slot][static_cast<size_t>((core % m_array.cores()) * kk + i * m_array.k + (c % m_array.k))];
    var += s * s;
  }
  return std::sqrt(var);
}

double RnsCore::channel_offset_rad(int64_t core, int64_t i, int c) const {
  return offset_at(0, core, i, c);
}
double RnsCore::channel_std_rad(int64_t core, int64_t i, int c) const {
  return std_at(0, core, i, c);
}

void RnsCore::realize(int64_t layer, int64_t group, uint64_t /*draw*/, float* wn, float* scale) const {
  const auto& W = m_weights.at(layer).at(group);
  const int64_t k = m_wl.spec.block_size, kk = k * k;
  for (size_t b = 0; b < W.size(); ++b) {
    float* out = wn + b * kk;
    float mx = 0;
    for (int64_t r = 0; r < k; ++r)
      for (int64_t j = 0; j < k; ++j) {
        out[r * k + j] = static_cast<float>(ldexp_exact(static_cast<double>(W[b].mantissa[r * k + j]), W[b].exponent[r]));
        mx = std::max(mx, std::abs(out[r * k + j]));
      }
    scale[b] = mx;
    for (int64_t i = 0; i < kk; ++i) out[i] = mx > 0 ? out[i] / mx : 0.0f;
  }
}

// Noise: every (row, channel) read of a block is an independent residue shift, sampled exactly by
// BlockLaws (block_reads.h; one uniform per clean block). Block (v, p, q) draws from base
// ((v P + p) Q + q)(1 + 2N), N = k (n + k).
void RnsCore::gemm(int64_t layer, int64_t group, int64_t sample, const float* x, bool x_trans, int64_t n, float* y,
                   bool y_trans) {
  const models::GemmTiles& t = m_wl.layers.at(layer).gemms.at(group);
  const auto& W = m_weights.at(layer).at(group);
  const int64_t k = m_wl.spec.block_size, P = t.P, Q = t.Q;
  const int ch = channels();
  const RrnsCode& code = m_tile.code();
  const int64_t N = k * ch;
  const uint64_t draw = m_draw_base + static_cast<uint64_t>(sample);
  const size_t slot = static_cast<size_t>(m_slot[std::min<size_t>(static_cast<size_t>(sample), m_slot.size() - 1)]);
  const RandomStream s = m_rng.derive(draw).derive(static_cast<uint64_t>(layer)).derive(static_cast<uint64_t>(group));
  // The read laws of each core this layer group uses (block_reads.h).
  std::map<int64_t, BlockLaws> laws;
  bool noisy = false;
  std::vector<double> off(static_cast<size_t>(N)), sd(static_cast<size_t>(N));
  for (int64_t b = 0; b < P * Q; ++b) {
    const int64_t X = t.core[b];
    if (laws.count(X)) continue;
    for (int64_t i = 0; i < k; ++i)
      for (int c = 0; c < ch; ++c) {
        off[static_cast<size_t>(i * ch + c)] = offset_at(slot, X, i, c);
        sd[static_cast<size_t>(i * ch + c)] = std_at(slot, X, i, c);
      }
    noisy = laws.emplace(X, BlockLaws(code, k, off.data(), sd.data())).first->second.noisy() || noisy;
  }
  std::vector<float> xv(Q * k), acc(P * k);
  std::vector<BfpVector> qx(static_cast<size_t>(Q));
  std::vector<int64_t> shifts(static_cast<size_t>(N));
  RrnsCounters local;
  const int64_t cores = m_array.cores(), kk = k * k;
  std::vector<int64_t> block_reads(static_cast<size_t>(cores), 0), row_retries, ring_corrected;
  for (int64_t v = 0; v < n; ++v) {
    // A stop request: one image's decoding can take minutes under heavy noise with retries (the
    // run ignored SIGTERM for 8 minutes). The batch is dropped (Technology::set_stop_flag), and
    // this GEMM's counters are not added.
    if (stop_requested()) return;
    for (int64_t c = 0; c < Q * k; ++c) xv[c] = c < t.cols ? (x_trans ? x[v * t.cols + c] : x[c * n + v]) : 0.0f;
    qx = m_tile.quantize_input_segments(xv.data(), Q);  // once per segment, one exponent per group
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (int64_t p = 0; p < P; ++p)
      for (int64_t q = 0; q < Q; ++q) {
        const int64_t b = p * Q + q;
        const int64_t X = t.core[b] % cores;
        ++block_reads[static_cast<size_t>(X)];
        const RnsTile::Weights& w = W[b];
        const BfpVector& xq = qx[q];
        const uint64_t base = static_cast<uint64_t>((v * P + p) * Q + q) * static_cast<uint64_t>(1 + 2 * N);
        const BlockLaws& L = laws.at(t.core[b]);
        const bool any = noisy && L.draw(s, base, shifts.data());
        for (int64_t i = 0; i < k; ++i) {
          const int32_t* wr = w.mantissa.data() + i * k;
          int64_t d = 0;
          for (int64_t j = 0; j < k; ++j) d += int64_t{xq.mantissa[j]} * wr[j];
          const WordOutcome o =
              L.decode(code, m_tile.spec_max_retries(), d, any ? shifts.data() + i * ch : nullptr, s, base, i, local);
          if (o.retries > 0) {
            if (row_retries.empty()) row_retries.assign(static_cast<size_t>(cores * k), 0);
            row_retries[static_cast<size_t>(X * k + i)] += o.retries;
          }
          if (o.corrected_mask) {
            if (ring_corrected.empty()) ring_corrected.assign(static_cast<size_t>(cores * kk), 0);
            for (int c = 0; c < ch; ++c)
              if (o.corrected_mask >> c & 1) ++ring_corrected[static_cast<size_t>(X * kk + i * k + (c % k))];
          }
          acc[p * k + i] += static_cast<float>(ldexp_exact(static_cast<double>(o.value), xq.exponent[0] + w.exponent[i]));
        }
      }
    for (int64_t r = 0; r < t.rows; ++r) (y_trans ? y[v * t.rows + r] : y[r * n + v]) = acc[r];
  }
  if (m_copy) return;  // another chip's measurement: the simulated chip's counters and observations stay
  std::lock_guard<std::mutex> lock(m_mutex);
  m_counters[layer] += local;
  for (size_t i = 0; i < block_reads.size(); ++i) m_block_reads[i] += block_reads[i];
  for (size_t i = 0; i < row_retries.size(); ++i) m_row_retries[i] += row_retries[i];
  for (size_t i = 0; i < ring_corrected.size(); ++i) m_ring_corrected[i] += ring_corrected[i];
}

std::unique_ptr<ChipBackwardGemm> RnsCore::backward_gemm(const RandomStream& stream) const {
  // The channels' phase errors at the batch's first instant (set_times), every core of the array.
  const int64_t k = m_array.k;
  const int ch = channels();
  RnsPlacement place;
  place.rows = m_array.rows;
  place.cols = m_array.cols;
  for (int64_t X = 0; X < place.cores(); ++X)
    for (int64_t i = 0; i < k; ++i)
      for (int c = 0; c < ch; ++c) {
        place.offset_rad.push_back(offset_at(0, X, i, c));
        place.std_rad.push_back(std_at(0, X, i, c));
      }
  return std::make_unique<ChipBackwardGemm>(m_tile, std::move(place), stream);
}

RrnsCounters RnsCore::counters(int64_t layer) const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_counters.at(layer);
}

RrnsCounters RnsCore::total() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  RrnsCounters s;
  for (const auto& c : m_counters) s += c;
  return s;
}

std::vector<int> RnsCore::output_adc_bits() const {
  std::vector<int> b;
  for (int64_t m : m_tile.code().moduli()) b.push_back(adc_bits(m));
  return b;
}

nlohmann::json RnsCore::resolved() const {
  const auto& all = m_tile.code().moduli();  // base then redundant
  const size_t n = static_cast<size_t>(m_tile.code().n());
  nlohmann::json base = nlohmann::json::array(), red = nlohmann::json::array();
  for (size_t i = 0; i < all.size(); ++i) (i < n ? base : red).push_back(all[i]);
  return {{"base_moduli", base},
          {"redundant_moduli", red},
          {"channel_adc_bits", output_adc_bits()},
          {"legitimate_range", m_tile.code().legit_range()}};
}

namespace {
std::vector<std::pair<std::string, int64_t>> named(const RrnsCounters& c) {
  return {{"rns_words", c.words},       {"rns_attempts", c.attempts},   {"rns_residue_errors", c.residue_errors},
          {"rns_detected", c.detected}, {"rns_corrected", c.corrected}, {"rns_retried", c.retried},
          {"rns_failed", c.failed},     {"rns_silent", c.silent}};
}
}  // namespace

std::vector<std::pair<std::string, int64_t>> RnsCore::counters() const {
  return named(total());
}

nlohmann::json RnsCore::layer_counters() const {
  nlohmann::json a = nlohmann::json::array();
  for (int64_t l = 0; l < layers(); ++l) {
    nlohmann::json j = {{"layer", m_wl.layers[l].node}};
    for (const auto& [k, v] : named(counters(l))) j[k.substr(4)] = v;
    a.push_back(j);
  }
  return a;
}

}  // namespace ptc::hw::rns
