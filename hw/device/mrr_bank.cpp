#include "hw/device/mrr_bank.h"

#include <limits>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "hw/physics/vec_math.h"
#include "models/error.h"

namespace ptc::hw {
namespace {

// One block's effective normalised weights: phi = xphase + xoffset (+ M^T-applied noise v when
// v != nullptr; mt == nullptr: no crosstalk), then w = 2 T(phi) - 1 with
// T = (A - B cos phi) / (D - B cos phi) (hw/physics/mrr.h). Vectorised; float throughout.
// phase += M v for k = 8 when M couples rings at most Band block rows apart (M^T's zero entries
// outside the band are skipped: the same sums in the same order as the dense product, the same
// bits); the 8 rows of phase stay in registers, updated source by source.
typedef float V8 __attribute__((vector_size(32)));  // one block row of 8 phases

// Clang (the fuzz build, tools/fuzz_ci.sh) does not multiversion function templates; there the
// template is compiled for the default target only (GCC builds are unchanged).
#if defined(__clang__)
#define PTC_TEMPLATE_CLONES
#else
#define PTC_TEMPLATE_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif

template <int Band>
PTC_TEMPLATE_CLONES void add_banded(const float* v, const float* mt, float* phase) {
  V8 acc[8];
  for (int r = 0; r < 8; ++r) std::memcpy(&acc[r], phase + r * 8, sizeof(V8));
#pragma GCC unroll 8
  for (int s = 0; s < 8; ++s)
#pragma GCC unroll 8
    for (int jj = 0; jj < 8; ++jj) {
      const float vj = v[s * 8 + jj];
      const float* col = mt + (s * 8 + jj) * 64;
#pragma GCC unroll 3
      for (int d = -Band; d <= Band; ++d) {
        const int r = s + d;
        if (r < 0 || r > 7) continue;
        V8 c;
        std::memcpy(&c, col + r * 8, sizeof(V8));
        acc[r] += c * vj;
      }
    }
  for (int r = 0; r < 8; ++r) std::memcpy(phase + r * 8, &acc[r], sizeof(V8));
}

// phase += M v by diagonals: nd offsets doff (ascending), coef[d kk + i] = M[i, i + doff[d]]
// (0 where i + doff[d] leaves [0, kk)); v is readable at v[-pad .. kk + pad). Ascending offsets
// add the sources in ascending order, as the dense product does, and skip only its zero terms:
// the same bits.
inline void add_diagonals(int64_t kk, const float* v, int nd, const int* doff, const float* coef, float* phase) {
  for (int d = 0; d < nd; ++d) {
    const float* c = coef + d * kk;
    const float* vs = v + doff[d];
    for (int64_t i = 0; i < kk; ++i) phase[i] += c[i] * vs[i];
  }
}

// nd > 0: the diagonal form (mt may be null); else band 0 or 1 (k = 8 only): M couples rings at most `band`
// block rows apart (add_banded); otherwise the dense product.
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"))) void realize_block(
    int64_t kk, const float* xphase, const float* xoffset, const float* v, const float* mt, int band, int nd, const int* doff,
    const float* dcoef, float A, float B, float D, float* phase, float* w) {
  for (int64_t i = 0; i < kk; ++i) phase[i] = xphase[i] + xoffset[i];
  if (v) {
    if (nd > 0) {
      add_diagonals(kk, v, nd, doff, dcoef, phase);
    } else if (mt && band == 0) {
      add_banded<0>(v, mt, phase);
    } else if (mt && band == 1) {
      add_banded<1>(v, mt, phase);
    } else if (mt) {
      for (int64_t j = 0; j < kk; ++j) {
        const float vj = v[j];
        const float* col = mt + j * kk;
        for (int64_t i = 0; i < kk; ++i) phase[i] += col[i] * vj;
      }
    } else {
      for (int64_t i = 0; i < kk; ++i) phase[i] += v[i];
    }
  }
  for (int64_t i = 0; i < kk; ++i) {
    const float c = vmath::cos_f(phase[i]);
    w[i] = 2.0f * (A - B * c) / (D - B * c) - 1.0f;
  }
}

}  // namespace

