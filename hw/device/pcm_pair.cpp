#include "hw/device/pcm_pair.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "models/error.h"

namespace ptc::hw {

PcmPair::PcmPair(const models::CompiledWorkload& wl, const PcmPairConfig& cfg, const RandomStream& rng)
    : m_wl(wl), m_cfg(cfg), m_law(cfg.law), m_base_rng(rng), m_rng(rng) {
  if (!(cfg.device.g_max_us > 0)) throw Error("PCM: g_max_us must be > 0");
  if (!m_law) {  // the built-in law: aihwkit's PCMLike
    if (!(cfg.device.t0_s > 0)) throw Error("PCM: t0_s must be > 0");
    m_law = std::make_shared<PcmLikeLaw>(cfg.device, cfg.q_from_programmed);
  }
  if (!(cfg.g_min_us >= 0) || !(cfg.g_min_us < cfg.device.g_max_us)) {
    char b[128];
    std::snprintf(b, sizeof b, "device.g_min_us: must be in [0, device.g_max_us) (g_max %g uS), got %g", cfg.device.g_max_us,
                  cfg.g_min_us);
    throw Error(b);
  }
  if (cfg.f_lst.empty()) throw Error("PCM: f_lst needs at least one conductance pair");
  if (cfg.g_min_us > 0 && cfg.f_lst.size() > 1)
    throw Error(
        "device.g_min_us: a minimum conductance is modelled for one conductance pair per weight (device.f_lst [1]), "
        "not for " +
        std::to_string(cfg.f_lst.size()) + " pairs");
  for (double f : cfg.f_lst)
    if (!(f > 0) || !std::isfinite(f)) throw Error("PCM: every f_lst factor must be > 0");
  check_law_pure();
  for (const auto& L : wl.layers) {
    m_groups.emplace_back();
    for (const auto& t : L.gemms) {
      Group g;
      size_t n = t.blocks.size();
      g.latent = t.blocks;
      g.g_target_pos.assign(n, 0.0f);
      g.g_target_neg.assign(n, 0.0f);
      if (!cfg.scale_tile.per_block()) g.tile = pcm_tile_of_blocks(cfg.scale_tile, t.P, t.Q, t.rows, t.cols, g.n_tiles);
      m_groups.back().push_back(std::move(g));
    }
  }
  program_all();
}

int64_t PcmPair::program_all(double t_s) {
  int64_t before = m_writes;
  for (size_t l = 0; l < m_groups.size(); ++l)
    for (size_t gi = 0; gi < m_groups[l].size(); ++gi) program_group(l, gi, t_s);
  ++m_programmings;
  set_time(0.0);
  return m_writes - before;
}

int64_t PcmPair::program(int64_t layer, int64_t group, const std::vector<float>& blocks, double t_s) {
  if (m_instance != 0) throw Error("PCM: programming while Monte-Carlo instance " + std::to_string(m_instance) + " is selected");
  Group& g = m_groups.at(layer).at(group);
  if (blocks.size() != g.latent.size())
    throw Error("PCM program: layer " + std::to_string(layer) + " expects " + std::to_string(g.latent.size()) + " weights, got " +
                std::to_string(blocks.size()));
  int64_t before = m_writes;
  g.latent = blocks;
  program_group(static_cast<size_t>(layer), static_cast<size_t>(group), t_s);
  return m_writes - before;
}

void PcmPair::program_group(size_t l, size_t gi, double t_s) {
  const int64_t kk = m_wl.spec.block_size * m_wl.spec.block_size;
  const double gmax = m_cfg.device.g_max_us, gmin = m_cfg.g_min_us;
  const models::GemmTiles& t = m_wl.layers[l].gemms[gi];
  Group& g = m_groups[l][gi];
  const std::vector<int32_t>* tile = g.tile.empty() ? nullptr : &g.tile;
  // The single-pair targets (|w| / max|W| x (g_max - g_min), then + g_min on both devices), or
  // split over the pairs.
  const size_t n = g.latent.size(), pairs = m_cfg.f_lst.size();
  std::vector<float>&tp = pairs > 1 ? m_map_pos : g.g_target_pos, &tn = pairs > 1 ? m_map_neg : g.g_target_neg;
  tp.assign(n, 0.0f);
  tn.assign(n, 0.0f);
  const int64_t writes =
      static_cast<int64_t>(pairs) *
      (m_cfg.scale_tile.columnwise
           ? pcm_map_pair_targets_columnwise(g.latent, t.P, t.Q, m_wl.spec.block_size, gmax - gmin,
                                             /*every device re-written*/ true, g.scale, g.row_scale, tp, tn, tile, g.n_tiles)
           : pcm_map_pair_targets(g.latent, t.P * t.Q, kk, gmax - gmin, /*every device re-written*/ true, g.scale, tp, tn, tile,
                                  g.n_tiles));
  if (gmin > 0)
    for (size_t j = 0; j < n; ++j) {
      tp[j] = static_cast<float>(static_cast<double>(tp[j]) + gmin);
      tn[j] = static_cast<float>(static_cast<double>(tn[j]) + gmin);
    }
  if (pairs > 1) {  // aihwkit NPairConductanceConverter: the less significant pairs fill first
    double F = 0;
    for (double f : m_cfg.f_lst) F += f;
    g.g_target_pos.assign(n * pairs, 0.0f);
    g.g_target_neg.assign(n * pairs, 0.0f);
    for (size_t j = 0; j < n; ++j) {
      const double wp = static_cast<double>(tp[j]) * F, wn = static_cast<double>(tn[j]) * F;  // in units of g_max x f
      double lower = 0;
      for (size_t i = 0; i < pairs; ++i) {
        const double f = m_cfg.f_lst[i];
        g.g_target_pos[i * n + j] = static_cast<float>(std::clamp((wp - lower) / f, 0.0, gmax));
        g.g_target_neg[i * n + j] = static_cast<float>(std::clamp((wn - lower) / f, 0.0, gmax));
        lower += f * gmax;
      }
    }
  }
  g.t_prog_s = t_s;
  ++g.programmings;
  g.verifies.clear();
  draw_group(l, gi);
  m_writes += writes;
}

void PcmPair::draw_group(size_t l, size_t gi) {
  Group& g = m_groups[l][gi];
  const size_t n = g.latent.size(), devices = g.g_target_pos.size();
  g.g_prog_pos.resize(devices);
  g.g_prog_neg.resize(devices);
  g.nu_pos.resize(devices);
  g.nu_neg.resize(devices);
  // Stream per (group, programming of that group): re-programming draws fresh noise. Pair 0
  // draws from it, pair i >= 1 from its own sub-stream (one pair: the draws of a SinglePair chip).
  const RandomStream s0 = m_rng.derive(21).derive(static_cast<uint64_t>(g.programmings - 1)).derive(l << 20 | gi);
  std::vector<RandomStream> streams{s0};
  for (size_t i = 1; i * n < devices; ++i) streams.push_back(s0.derive(kPairStream + i));
  for (size_t e = 0; e < devices; ++e) {
    const size_t i = e / n, j = e % n;
    const RandomStream& s = streams[i];
    const double tp = g.g_target_pos[e], tn = g.g_target_neg[e];
    // Normals 4j .. 4j + 3 of the stream: two pairs, each computed once.
    double z[4] = {0, 0, 0, 0};
    if (m_cfg.programming_noise) s.normal_pair(2 * j, z[0], z[1]);
    if (m_cfg.drift) s.normal_pair(2 * j + 1, z[2], z[3]);
    g.g_prog_pos[e] = static_cast<float>(m_cfg.programming_noise ? law_program(tp, z[0]) : tp);
    g.g_prog_neg[e] = static_cast<float>(m_cfg.programming_noise ? law_program(tn, z[1]) : tn);
    g.nu_pos[e] = static_cast<float>(m_cfg.drift ? law_drift(tp, z[2]) : 0.0);
    g.nu_neg[e] = static_cast<float>(m_cfg.drift ? law_drift(tn, z[3]) : 0.0);
  }
  g.t_dev.clear();
  for (size_t e = 0; e < g.verifies.size(); ++e) apply_verify(l, gi, e);
}

// The law's results are checked where they enter the device: a plug-in law that returns a
// negative or non-finite conductance (or drift coefficient) is an error naming what it returned.
void PcmPair::check_law_pure() const {
  check_pcm_law_pure(*m_law, m_cfg.name, m_cfg.device.g_max_us, m_cfg.programming_noise, m_cfg.drift, m_cfg.read_noise);
}

double PcmPair::law_program(double g_target, double xi) const {
  return checked_program_us(*m_law, m_cfg.name, g_target, xi);
}

double PcmPair::law_drift(double g_target, double xi) const {
  return checked_drift_coefficient(*m_law, m_cfg.name, g_target, xi);
}

double PcmPair::law_read(double g_prog, double g_target, double c, double t_inf_s, double xi, bool noiseless) const {
  return checked_read_us(*m_law, m_cfg.name, g_prog, g_target, c, t_inf_s, xi, noiseless);
}

double PcmPair::read_us(double g_prog, double g_target, double nu, double t_inf_s, double xi) const {
  if (m_cfg.read_noise) return law_read(g_prog, g_target, nu, t_inf_s, xi, false);
  return law_read(g_prog, g_target, nu, t_inf_s, 0.0, true);
}

VerifyResult PcmPair::verify(int64_t layer, int64_t group, const std::vector<uint8_t>& mask, const VerifySpec& spec, double t_s) {
  if (m_instance != 0) throw Error("PCM: write-verify while Monte-Carlo instance " + std::to_string(m_instance) + " is selected");
  Group& g = m_groups.at(layer).at(group);
  if (mask.size() != g.latent.size())
    throw Error("PCM verify: layer " + std::to_string(layer) + " has " + std::to_string(g.latent.size()) + " weights, mask has " +
                std::to_string(mask.size()));
  if (m_cfg.f_lst.size() > 1)
    throw Error("PCM verify: write-verify of weights on " + std::to_string(m_cfg.f_lst.size()) +
                " conductance pairs (device.f_lst) is not modelled");
  if (m_cfg.reconvert_at_read)
    throw Error(
        "PCM verify: write-verify with aihwkit's re-converted reads (device.reconvert_at_read) is not modelled: a "
        "verified pair keeps its own conductance, which re-conversion replaces");
  if (!(spec.tolerance >= 0) || spec.max_iterations < 0 || spec.reads < 1)
    throw Error("PCM verify: tolerance >= 0, max_iterations >= 0 and reads >= 1 required");
  if (!(t_s >= g.t_prog_s)) throw Error("PCM verify: time is before the group's programming");
  VerifyEvent ev;
  ev.t_s = t_s;
  ev.spec = spec;
  for (size_t j = 0; j < mask.size(); ++j)
    if (mask[j]) ev.idx.push_back(static_cast<uint32_t>(j));
  g.verifies.push_back(std::move(ev));
  VerifyResult r = apply_verify(static_cast<size_t>(layer), static_cast<size_t>(group), g.verifies.size() - 1);
  m_writes += r.writes;
  read_at(m_t_s, m_relative, m_draw_s);
  return r;
}

VerifyResult PcmPair::apply_verify(size_t l, size_t gi, size_t event) {
  Group& g = m_groups[l][gi];
  const VerifyEvent& ev = g.verifies[event];
  const PcmLikeParams& d = m_cfg.device;
  if (g.t_dev.empty()) g.t_dev.assign(g.g_prog_pos.size(), g.t_prog_s);
  // Stream per (group programming, verify event, group); each pair its own sub-stream, so a
  // replay (another instance, or instance 0 again) makes the same decisions from the same draws.
  const RandomStream s = m_rng.derive(23).derive(static_cast<uint64_t>(g.programmings - 1)).derive(event).derive(l << 20 | gi);
  const double tol = ev.spec.tolerance * (d.g_max_us - m_cfg.g_min_us), inv_reads = 1.0 / static_cast<double>(ev.spec.reads);
  const uint32_t kk = static_cast<uint32_t>(m_wl.spec.block_size * m_wl.spec.block_size);
  VerifyResult r;
  r.weights = static_cast<int64_t>(ev.idx.size());
  r.block_reads.assign(g.latent.size() / kk, 0);
  r.block_rewrites.assign(g.latent.size() / kk, 0);
  for (uint32_t j : ev.idx) {
    const RandomStream sj = s.derive(j);
    const double tp = g.g_target_pos[j], tn = g.g_target_neg[j];
    uint64_t u = 0;
    for (int64_t it = 0;; ++it) {
      const double t_inf = std::max(0.0, ev.t_s - g.t_dev[j]);
      double gp = 0, gn = 0;
      for (int64_t k = 0; k < ev.spec.reads; ++k, u += 2) {  // u is even: normals u, u + 1 are one pair
        double zp, zn;
        sj.normal_pair(u / 2, zp, zn);
        gp += read_us(g.g_prog_pos[j], tp, g.nu_pos[j], t_inf, zp);
        gn += read_us(g.g_prog_neg[j], tn, g.nu_neg[j], t_inf, zn);
      }
      r.reads += ev.spec.reads;
      r.block_reads[j / kk] += ev.spec.reads;
      if (std::abs((gp - gn) * inv_reads - (tp - tn)) <= tol) break;
      if (it == ev.spec.max_iterations) {
        ++r.unconverged;
        break;
      }
      // Re-write the pair: fresh programming noise and drift exponents; drift restarts now.
      double z[4] = {0, 0, 0, 0};  // normals u .. u + 3 (u even): two pairs
      if (m_cfg.programming_noise) sj.normal_pair(u / 2, z[0], z[1]);
      if (m_cfg.drift) sj.normal_pair(u / 2 + 1, z[2], z[3]);
      g.g_prog_pos[j] = static_cast<float>(m_cfg.programming_noise ? law_program(tp, z[0]) : tp);
      g.g_prog_neg[j] = static_cast<float>(m_cfg.programming_noise ? law_program(tn, z[1]) : tn);
      g.nu_pos[j] = static_cast<float>(m_cfg.drift ? law_drift(tp, z[2]) : 0.0);
      g.nu_neg[j] = static_cast<float>(m_cfg.drift ? law_drift(tn, z[3]) : 0.0);
      u += 4;
      g.t_dev[j] = ev.t_s;
      r.writes += 2;
      ++r.block_rewrites[j / kk];
    }
  }
  return r;
}

bool PcmPair::select_instance(int64_t k) {
  if (k < 0) throw Error("PCM: Monte-Carlo instance must be >= 0");
  if (k == m_instance) return true;
  m_instance = k;
  m_rng = k == 0 ? m_base_rng : m_base_rng.derive(0x4d43).derive(static_cast<uint64_t>(k));
  for (size_t l = 0; l < m_groups.size(); ++l)
    for (size_t gi = 0; gi < m_groups[l].size(); ++gi) draw_group(l, gi);
  read_at(m_t_s, m_relative, m_draw_s);
  return true;
}

void PcmPair::set_times(uint64_t, const std::vector<NoiseTime>& times) {
  if (times.empty()) throw Error("PCM: no read instant given");
  read_at(times.front().t_s, false, times.front().draw_instant_s());
}

bool PcmPair::set_noiseless_reads(bool on) {
  if (!m_cfg.read_noise) return false;
  m_noiseless = on;
  read_at(m_t_s, m_relative, m_draw_s);  // reads are a pure function of (programming, instant): restoring is exact
  return true;
}

void PcmPair::read_at(double t, bool relative, double draw_s) {
  if (!(t >= 0) || !std::isfinite(t)) throw Error("PCM: read time must be >= 0 s");
  if (!(draw_s >= 0) || !std::isfinite(draw_s)) throw Error("PCM: read-draw instant must be >= 0 s");
  m_t_s = t;
  m_draw_s = draw_s;
  m_relative = relative;
  const PcmLikeParams& d = m_cfg.device;
  for (size_t l = 0; l < m_groups.size(); ++l)
    for (size_t gi = 0; gi < m_groups[l].size(); ++gi) {
      Group& g = m_groups[l][gi];
      const double t_inf_s = relative ? t : std::max(0.0, t - g.t_prog_s);
      // A group programmed after the draw instant (a policy re-programmed it since) has no
      // realisation at that instant: it reads with the draws of its actual read time.
      const double draw_inf_s = relative ? draw_s : (draw_s >= g.t_prog_s ? draw_s - g.t_prog_s : t_inf_s);
      // Read noise: one draw per (group programming, read instant), uncorrelated between instants.
      RandomStream s = m_rng.derive(22)
                           .derive(static_cast<uint64_t>(g.programmings))
                           .derive(static_cast<uint64_t>(std::llround(draw_inf_s * 1e9)))
                           .derive(l << 20 | gi);
      const size_t n = g.latent.size(), pairs = m_cfg.f_lst.size();
      g.wn.resize(n);
      if (m_cfg.reconvert_at_read) {
        read_reconverted(g, t_inf_s, s);
        continue;
      }
      if (pairs > 1) {  // several pairs per weight: sum_i f_i (g+_i - g-_i) / (F g_max); no verify (no t_dev)
        double F = 0;
        for (double f : m_cfg.f_lst) F += f;
        const double inv = 1.0 / (F * d.g_max_us);
        std::vector<RandomStream> streams{s};
        for (size_t i = 1; i < pairs; ++i) streams.push_back(s.derive(kPairStream + i));
        for (size_t j = 0; j < n; ++j) {
          double w = 0;
          for (size_t i = 0; i < pairs; ++i) {
            const size_t e = i * n + j;
            const RandomStream& si = streams[i];
            const bool quiet = !m_cfg.read_noise || m_noiseless;
            const double gp =
                law_read(g.g_prog_pos[e], g.g_target_pos[e], g.nu_pos[e], t_inf_s, quiet ? 0.0 : si.normal(2 * j), quiet);
            const double gn =
                law_read(g.g_prog_neg[e], g.g_target_neg[e], g.nu_neg[e], t_inf_s, quiet ? 0.0 : si.normal(2 * j + 1), quiet);
            w += m_cfg.f_lst[i] * (gp - gn);
          }
          g.wn[j] = static_cast<float>(w * inv);
        }
        continue;
      }
      for (size_t j = 0; j < n; ++j) {
        // Pairs re-written by a verification drift from their own write.
        const double t_j = g.t_dev.empty() ? t_inf_s : std::max(0.0, relative ? t - (g.t_dev[j] - g.t_prog_s) : t - g.t_dev[j]);
        const bool quiet = !m_cfg.read_noise || m_noiseless;
        const double gp = law_read(g.g_prog_pos[j], g.g_target_pos[j], g.nu_pos[j], t_j, quiet ? 0.0 : s.normal(2 * j), quiet);
        const double gn =
            law_read(g.g_prog_neg[j], g.g_target_neg[j], g.nu_neg[j], t_j, quiet ? 0.0 : s.normal(2 * j + 1), quiet);
        g.wn[j] = static_cast<float>((gp - gn) / (d.g_max_us - m_cfg.g_min_us));
      }
    }
}

void PcmPair::read_reconverted(Group& g, double t_inf_s, const RandomStream& s) {
  // aihwkit's BaseNoiseModel.apply_drift_noise: the programmed weights (the pairs' conductance
  // differences) go through the converter again, so each scale tile's max|w_prog| takes the full
  // range, the other device of a pair sits at g_min, and several pairs re-fill from the least
  // significant; those conductances drift with the stored coefficients of their positions and take
  // the read noise, and are converted back. Same draws as the device-state read (pair i: sub-stream
  // i, normals 2j and 2j + 1).
  const size_t n = g.latent.size(), pairs = m_cfg.f_lst.size();
  const size_t kk = static_cast<size_t>(m_wl.spec.block_size * m_wl.spec.block_size);
  const double gmax = m_cfg.device.g_max_us, gmin = m_cfg.g_min_us;
  double F = 0;
  for (double f : m_cfg.f_lst) F += f;
  const double full = F * (gmax - gmin);  // uS of the full weight range (a tile's max|w| maps to it)
  std::vector<double> w(n);               // programmed weights, normalised (each scale tile's max|W| -> 1)
  for (size_t j = 0; j < n; ++j) {
    double d = 0;
    for (size_t i = 0; i < pairs; ++i)
      d += m_cfg.f_lst[i] * (static_cast<double>(g.g_prog_pos[i * n + j]) - static_cast<double>(g.g_prog_neg[i * n + j]));
    w[j] = d / full;
  }
  const auto tile_of = [&](size_t j) { return g.tile.empty() ? j / kk : static_cast<size_t>(g.tile[j / kk]); };
  std::vector<double> tmax(g.tile.empty() ? n / kk : static_cast<size_t>(g.n_tiles), 0.0);
  for (size_t j = 0; j < n; ++j) tmax[tile_of(j)] = std::max(tmax[tile_of(j)], std::abs(w[j]));
  for (double& m : tmax) m = std::max(m, 1e-7);  // aihwkit's _ZERO_CLIP
  std::vector<RandomStream> streams{s};
  for (size_t i = 1; i < pairs; ++i) streams.push_back(s.derive(kPairStream + i));
  const bool quiet = !m_cfg.read_noise || m_noiseless;
  for (size_t j = 0; j < n; ++j) {
    const double m = tmax[tile_of(j)];
    const double wp = std::max(w[j], 0.0) / m * full, wn = std::max(-w[j], 0.0) / m * full;  // uS
    double acc = 0, lower = 0;
    for (size_t i = 0; i < pairs; ++i) {
      const double f = m_cfg.f_lst[i];
      const double gp = std::clamp((wp - lower) / f + gmin, gmin, gmax), gn = std::clamp((wn - lower) / f + gmin, gmin, gmax);
      lower += f * (gmax - gmin);
      const size_t e = i * n + j;
      const RandomStream& si = streams[i];
      // The converted conductance is all aihwkit's read sees: it is the read's programmed and its
      // target conductance (q_from target reads Q_s from it too).
      const double rp = law_read(gp, gp, g.nu_pos[e], t_inf_s, quiet ? 0.0 : si.normal(2 * j), quiet);
      const double rn = law_read(gn, gn, g.nu_neg[e], t_inf_s, quiet ? 0.0 : si.normal(2 * j + 1), quiet);
      acc += f * (rp - rn);
    }
    g.wn[j] = static_cast<float>(acc / full * m);
  }
}

void PcmPair::realize(int64_t layer, int64_t group, uint64_t, float* wn, float* scale) const {
  const Group& g = m_groups.at(layer).at(group);
  std::copy(g.wn.begin(), g.wn.end(), wn);
  std::copy(g.scale.begin(), g.scale.end(), scale);
}

}  // namespace ptc::hw