double Technology::schedule_temperature_k(int64_t) const {
  return std::numeric_limits<double>::quiet_NaN();
}

const std::vector<int>& Technology::signed_levels(int64_t, int64_t) const {
  throw Error("device \"" + name() + "\" has no transmission levels");
}

VerifyResult Technology::verify(int64_t, int64_t, const std::vector<uint8_t>&, const VerifySpec&, double) {
  throw Error("device \"" + name() + "\" has no write-verify (devices with it: pcm, swim_variation, mrr)");
}

int64_t Technology::relock_rings(int64_t, const std::vector<char>&) {
  throw Error("device " + name() + ": re-calibrates its rings only as a whole (no selective re-calibration)");
}

void Technology::set_worn_cells(const std::vector<char>&) {
  throw Error("device \"" + name() + "\" has no cell endurance model");
}

void Technology::set_tile_rows(int64_t, int64_t, int64_t, const std::vector<int>&) {
  throw Error("device \"" + name() + "\" does not support tile remapping");
}

std::vector<int> Technology::tile_rows(int64_t, int64_t, int64_t) const {
  throw Error("device \"" + name() + "\" does not support tile remapping");
}

MrrBank::MrrBank(const models::CompiledWorkload& wl, const MrrBankConfig& cfg, const RandomStream& rng)
    : m_wl(wl), m_cfg(cfg), m_array{wl.spec.rows, wl.spec.cols, wl.spec.block_size}, m_rng(rng) {
  // Bind the ring-phase processes in stage order (ties: the order given).
  for (const auto& [p, i] : ring_phase_processes(cfg.noise)) {
    const std::string where = noise_where(cfg.noise_labels, i);
    for (const auto& need : p->needs())
      if (need == "cyclic_mapping" && wl.spec.mapping != "cyclic")
        throw Error(where + ": MRR phase variation follows DOCTOR's chunk schedule and needs the cyclic mapping");
    std::unique_ptr<PhaseNoise> inst = bind_phase_noise(*p, i, where, m_array, rng);
    if (inst->coupling()) {
      if (m_xt) throw Error(where + ": at most one linear ring coupling (thermal crosstalk) per MRR bank");
      m_xt = inst->coupling();
    }
    m_noise.push_back(std::move(inst));
    m_noise_where.push_back(where);
  }
  if (cfg.instances < 1) throw Error("MRR bank: instances must be >= 1");
  if (!(cfg.tuning_sigma_rad >= 0) || !std::isfinite(cfg.tuning_sigma_rad))
    throw Error("MRR bank: tuning_sigma_rad must be >= 0");
  m_ws.resize(static_cast<size_t>(cfg.instances));
  for (size_t l = 0; l < wl.layers.size(); ++l) {
    for (auto& inst : m_ws) inst.emplace_back(wl.layers[l].gemms.size());
    m_ops.emplace_back(wl.layers[l].gemms.size(), 1);  // op 0: the deployment programming
    m_latent.emplace_back();
    m_phase.emplace_back();
    m_scale.emplace_back();
    m_core.emplace_back();
    for (size_t g = 0; g < wl.layers[l].gemms.size(); ++g) {
      const auto& t = wl.layers[l].gemms[g];
      m_latent.back().push_back(t.blocks);
      m_phase.back().emplace_back(t.blocks.size());
      m_scale.back().emplace_back(t.P * t.Q);
      m_core.back().push_back(t.core);
      if (cfg.tuning_sigma_rad > 0)
        for (int64_t k = 0; k < cfg.instances; ++k) {
          std::vector<float>& tune = m_ws[static_cast<size_t>(k)][l][g].tune;
          tune.resize(t.blocks.size());
          tune_stream(k, static_cast<int64_t>(l), static_cast<int64_t>(g), 0)
              .fill_normal(0, static_cast<int64_t>(tune.size()), tune.data());
          for (float& e : tune) e = static_cast<float>(e * cfg.tuning_sigma_rad);
        }
      encode(static_cast<int64_t>(l), static_cast<int64_t>(g));
      m_writes += static_cast<int64_t>(t.blocks.size());
    }
  }
  if (m_xt) {
    const int64_t k = m_array.k, kk = k * k;
    // Per-draw noise coupling (phase += M v): couplings below float's unit roundoff 2^-24 (relative
    // to the self-coupling 1) are left out. Their terms are < 6e-8 |v_j| (|v| ~ sigma ~ 1e-2 rad:
    // < 1e-9 rad, far below a float phase's resolution ~1e-7 rad); for DOCTOR's bank (kappa 0.1/um,
    // pitches 60/200 um) this keeps the same-row neighbours 1 and 2 pitches away (2.5e-3, 6.1e-6)
    // and drops 3 pitches (1.5e-8) and every other row (2e-9 and less): band 0. The programmed
    // phases and offsets are coupled once, in double, by ThermalCrosstalk (cut 1e-12).
    // (Within ThermalCrosstalk's memory limit, which counts this dense form.)
    const double cut = ThermalCrosstalk::kNoiseCouplingCut;
    // M depends on the ring offset only: the kept couplings lie on the diagonals j - i = dr k + dc
    // of the offsets (dr, dc) above the cut, and M^T is built densely only where a path reads it
    // (k = 8's banded form, or more than 16 diagonals).
    const auto coef = [&](int64_t i, int64_t j) {
      const double m = m_xt->coupling_at(j / k - i / k, j % k - i % k);
      return m >= cut ? static_cast<float>(m) : 0.0f;
    };
    const std::vector<int>& diags = m_xt->noise_diagonals();
    if (m_xt->dense_noise_form()) {
      m_mt.assign(static_cast<size_t>(kk * kk), 0.0f);
      for (int64_t i = 0; i < kk; ++i)
        for (int64_t j = 0; j < kk; ++j) m_mt[j * kk + i] = coef(i, j);
    }
    // Diagonal form when M has few non-zero diagonals (DOCTOR's bank after the cut: 5).
    if (diags.size() <= 16) {
      m_diag_off = diags;
      m_diag_pad = 0;
      for (int d : diags) m_diag_pad = std::max(m_diag_pad, std::abs(d));
      m_diag_coef.assign(diags.size() * static_cast<size_t>(kk), 0.0f);
      for (size_t d = 0; d < diags.size(); ++d)
        for (int64_t i = 0; i < kk; ++i) {
          const int64_t j = i + diags[d];
          if (j >= 0 && j < kk) m_diag_coef[d * static_cast<size_t>(kk) + static_cast<size_t>(i)] = coef(i, j);
        }
    }
    if (k == 8) {
      m_mt_band = 0;
      for (int64_t i = 0; i < kk; ++i)
        for (int64_t j = 0; j < kk; ++j)
          if (m_mt[j * kk + i] != 0.0f) m_mt_band = std::max<int>(m_mt_band, std::abs(static_cast<int>(i / 8 - j / 8)));
    }
  }
  set_step(0);
}

void MrrBank::encode(int64_t layer, int64_t group) {
  const int64_t kk = m_array.k * m_array.k;
  const auto& w = m_latent[layer][group];
  auto& ph = m_phase[layer][group];
  auto& sc = m_scale[layer][group];
  for (size_t b = 0; b < sc.size(); ++b) mrr_encode_block(m_cfg.ring, w.data() + b * kk, kk, ph.data() + b * kk, sc[b]);
  update_xphase(layer, group);
}

void MrrBank::update_xphase(int64_t layer, int64_t group) {
  if (m_xphase.size() <= static_cast<size_t>(layer)) m_xphase.resize(static_cast<size_t>(layer) + 1);
  auto& xl = m_xphase[layer];
  if (xl.size() <= static_cast<size_t>(group)) xl.resize(static_cast<size_t>(group) + 1);
  std::vector<float>& x = xl[group];
  x = m_phase[layer][group];
  if (static_cast<size_t>(m_instance) < m_ws.size()) {  // set point + tuning error + verify correction
    const WriteState& ws = m_ws[static_cast<size_t>(m_instance)][layer][group];
    if (!ws.tune.empty())
      for (size_t i = 0; i < x.size(); ++i) x[i] += ws.tune[i];
    if (!ws.corr.empty())
      for (size_t i = 0; i < x.size(); ++i) x[i] += ws.corr[i];
  }
  if (m_xt) m_xt->apply(x.data(), static_cast<int64_t>(m_scale[layer][group].size()));
}

RandomStream MrrBank::tune_stream(int64_t k, int64_t layer, int64_t group, uint64_t op) const {
  return m_rng.derive(31)
      .derive(static_cast<uint64_t>(k))
      .derive(static_cast<uint64_t>(layer) << 20 | static_cast<uint64_t>(group))
      .derive(op);
}

void MrrBank::update_crossed_offsets() {
  m_xoffset = m_offset;
  for (auto& off : m_xoffset) {
    if (!m_extra.empty())
      for (size_t i = 0; i < off.size(); ++i) off[i] += m_extra[i];
    if (m_xt) m_xt->apply(off.data(), m_array.cores());
  }
}

int64_t MrrBank::program(int64_t layer, int64_t group, const std::vector<float>& blocks, double) {
  auto& lat = m_latent.at(layer).at(group);
  if (blocks.size() != lat.size())
    throw Error("MRR program: layer " + std::to_string(layer) + " expects " + std::to_string(lat.size()) + " weights, got " +
                std::to_string(blocks.size()));
  if (m_instance != 0) throw Error("MRR program: Monte-Carlo instance " + std::to_string(m_instance) + " is selected");
  if (blocks == lat) return 0;  // same latent weights: the encoded phases are unchanged
  std::vector<float> old = m_phase[layer][group];
  lat = blocks;
  encode(layer, group);
  int64_t n = 0;
  const auto& ph = m_phase[layer][group];
  for (size_t i = 0; i < ph.size(); ++i) n += ph[i] != old[i];
  m_writes += n;
  // Every re-written ring lands with a fresh tuning error and an open-loop set point (its verify
  // correction is void), in every Monte-Carlo instance.
  const uint64_t op = m_ops[layer][group]++;
  if (has_write_state() && n > 0) {
    std::vector<float> draw;
    for (size_t k = 0; k < m_ws.size(); ++k) {
      WriteState& ws = m_ws[k][layer][group];
      if (!ws.tune.empty()) {
        draw.resize(ws.tune.size());
        tune_stream(static_cast<int64_t>(k), layer, group, op).fill_normal(0, static_cast<int64_t>(draw.size()), draw.data());
      }
      for (size_t i = 0; i < ph.size(); ++i) {
        if (ph[i] == old[i]) continue;
        if (!ws.tune.empty()) ws.tune[i] = static_cast<float>(draw[i] * m_cfg.tuning_sigma_rad);
        if (!ws.corr.empty()) ws.corr[i] = 0.0f;
      }
    }
    update_xphase(layer, group);
  }
  return n;
}

void MrrBank::select_offsets(int64_t k) {
  bool changed = false;
  for (auto& p : m_noise) changed = p->select_instance(k) || changed;
  if (changed && !m_times.empty()) set_times(m_draw_base, std::vector<NoiseTime>(m_times));
}

bool MrrBank::select_instance(int64_t k) {
  if (k < 0) throw Error("MRR: Monte-Carlo instance must be >= 0");
  if (k == m_instance) return true;
  if (has_write_state() && k >= m_cfg.instances)
    throw Error("MRR: Monte-Carlo instance " + std::to_string(k) + " of a bank built for " + std::to_string(m_cfg.instances));
  m_instance = k;
  select_offsets(k);
  if (has_write_state())
    for (size_t l = 0; l < m_latent.size(); ++l)
      for (size_t g = 0; g < m_latent[l].size(); ++g) update_xphase(static_cast<int64_t>(l), static_cast<int64_t>(g));
  return true;
}

VerifyResult MrrBank::verify(int64_t layer, int64_t group, const std::vector<uint8_t>& mask, const VerifySpec& spec, double) {
  if (m_instance != 0) throw Error("MRR: write-verify while Monte-Carlo instance " + std::to_string(m_instance) + " is selected");
  const auto& lat = m_latent.at(layer).at(group);
  if (mask.size() != lat.size())
    throw Error("MRR verify: layer " + std::to_string(layer) + " has " + std::to_string(lat.size()) + " weights, mask has " +
                std::to_string(mask.size()));
  if (!(spec.tolerance >= 0) || spec.max_iterations < 0 || spec.reads < 1)
    throw Error("MRR verify: tolerance >= 0, max_iterations >= 0 and reads >= 1 required");
  std::vector<uint32_t> idx;
  for (size_t j = 0; j < mask.size(); ++j)
    if (mask[j]) idx.push_back(static_cast<uint32_t>(j));
  const uint64_t op = m_ops[layer][group]++;
  m_verified = true;
  for (auto& inst : m_ws)
    if (inst[layer][group].corr.empty()) inst[layer][group].corr.assign(lat.size(), 0.0f);
  // Instance 0 is the simulated chip (its counts are charged); the others verify with their own
  // offsets and draws at the same instant.
  VerifyResult r = verify_instance(0, layer, group, idx, spec, op);
  for (int64_t k = 1; k < m_cfg.instances; ++k) {
    select_offsets(k);
    verify_instance(k, layer, group, idx, spec, op);
  }
  if (m_cfg.instances > 1) select_offsets(0);
  update_xphase(layer, group);
  m_writes += r.writes;
  return r;
}

VerifyResult MrrBank::verify_instance(int64_t k, int64_t layer, int64_t group, const std::vector<uint32_t>& idx,
                                      const VerifySpec& spec, uint64_t op) {
  const models::GemmTiles& t = m_wl.layers.at(layer).gemms.at(group);
  const int64_t kk = m_array.k * m_array.k;
  WriteState& ws = m_ws[static_cast<size_t>(k)][layer][group];
  const std::vector<float>& ph = m_phase[layer][group];
  const std::vector<int32_t>& core_of = m_core[layer][group];
  const size_t slot = m_slot.empty() ? 0 : static_cast<size_t>(m_slot.front());
  const std::vector<float>& xoff = m_xoffset.at(slot);
  const float* sd = m_std.empty() ? nullptr : m_std[slot].data();
  const double a = m_cfg.ring.a, rr = m_cfg.ring.r;
  const float A = static_cast<float>(a * a + rr * rr), B = static_cast<float>(2 * a * rr),
              D = static_cast<float>(1 + a * a * rr * rr);
  const float* mt = m_mt.empty() ? nullptr : m_mt.data();
  const int nd = static_cast<int>(m_diag_off.size());
  const double tol = spec.tolerance * mrr_weight_scale(m_cfg.ring), inv_reads = 1.0 / static_cast<double>(spec.reads);
  const uint64_t N = ph.size();
  const RandomStream read_rng = m_rng.derive(32)
                                    .derive(static_cast<uint64_t>(k))
                                    .derive(static_cast<uint64_t>(layer) << 20 | static_cast<uint64_t>(group))
                                    .derive(op);
  const RandomStream tune_rng = tune_stream(k, layer, group, op);
  VerifyResult r;
  r.weights = static_cast<int64_t>(idx.size());
  r.block_reads.assign(static_cast<size_t>(t.P * t.Q), 0);
  r.block_rewrites.assign(static_cast<size_t>(t.P * t.Q), 0);
  r.block_rounds.assign(static_cast<size_t>(t.P * t.Q), 0);
  std::vector<float> x(kk), phase(kk), w(kk), noise_pad(static_cast<size_t>(kk + 2 * m_diag_pad), 0.0f);
  std::vector<double> sum(kk);
  float* noise = noise_pad.data() + m_diag_pad;
  std::vector<uint32_t> active, next;
  for (size_t i0 = 0; i0 < idx.size();) {
    const int64_t b = idx[i0] / kk;
    size_t i1 = i0;
    while (i1 < idx.size() && idx[i1] / kk == b) ++i1;
    active.assign(idx.begin() + static_cast<std::ptrdiff_t>(i0), idx.begin() + static_cast<std::ptrdiff_t>(i1));
    i0 = i1;
    const int64_t core = core_of[b];
    const RandomStream block_rng = read_rng.derive(static_cast<uint64_t>(b));
    for (int64_t it = 0;; ++it) {
      // The block's rings as they are now: set points + tuning errors + corrections, coupled.
      for (int64_t i = 0; i < kk; ++i) {
        const size_t j = static_cast<size_t>(b * kk + i);
        x[i] = ph[j] + (ws.tune.empty() ? 0.0f : ws.tune[j]) + ws.corr[j];
      }
      if (m_xt) m_xt->apply(x.data(), 1);
      std::fill(sum.begin(), sum.end(), 0.0);
      for (int64_t rd = 0; rd < spec.reads; ++rd) {
        const float* v = nullptr;
        if (sd) {
          block_rng.fill_normal_fast(static_cast<uint64_t>((it * spec.reads + rd) * kk), kk, noise);
          for (int64_t i = 0; i < kk; ++i) noise[i] *= sd[core * kk + i];
          v = noise;
        }
        realize_block(kk, x.data(), xoff.data() + core * kk, v, mt, m_mt_band, nd, m_diag_off.data(), m_diag_coef.data(), A, B, D,
                      phase.data(), w.data());
        for (uint32_t j : active) {
          const int64_t i = j - b * kk;
          const double wi = std::abs(phase[i]) <= vmath::kCosMaxArg ? w[i] : mrr_weight(m_cfg.ring, phase[i]);
          sum[i] += wi;
        }
      }
      r.reads += static_cast<int64_t>(active.size()) * spec.reads;
      r.block_reads[b] += static_cast<int64_t>(active.size()) * spec.reads;
      next.clear();
      for (uint32_t j : active) {
        const double read = sum[j - b * kk] * inv_reads;
        if (std::abs(read - mrr_weight(m_cfg.ring, ph[j])) <= tol) continue;
        if (it == spec.max_iterations) {
          ++r.unconverged;
          continue;
        }
        // Closed loop: move the set point by the phase error the read shows, re-write (fresh
        // tuning error).
        ws.corr[j] -= static_cast<float>(mrr_phase_for_weight(m_cfg.ring, read) - ph[j]);
        if (!ws.tune.empty())
          ws.tune[j] = static_cast<float>(m_cfg.tuning_sigma_rad * tune_rng.normal(static_cast<uint64_t>(it) * N + j));
        ++r.writes;
        ++r.block_rewrites[b];
        next.push_back(j);
      }
      if (!next.empty()) ++r.block_rounds[b];
      active.swap(next);
      if (active.empty()) break;
    }
  }
  return r;
}

void MrrBank::set_tile_rows(int64_t layer, int64_t group, int64_t chunk, const std::vector<int>& rows) {
  const auto& t = m_wl.layers.at(layer).gemms.at(group);
  const int64_t R = m_array.rows, C = m_array.cols;
  if (static_cast<int64_t>(rows.size()) != R) throw Error("tile remap: expected " + std::to_string(R) + " core rows");
  std::vector<int> seen(R, 0);
  for (int r : rows) {
    if (r < 0 || r >= R || seen[r]++) throw Error("tile remap: rows must be a permutation of 0.." + std::to_string(R - 1));
  }
  auto& core = m_core.at(layer).at(group);
  for (int64_t p = 0; p < t.P; ++p)
    for (int64_t q = 0; q < t.Q; ++q) {
      int64_t b = p * t.Q + q;
      if (t.chunk[b] != chunk) continue;
      core[b] = static_cast<int32_t>(rows[p % R] * C + (t.core[b] % C));
    }
  m_tile_rows[{layer, group, chunk}] = rows;
}

std::vector<int> MrrBank::tile_rows(int64_t layer, int64_t group, int64_t chunk) const {
  m_wl.layers.at(layer).gemms.at(group);  // range check
  auto it = m_tile_rows.find({layer, group, chunk});
  if (it != m_tile_rows.end()) return it->second;
  std::vector<int> rows(static_cast<size_t>(m_array.rows));
  for (int64_t i = 0; i < m_array.rows; ++i) rows[i] = static_cast<int>(i);
  return rows;
}

int64_t MrrBank::relock(int64_t step) {
  int64_t weights = 0;
  for (const auto& layer : m_latent)
    for (const auto& w : layer) weights += static_cast<int64_t>(w.size());
  m_writes += weights;
  for (auto& p : m_noise) p->relock(NoiseTime{step, 0.0}, nullptr);
  return weights;
}

void MrrBank::set_ring_temperature_k(const std::vector<double>& dt_k) {
  if (static_cast<int64_t>(dt_k.size()) != m_array.rings())
    throw Error("MRR ring temperatures: expected " + std::to_string(m_array.rings()) + " rings");
  // The thermo-optic phase per kelvin of each ring wavelength (DOCTOR's global-temperature
  // coefficients at their defaults).
  if (m_dphi_dk.empty()) {
    GlobalTemperature gt(m_array, GlobalTemperatureParams{});
    for (int64_t l = 0; l < m_array.k; ++l) m_dphi_dk.push_back(gt.phase_per_kelvin(l));
  }
  const int64_t k = m_array.k;
  std::vector<float> off(dt_k.size());
  for (size_t r = 0; r < dt_k.size(); ++r) off[r] = static_cast<float>(dt_k[r] * m_dphi_dk[r % k]);
  set_extra_offset(off);
}

double MrrBank::schedule_temperature_k(int64_t step) const {
  for (const auto& p : m_noise) {
    const double t = p->mean_temperature_k(step);
    if (std::isfinite(t)) return t;
  }
  return Technology::schedule_temperature_k(step);
}

void MrrBank::set_extra_offset(const std::vector<float>& offset_rad) {
  if (!offset_rad.empty() && static_cast<int64_t>(offset_rad.size()) != m_array.rings())
    throw Error("MRR extra offset: expected " + std::to_string(m_array.rings()) + " rings");
  m_extra = offset_rad;
  update_crossed_offsets();
}

void MrrBank::set_times(uint64_t draw_base, const std::vector<NoiseTime>& times) {
  if (times.empty()) throw Error("MRR bank: no noise instant given");
  m_times = times;
  m_draw_base = draw_base;
  m_steps.clear();
  m_slot.clear();
  m_std.clear();
  m_offset.clear();
  bool any_random = false;
  for (const auto& t : times) {
    if (t.step < 0) throw Error("MRR bank: negative step");
    if (m_steps.empty() || t.step != m_steps.back()) {
      // Independent Gaussian processes add in variance; a step without any keeps an empty slot.
      std::vector<float> sd;
      any_random = per_read_std(m_noise, m_noise_where, t.step, m_array.rings(), sd) || any_random;
      m_std.push_back(std::move(sd));
      std::vector<float> off(m_array.rings(), 0.0f);
      for (const auto& p : m_noise) p->add_offset(t, off.data());
      m_offset.push_back(std::move(off));
    }
    m_steps.push_back(t.step);
    m_slot.push_back(static_cast<int32_t>(m_offset.size() - 1));
  }
  // Per-read noise at any of the batch's steps: every slot has a std map (zeros where none).
  if (!any_random) m_std.clear();
  for (auto& sd : m_std)
    if (sd.empty()) sd.assign(static_cast<size_t>(m_array.rings()), 0.0f);
  update_crossed_offsets();
}

void MrrBank::realize(int64_t layer, int64_t group, uint64_t draw, float* wn, float* scale) const {
  const models::GemmTiles& t = m_wl.layers.at(layer).gemms.at(group);
  const std::vector<float>& xph = m_xphase.at(layer).at(group);
  const std::vector<float>& sc = m_scale.at(layer).at(group);
  const std::vector<int32_t>& core_of = m_core.at(layer).at(group);
  const int64_t kk = m_array.k * m_array.k;
  const double a = m_cfg.ring.a, r = m_cfg.ring.r;
  const float A = static_cast<float>(a * a + r * r), B = static_cast<float>(2 * a * r), D = static_cast<float>(1 + a * a * r * r);
  uint64_t idx = draw >= m_draw_base ? draw - m_draw_base : 0;
  const size_t slot = static_cast<size_t>(m_slot[std::min<uint64_t>(idx, m_slot.size() - 1)]);
  const std::vector<float>& xoff = m_xoffset[slot];
  const float* mt = m_mt.empty() ? nullptr : m_mt.data();
  // Phase-variation draws: one full-array sample per (draw, layer, group, chunk); the block on
  // core c reads the sample's rings [c k^2, (c + 1) k^2).
  RandomStream base = m_rng.derive(12).derive(draw).derive(static_cast<uint64_t>(layer) << 20 | static_cast<uint64_t>(group));
  thread_local std::vector<float> phase, noise_pad;
  thread_local std::vector<RandomStream> chunk_rng;  // base.derive(chunk), derived once per chunk
  thread_local std::vector<char> chunk_done;
  phase.resize(kk);
  // The noise of a block, with m_diag_pad zeros either side for the diagonal crosstalk form.
  noise_pad.assign(static_cast<size_t>(kk + 2 * m_diag_pad), 0.0f);
  float* noise = noise_pad.data() + m_diag_pad;
  const int nd = static_cast<int>(m_diag_off.size());
  const bool random = !m_std.empty();
  if (random) chunk_done.assign(static_cast<size_t>(std::max<int64_t>(m_wl.layers[layer].chunks, 1)), 0);
  for (int64_t b = 0; b < t.P * t.Q; ++b) {
    const int64_t core = core_of[b];
    const float* v = nullptr;
    if (random) {
      const auto c = static_cast<size_t>(t.chunk[b]);
      if (c >= chunk_done.size()) chunk_done.resize(c + 1, 0);
      if (chunk_rng.size() < chunk_done.size()) chunk_rng.resize(chunk_done.size(), base);
      if (!chunk_done[c]) {
        chunk_rng[c] = base.derive(static_cast<uint64_t>(c));
        chunk_done[c] = 1;
      }
      const RandomStream& s = chunk_rng[c];
      s.fill_normal_fast(static_cast<uint64_t>(core * kk), kk, noise);
      const float* sd = m_std[slot].data() + core * kk;
      for (int64_t i = 0; i < kk; ++i) noise[i] *= sd[i];
      v = noise;
    }
    float* w = wn + b * kk;
    realize_block(kk, xph.data() + b * kk, xoff.data() + core * kk, v, mt, m_mt_band, nd, m_diag_off.data(), m_diag_coef.data(),
                  A, B, D, phase.data(), w);
    for (int64_t i = 0; i < kk; ++i)  // outside the vectorised cos range (never for sane phases)
      if (!(std::abs(phase[i]) <= vmath::kCosMaxArg)) {
        const float c = static_cast<float>(std::cos(static_cast<double>(phase[i])));
        w[i] = 2.0f * (A - B * c) / (D - B * c) - 1.0f;
      }
    scale[b] = sc[b];
  }
}

}  // namespace ptc::hw
