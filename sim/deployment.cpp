#include "sim/deployment.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <sstream>
#include <systemc>

#include "hw/accelerator.h"
#include "hw/device/mrr_bank.h"
#include "hw/device/pcm_pair.h"
#include "hw/noise/static_variation.h"
#include "hw/noise/thermal_field.h"
#include "models/assignment.h"
#include "models/dataset.h"
#include "models/gradients.h"
#include "models/onnx_import.h"
#include "sim/latency_histogram.h"
#include "sim/sim_time.h"

#ifndef PTC_VERSION
#define PTC_VERSION "0.0.0"
#endif
#ifndef PTC_GIT_COMMIT
#define PTC_GIT_COMMIT "unknown"
#endif

namespace ptc::sim {
namespace fs = std::filesystem;
using sc_core::SC_SEC;
using sc_core::sc_time;

namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void on_signal(int) { g_interrupted = true; }

void write_atomic(const fs::path& path, const std::string& text) {
  fs::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw Error(path.string() + ": cannot write");
    f << text;
    f.flush();
    if (!f) throw Error(path.string() + ": write failed");
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw Error(path.string() + ": cannot write (rename failed)");
}

std::string fmt(double v) {
  if (!std::isfinite(v)) return "";
  char b[32];
  std::snprintf(b, sizeof b, "%.9g", v);
  return b;
}

Json stat(double v, const char* unit) { return {{"value", v}, {"unit", unit}}; }

const char* kTraceHeader =
    "t_s,requests,accuracy,accuracy_std,accuracy_n,latency_p50_s,latency_p99_s,energy_j,writes,calibrations,remaps,"
    "overhead_cycles,temp_k_mean,step\n";

// Adam (Kingma & Ba) on a flat parameter vector, the optimiser DOCTOR's calibration and on-chip
// training use (beta1 0.9, beta2 0.999, eps 1e-8: PyTorch defaults).
struct Adam {
  std::vector<double> m, v;
  int64_t t = 0;
  void step(std::vector<float>& w, const std::vector<float>& g, double lr) {
    if (m.size() != w.size()) m.assign(w.size(), 0.0), v.assign(w.size(), 0.0);
    ++t;
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    const double c1 = 1 - std::pow(b1, static_cast<double>(t)), c2 = 1 - std::pow(b2, static_cast<double>(t));
    for (size_t i = 0; i < w.size(); ++i) {
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * static_cast<double>(g[i]) * g[i];
      if (m[i] == 0) continue;
      w[i] = static_cast<float>(w[i] - lr * (m[i] / c1) / (std::sqrt(v[i] / c2) + eps));
    }
  }
};

// ============================================================================== the deployment
class Deployment : public sc_core::sc_module, public Actions, public hw::StatsProvider {
 public:
  SC_HAS_PROCESS(Deployment);
  Deployment(sc_core::sc_module_name name, const Scenario& s, const models::Graph& g, const models::Preprocess& pre,
             const models::Dataset& test, const models::CompiledWorkload& wl, hw::Accelerator& acc,
             std::unique_ptr<Policy> policy, const fs::path& out_dir, bool quiet)
      : sc_core::sc_module(name), m_s(s), m_graph(g), m_pre(pre), m_test(test), m_wl(wl), m_acc(acc),
        m_policy(std::move(policy)), m_out(out_dir), m_quiet(quiet), m_rng(s.seed, 0xc0) {
    m_latency_s = acc.inference_cost().latency_s;
    m_inference_j = acc.inference_cost().total_j;
    m_cpi = std::max<int64_t>(wl.cycles_per_inference, 1);
    for (const auto& L : wl.layers) m_probe_cycles += L.chunks * wl.spec.block_size;
    m_initial_writes = acc.tech().writes();
    if (s.device.device == "mrr") m_mrr = dynamic_cast<hw::MrrBank*>(&acc.tech());
    if (s.device.thermal_field) {
      m_field = std::make_unique<hw::ThermalField>(acc.cores(), wl.spec.block_size * wl.spec.block_size,
                                                   *s.device.thermal_field, hw::RandomStream(s.seed, 0x7f));
      // Rings are locked at deployment, at the temperature the cores have then.
      for (int64_t c = 0; c < acc.cores(); ++c) m_lock_k.push_back(m_field->core_k(c, 0.0));
      hw::GlobalTemperatureParams gp;
      hw::GlobalTemperature gt(hw::CoreArray{wl.spec.rows, wl.spec.cols, wl.spec.block_size}, gp);
      for (int64_t l = 0; l < wl.spec.block_size; ++l) m_dphi_dk.push_back(gt.phase_per_kelvin(l));
    }
    m_t_last_k = temperature_mean_k();
    SC_THREAD(run);
  }

  // ------------------------------------------------------------------ Actions
  double now_s() const override { return sc_core::sc_time_stamp().to_seconds(); }
  int64_t requests() const override { return m_served; }
  int64_t step() const override {
    if (m_s.step_mode == "seconds") return static_cast<int64_t>(std::floor(now_s() / m_s.step_s));
    return m_served + m_extra_steps;
  }
  std::string device() const override { return m_s.device.device; }
  const hw::RandomStream& rng() const override { return m_rng; }

  double temperature_rise_k() override { return weighted_temperature_k() - m_t_last_k; }
  void record_temperature() override { m_t_last_k = weighted_temperature_k(); }

  double probe() override {
    flush();
    set_now();
    const uint64_t draw = next_draw();
    double num = 0, den = 0;
    std::vector<float> w;
    for (size_t l = 0; l < m_wl.layers.size(); ++l)
      for (size_t g = 0; g < m_wl.layers[l].gemms.size(); ++g) {
        m_acc.effective(static_cast<int64_t>(l), static_cast<int64_t>(g), draw, w, true);
        const auto& ideal = m_acc.ideal(static_cast<int64_t>(l), static_cast<int64_t>(g));
        for (size_t i = 0; i < w.size(); ++i) num += std::abs(static_cast<double>(w[i]) - ideal[i]), den += std::abs(ideal[i]);
      }
    double e = den > 0 ? num / den : 0.0;
    int64_t chunks = m_wl.chunks;
    charge_cycles(m_probe_cycles, chunks, "probe");
    ++m_probes;
    log_event("probe", {{"error", e}, {"cycles", m_probe_cycles}});
    return e;
  }

  void reprogram_all(const std::string& reason) override {
    flush();
    int64_t writes = 0;
    for (size_t l = 0; l < m_wl.layers.size(); ++l)
      for (size_t g = 0; g < m_wl.layers[l].gemms.size(); ++g)
        writes += m_acc.program(static_cast<int64_t>(l), static_cast<int64_t>(g), m_acc.ideal(l, g), now_s());
    double t_s = m_acc.take_write_time_s();
    m_acc.occupy(t_s, 0.0);  // PCM: write pulses priced by the accelerator
    if (m_mrr) {
      // MRR: every ring is re-tuned against the current temperature: a full identity-probe
      // read-back of every chunk (k vectors and one settle per chunk), then one settle.
      charge_cycles(m_probe_cycles, m_wl.chunks, "program");
      m_acc.occupy_cycles(0, 1);
      m_mrr->relock(step());
      if (m_field) {
        update_thermal();
        for (int64_t c = 0; c < m_acc.cores(); ++c) m_lock_k[c] = m_field->core_k(c, now_s());
      }
    }
    ++m_calibrations;
    log_event("program", {{"reason", reason}, {"writes", writes}, {"time_s", t_s}});
  }

  CalibrationResult calibrate(const CalibrationSpec& spec, const std::string& reason) override {
    flush();
    CalibrationResult res;
    const bool all_chunks = spec.mask == "all" || spec.fraction >= 1;
    if (!all_chunks && spec.salience != "magnitude") ensure_salience(spec.salience == "second_grad");
    const int64_t k = m_wl.spec.block_size, kk = k * k;
    // Latent weights per layer group and their Adam states (fresh per call).
    std::vector<std::vector<std::vector<float>>> W;
    std::vector<std::vector<Adam>> opt;
    for (size_t l = 0; l < m_wl.layers.size(); ++l) {
      W.emplace_back();
      opt.emplace_back(m_wl.layers[l].gemms.size());
      for (size_t g = 0; g < m_wl.layers[l].gemms.size(); ++g) W.back().push_back(m_acc.tech().programmed(l, g));
    }
    const double beta = spec.mask == "all" ? 1.0 : spec.fraction;
    const int64_t per_step = std::llround(static_cast<double>(m_probe_cycles * spec.average_times) * beta);
    int64_t carry = 0;
    hw::RandomStream rs = m_rng.derive(0xca1).derive(static_cast<uint64_t>(m_calibrations));
    std::vector<float> eff, acc_w;
    for (int64_t it = 0; it < spec.steps; ++it) {
      double lr = spec.lr * (spec.lr_final_ratio + (1 - spec.lr_final_ratio) * 0.5 *
                                                      (1 + std::cos(M_PI * static_cast<double>(it) / static_cast<double>(spec.steps))));
      set_now();
      double loss_sum = 0;
      int64_t selected_chunks = 0;
      std::vector<std::vector<std::vector<float>>> grads(m_wl.layers.size());
      for (size_t l = 0; l < m_wl.layers.size(); ++l) {
        const auto& L = m_wl.layers[l];
        std::vector<char> mask = chunk_mask(l, spec, rs.derive(static_cast<uint64_t>(it)).derive(l));
        for (char c : mask) selected_chunks += c;
        int64_t count = 0;
        double err = 0;
        for (size_t g = 0; g < L.gemms.size(); ++g) {
          const auto& t = L.gemms[g];
          acc_w.assign(t.blocks.size(), 0.0f);
          for (int64_t m = 0; m < spec.average_times; ++m) {
            m_acc.effective(static_cast<int64_t>(l), static_cast<int64_t>(g), next_draw(), eff, true);
            for (size_t i = 0; i < eff.size(); ++i) acc_w[i] += eff[i] / static_cast<float>(spec.average_times);
          }
          const auto& ideal = m_acc.ideal(l, g);
          std::vector<float> gr(t.blocks.size(), 0.0f);
          for (int64_t b = 0; b < t.P * t.Q; ++b) {
            if (!mask[t.chunk[b]]) continue;
            for (int64_t i = 0; i < kk; ++i) {
              double e = static_cast<double>(acc_w[b * kk + i]) - ideal[b * kk + i];
              err += std::abs(e);
              gr[b * kk + i] = e > 0 ? 1.0f : (e < 0 ? -1.0f : 0.0f);
              ++count;
            }
          }
          grads[l].push_back(std::move(gr));
        }
        double loss_l = count ? err / static_cast<double>(count) : 0.0;
        loss_sum += loss_l;
        for (auto& gr : grads[l])
          for (auto& x : gr) x /= static_cast<float>(std::max<int64_t>(count, 1));
      }
      double loss = loss_sum / static_cast<double>(std::max<size_t>(m_wl.layers.size(), 1));
      if (it == 0) res.loss_first = loss;
      res.loss_last = loss;
      // Charge the read-back of this step (DOCTOR: round(probe_cycles * m * beta)) and advance
      // the noise by the whole inferences it is worth (remainder carried within the call).
      carry += per_step;
      int64_t adv = carry / m_cpi;
      carry -= adv * m_cpi;
      charge_cycles(per_step, selected_chunks * spec.average_times, "calibration", adv);
      res.cycles += per_step;
      ++res.steps;
      if (loss < spec.stop_threshold) break;
      int64_t writes = 0;
      for (size_t l = 0; l < m_wl.layers.size(); ++l)
        for (size_t g = 0; g < m_wl.layers[l].gemms.size(); ++g) {
          opt[l][g].step(W[l][g], grads[l][g], lr);
          writes += m_acc.program(static_cast<int64_t>(l), static_cast<int64_t>(g), W[l][g], now_s());
        }
      res.writes += writes;
      m_acc.occupy(m_acc.take_write_time_s(), 0.0);  // PCM cells: write pulses
      if (device() == "mrr") m_acc.occupy_cycles(0, writes > 0 ? 1 : 0);  // rings: one re-tuning settle per update
    }
    ++m_calibrations;
    log_event("calibration", {{"reason", reason},
                              {"steps", res.steps},
                              {"cycles", res.cycles},
                              {"writes", res.writes},
                              {"loss_first", res.loss_first},
                              {"loss_last", res.loss_last},
                              {"fraction", beta},
                              {"mask", spec.mask}});
    return res;
  }

  void remap(const RemapSpec& spec, const std::string& reason) override {
    if (!m_acc.tech().supports_remap()) throw Error("controller.policy: device \"" + device() + "\" does not support tile remapping");
    if (m_wl.spec.mapping != "cyclic") throw Error("controller.policy: tile remapping needs the cyclic mapping");
    flush();
    ensure_salience(spec.cost == "second_grad");
    set_now();
    const int64_t R = m_wl.spec.rows, k = m_wl.spec.block_size, kk = k * k;
    // cost[layer][group][chunk] : R x R, row-block i on tile t
    std::vector<std::vector<std::vector<std::vector<double>>>> cost(m_wl.layers.size());
    for (size_t l = 0; l < m_wl.layers.size(); ++l) {
      cost[l].resize(m_wl.layers[l].gemms.size());
      for (size_t g = 0; g < m_wl.layers[l].gemms.size(); ++g)
        cost[l][g].assign(static_cast<size_t>(m_wl.layers[l].chunks), std::vector<double>(R * R, 0.0));
    }
    std::vector<float> eff;
    for (int64_t s = 0; s < R; ++s) {
      const uint64_t draw = next_draw();
      for (size_t l = 0; l < m_wl.layers.size(); ++l)
        for (size_t g = 0; g < m_wl.layers[l].gemms.size(); ++g) {
          const auto& t = m_wl.layers[l].gemms[g];
          std::vector<int> rows(R);
          for (int64_t i = 0; i < R; ++i) rows[i] = static_cast<int>((i + s) % R);
          std::vector<std::vector<int>> saved;
          for (int64_t c = 0; c < m_wl.layers[l].chunks; ++c) {
            saved.push_back(m_acc.tech().tile_rows(l, g, c));
            m_acc.tech().set_tile_rows(l, g, c, rows);
          }
          m_acc.effective(static_cast<int64_t>(l), static_cast<int64_t>(g), draw, eff, true);
          for (int64_t c = 0; c < m_wl.layers[l].chunks; ++c) m_acc.tech().set_tile_rows(l, g, c, saved[c]);
          const auto& ideal = m_acc.ideal(l, g);
          const auto& gb = m_sal_grad_blocks[l][g];
          std::vector<double> lin(static_cast<size_t>(m_wl.layers[l].chunks * R), 0.0), quad(lin.size(), 0.0), l1(lin.size(), 0.0);
          for (int64_t b = 0; b < t.P * t.Q; ++b) {
            int64_t p = b / t.Q, c = t.chunk[b], i = p % R;
            for (int64_t j = 0; j < kk; ++j) {
              double e = static_cast<double>(eff[b * kk + j]) - ideal[b * kk + j];
              lin[c * R + i] += gb[b * kk + j] * e;
              l1[c * R + i] += std::abs(e);
              if (spec.cost == "second_grad") quad[c * R + i] += 0.5 * m_sal_hess_blocks[l][g][b * kk + j] * e * e;
            }
          }
          for (int64_t c = 0; c < m_wl.layers[l].chunks; ++c)
            for (int64_t i = 0; i < R; ++i) {
              int64_t tile = (i + s) % R;
              double v = spec.cost == "none" ? l1[c * R + i]
                                             : std::abs(lin[c * R + i] + (spec.cost == "second_grad" ? quad[c * R + i] : 0.0));
              cost[l][g][c][i * R + tile] = v;
            }
        }
    }
    int64_t moved = 0, chunks = 0;
    for (size_t l = 0; l < m_wl.layers.size(); ++l)
      for (size_t g = 0; g < m_wl.layers[l].gemms.size(); ++g)
        for (int64_t c = 0; c < m_wl.layers[l].chunks; ++c) {
          std::vector<int> a = models::min_cost_assignment(cost[l][g][c], static_cast<int>(R));
          std::vector<int> before = m_acc.tech().tile_rows(l, g, c);
          if (a != before) ++moved;
          m_acc.tech().set_tile_rows(l, g, c, a);
          ++chunks;
        }
    // DOCTOR's charge: (R k + R^3) cycles per chunk.
    int64_t cycles = (R * k + R * R * R) * m_wl.chunks;
    charge_cycles(cycles, R * m_wl.chunks, "remap");
    ++m_remaps;
    log_event("remap", {{"reason", reason}, {"cycles", cycles}, {"chunks", chunks}, {"chunks_changed", moved}, {"cost", spec.cost}});
  }

  void train_onchip(const OnchipTrainingSpec& spec) override {
    flush();
    ensure_gradients(0);
    const int64_t k = m_wl.spec.block_size;
    std::vector<float> eff;
    models::Tensor x;
    double loss_sum = 0;
    int64_t writes = 0;
    for (int64_t b = 0; b < spec.batches; ++b) {
      set_now();
      const uint64_t draw = next_draw();
      // Forward/backward through the noisy hardware: effective weights as the overrides (STE).
      std::vector<std::vector<float>> wt(m_wl.layers.size());
      models::WeightOverrides ov;
      for (size_t l = 0; l < m_wl.layers.size(); ++l) {
        std::vector<std::vector<float>> blocks;
        for (size_t g = 0; g < m_wl.layers[l].gemms.size(); ++g) {
          m_acc.effective(static_cast<int64_t>(l), static_cast<int64_t>(g), draw, eff, false);
          blocks.push_back(eff);
        }
        wt[l] = models::blocks_to_weight(m_wl.layers[l], blocks, k);
      }
      for (auto& w : wt) ov.push_back(&w);
      std::vector<int64_t> labels;
      x.reshape_storage(models::DType::f32, {spec.batch_size, m_train->channels, m_train->height, m_train->width});
      models::Tensor one;
      for (int64_t i = 0; i < spec.batch_size; ++i) {
        int64_t img = m_train_next++ % m_train->count;
        models::fill_batch(*m_train, m_pre, img, 1, one);
        std::copy(one.f.begin(), one.f.end(), x.f.begin() + i * m_train->image_size());
        labels.push_back(m_train->labels[img]);
      }
      auto r = m_grad->loss_and_grad(x, labels, ov);
      loss_sum += r.loss;
      for (size_t l = 0; l < m_wl.layers.size(); ++l) {
        auto gb = models::weight_to_blocks(m_wl.layers[l], r.grad[l], k);
        for (size_t g = 0; g < gb.size(); ++g) {
          std::vector<float> W = m_acc.tech().programmed(l, g);
          m_train_opt[l][g].step(W, gb[g], spec.lr);
          writes += m_acc.program(static_cast<int64_t>(l), static_cast<int64_t>(g), W, now_s());
        }
      }
      m_extra_steps += spec.steps_per_sample * spec.batch_size;
    }
    m_acc.occupy(m_acc.take_write_time_s(), 0.0);
    int64_t cycles = std::llround(spec.charged_inferences * static_cast<double>(m_cpi));
    charge_cycles(cycles, 0, "onchip_training", 0);
    ++m_calibrations;
    log_event("onchip_training", {{"cycles", cycles}, {"batches", spec.batches}, {"writes", writes},
                                  {"loss_mean", loss_sum / static_cast<double>(std::max<int64_t>(spec.batches, 1))}});
  }

  void compensate_drift(bool reference) override {
    flush();
    set_now();
    const uint64_t draw = next_draw();
    const int64_t k = m_wl.spec.block_size;
    std::vector<float> eff;
    int64_t cycles = 0;
    if (m_gdc_ref.empty()) m_gdc_ref.assign(m_wl.layers.size(), 0.0);
    Json alphas = Json::array();
    for (size_t l = 0; l < m_wl.layers.size(); ++l) {
      const auto& L = m_wl.layers[l];
      double sum = 0;
      int64_t n = 0;
      for (size_t g = 0; g < L.gemms.size(); ++g) {
        const auto& t = L.gemms[g];
        m_acc.effective(static_cast<int64_t>(l), static_cast<int64_t>(g), draw, eff, true);
        // One-hot input j returns column j of the effective matrix: mean |y| over all of them.
        for (int64_t r = 0; r < t.rows; ++r)
          for (int64_t c = 0; c < t.cols; ++c) sum += std::abs(eff[(((r / k) * t.Q + c / k) * k + r % k) * k + c % k]), ++n;
        cycles += t.cols * L.chunks / static_cast<int64_t>(L.gemms.size());
      }
      double readout = std::max(n ? sum / static_cast<double>(n) : 0.0, 1e-4);
      double alpha = 1.0;
      if (reference) m_gdc_ref[l] = readout;
      else alpha = m_gdc_ref[l] / readout;
      m_acc.set_output_gain(static_cast<int64_t>(l), alpha);
      alphas.push_back(alpha);
    }
    charge_cycles(cycles, m_wl.chunks, "compensation");
    log_event("compensation", {{"reference", reference}, {"cycles", cycles}, {"alpha", alphas}});
  }

  void log_event(const std::string& type, const Json& fields) override {
    Json e = {{"t_s", now_s()}, {"requests", m_served}, {"step", step()}, {"type", type}};
    for (auto it = fields.begin(); it != fields.end(); ++it) e[it.key()] = it.value();
    m_events += e.dump() + "\n";
  }

  // ------------------------------------------------------------------ results
  std::string status = "complete";
  Json summary() const {
    double acc_mean = m_rows_acc_n > 0 ? m_rows_acc_sum / static_cast<double>(m_rows_acc_n) : NAN;
    if (m_s.accuracy.mode == "served") acc_mean = m_served_total ? double(m_served_correct) / double(m_served_total) : NAN;
    Json j = {{"name", m_s.name},
              {"policy", m_s.policy_json.at("name")},
              {"device", m_s.device.device},
              {"seed", m_s.seed},
              {"status", status},
              {"accuracy_mean", acc_mean},
              {"accuracy_final", m_last_acc},
              {"accuracy_ideal", m_ideal_acc},
              {"energy_j", energy_j()},
              {"writes", writes()},
              {"latency_p50_s", m_lat_all.quantile(0.5)},
              {"latency_p99_s", m_lat_all.quantile(0.99)},
              {"calibrations", m_calibrations},
              {"remaps", m_remaps},
              {"probes", m_probes},
              {"triggers", m_triggers},
              {"overhead_cycles", m_overhead_cycles},
              {"inference_cycles", m_served * m_cpi},
              {"overhead_ratio", m_served ? double(m_overhead_cycles) / double(m_served * m_cpi) : 0.0},
              {"requests", m_served},
              {"sim_time_s", m_end_s},
              {"steps", step()}};
    for (auto it = j.begin(); it != j.end(); ++it)
      if (it.value().is_number_float() && !std::isfinite(it.value().get<double>())) it.value() = nullptr;
    return j;
  }
  Json stats() const override {
    Json overhead = Json::object();
    for (const auto& [k, v] : m_cycles_by) overhead[k] = stat(static_cast<double>(v), "cycles");
    return {{"runtime",
             {{"requests_served", stat(static_cast<double>(m_served), "requests")},
              {"latency_p50", stat(m_lat_all.quantile(0.5), "s")},
              {"latency_p99", stat(m_lat_all.quantile(0.99), "s")},
              {"inference_energy", stat(static_cast<double>(m_served) * m_inference_j, "J")},
              {"images_classified_served", stat(static_cast<double>(m_served_total), "images")}}},
            {"monitor",
             {{"checks", stat(static_cast<double>(m_checks), "checks")},
              {"probes", stat(static_cast<double>(m_probes), "probes")},
              {"triggers", stat(static_cast<double>(m_triggers), "triggers")}}},
            {"controller",
             {{"policy", m_s.policy_json.at("name")},
              {"calibrations", stat(static_cast<double>(m_calibrations), "events")},
              {"remaps", stat(static_cast<double>(m_remaps), "events")},
              {"overhead_cycles", overhead},
              {"noise_steps_from_remediation", stat(static_cast<double>(m_extra_steps), "steps")}}}};
  }
  const std::string& events() const { return m_events; }
  const std::string& trace() const { return m_trace; }
  bool interrupted() const { return m_interrupted; }

  void write_partial(const std::string& st) {
    status = st;
    write_atomic(m_out / "trace.csv", kTraceHeader + m_trace);
    write_atomic(m_out / "events.jsonl", m_events);
    write_atomic(m_out / "summary.json", summary().dump(2) + "\n");
  }

 private:
  // ------------------------------------------------------------------ helpers
  uint64_t next_draw() { return (uint64_t{1} << 48) + m_read_draws++; }
  int64_t writes() const { return m_acc.tech().writes() - m_initial_writes; }
  double energy_j() const { return static_cast<double>(m_served) * m_inference_j + m_acc.energy_j(); }

  void set_now() {
    update_thermal();
    m_acc.tech().set_times(0, {hw::NoiseTime{step(), now_s()}});
  }

  // Physical thermal field -> MRR ring phase offsets at the current time.
  void update_thermal() {
    if (!m_field) return;
    double now = now_s();
    double dt = now - m_field_t;
    if (dt > 0) {
      double busy = m_acc.busy_s() - m_field_busy;
      double u = std::clamp(busy / dt, 0.0, 1.0);
      for (int64_t c = 0; c < m_acc.cores(); ++c) m_field->advance_self_heating(c, dt, u);
      m_field_t = now;
      m_field_busy = m_acc.busy_s();
    }
    if (!m_mrr) return;
    const int64_t k = m_wl.spec.block_size, kk = k * k;
    std::vector<float> off(static_cast<size_t>(m_acc.cores() * kk));
    for (int64_t c = 0; c < m_acc.cores(); ++c) {
      double dT = m_field->core_k(c, now) - m_lock_k[c];
      for (int64_t r = 0; r < kk; ++r)
        off[c * kk + r] = static_cast<float>((dT + m_field->ring_offset_k(c, r)) * m_dphi_dk[r % k]);
    }
    m_mrr->set_extra_offset(off);
  }

  double temperature_mean_k() {
    if (m_field) {
      double s = 0;
      for (int64_t c = 0; c < m_acc.cores(); ++c) s += m_field->core_k(c, now_s());
      return s / static_cast<double>(m_acc.cores());
    }
    if (m_mrr && m_mrr->global_temperature()) {
      const auto* gt = m_mrr->global_temperature();
      double T = gt->temperature_k(static_cast<double>(step())), t0 = m_s.device.mrr.global_temperature->t0_k, s = 0;
      for (double h : gt->hotspot_map()) s += t0 + (T - t0) * h;
      return s / static_cast<double>(gt->hotspot_map().size());
    }
    return 300.0;
  }
  // What the monitor's free sensors see: DOCTOR's hotspot-weighted mean, or the mean sensor reading.
  double weighted_temperature_k() {
    if (m_field) {
      update_thermal();
      double s = 0;
      for (int64_t c = 0; c < m_acc.cores(); ++c) s += m_field->sensor_k(c, now_s(), m_sensor_reads++);
      return s / static_cast<double>(m_acc.cores());
    }
    return temperature_mean_k();
  }

  void charge_cycles(int64_t cycles, int64_t settles, const std::string& kind, int64_t advance_steps = -1) {
    m_acc.occupy_cycles(cycles, settles);
    m_overhead_cycles += cycles;
    m_cycles_by[kind] += cycles;
    // DOCTOR: remediation work advances the noise by floor(cycles / cycles_per_inference) steps.
    m_extra_steps += advance_steps >= 0 ? advance_steps : cycles / m_cpi;
  }

  // The gradient engine and the training images it reads: the first `images` of the training
  // split (the offline salience's), or all of them (0: on-chip training cycles through the set).
  void ensure_gradients(int64_t images) {
    if (!m_grad) {
      std::vector<std::string> names;
      for (const auto& L : m_wl.layers) names.push_back(L.weight);
      m_grad = std::make_unique<models::GradientEngine>(m_graph, names, m_s.threads);
      m_train_opt.resize(m_wl.layers.size());
      for (size_t l = 0; l < m_wl.layers.size(); ++l) m_train_opt[l].resize(m_wl.layers[l].gemms.size());
    }
    if (m_train && (m_train_all || (images > 0 && m_train->count >= images))) return;
    m_train.reset();
    m_train = std::make_unique<models::Dataset>(models::load_fashion_mnist("train", m_s.dataset_dir, images));
    m_train_all = images <= 0 || m_train->count < images;
  }

  // Offline salience (doctor.md section 5): mean gradient (and Hutchinson Hessian diagonal) over
  // the first controller.salience.images training images, at the deployed weights. Free: it is
  // computed before deployment.
  void ensure_salience(bool hessian) {
    if (!m_sal_grad_blocks.empty() && (!hessian || !m_sal_hess_blocks.empty())) return;
    ensure_gradients(m_s.salience.images);
    // Computed once: the executors give their buffers back meanwhile, and the gradient plans go
    // afterwards (peak memory = the larger working set, not the sum).
    m_acc.release_buffers();
    models::Salience sal = models::compute_salience(*m_grad, *m_train, m_pre, m_s.salience.images, m_s.salience.batch,
                                                    static_cast<int>(m_s.salience.hutchinson_samples),
                                                    m_s.seed ^ 0x5a11e7ce, hessian);
    m_grad->release();
    const int64_t k = m_wl.spec.block_size;
    m_sal_grad_blocks.clear();
    m_sal_hess_blocks.clear();
    for (size_t l = 0; l < m_wl.layers.size(); ++l) {
      m_sal_grad_blocks.push_back(models::weight_to_blocks(m_wl.layers[l], sal.grad[l], k));
      if (hessian) m_sal_hess_blocks.push_back(models::weight_to_blocks(m_wl.layers[l], sal.hess_diag[l], k));
    }
  }

  // Chunk selection of one calibration step for layer l (doctor.md section 5).
  std::vector<char> chunk_mask(size_t l, const CalibrationSpec& spec, const hw::RandomStream& rs) {
    const auto& L = m_wl.layers[l];
    const int64_t n = std::max<int64_t>(L.chunks, 1), kk = m_wl.spec.block_size * m_wl.spec.block_size;
    std::vector<char> mask(static_cast<size_t>(n), 0);
    if (spec.mask == "all" || spec.fraction >= 1) {
      std::fill(mask.begin(), mask.end(), 1);
      return mask;
    }
    std::vector<double> sal(static_cast<size_t>(n), 0.0);
    for (size_t g = 0; g < L.gemms.size(); ++g) {
      const auto& t = L.gemms[g];
      for (int64_t b = 0; b < t.P * t.Q; ++b)
        for (int64_t i = 0; i < kk; ++i) {
          double v = spec.salience == "first_grad"    ? std::abs(m_sal_grad_blocks[l][g][b * kk + i])
                     : spec.salience == "second_grad" ? std::abs(m_sal_hess_blocks[l][g][b * kk + i])
                                                      : std::abs(m_acc.ideal(l, g)[b * kk + i]);
          sal[t.chunk[b]] += v;
        }
    }
    const int64_t pick = std::max<int64_t>(1, std::llround(static_cast<double>(n) * spec.fraction));
    if (spec.mask == "topk") {
      std::vector<int64_t> idx(static_cast<size_t>(n));
      std::iota(idx.begin(), idx.end(), 0);
      std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return sal[a] > sal[b]; });
      for (int64_t i = 0; i < std::min(pick, n); ++i) mask[idx[i]] = 1;
      return mask;
    }
    // Draw without replacement, probability proportional to salience ("is") or equal ("uniform").
    std::vector<double> w = sal;
    if (spec.mask == "uniform" || std::accumulate(w.begin(), w.end(), 0.0) <= 0) std::fill(w.begin(), w.end(), 1.0);
    for (int64_t d = 0; d < std::min(pick, n); ++d) {
      double total = 0;
      for (int64_t i = 0; i < n; ++i)
        if (!mask[i]) total += w[i];
      double u = rs.uniform(static_cast<uint64_t>(d)) * total, acc = 0;
      int64_t chosen = -1;
      for (int64_t i = 0; i < n; ++i) {
        if (mask[i]) continue;
        chosen = i;
        acc += w[i];
        if (acc >= u) break;
      }
      if (chosen >= 0) mask[chosen] = 1;
    }
    return mask;
  }

  // ------------------------------------------------------------------ served accuracy
  struct Pending {
    std::vector<int64_t> images;
    std::vector<hw::NoiseTime> times;
    uint64_t first_draw = 0;
  } m_pending;
  int64_t m_win_correct = 0, m_win_count = 0;

  void flush() {
    if (m_pending.images.empty()) return;
    std::vector<int> pred;
    m_acc.classify(m_test, m_pre, m_pending.images, m_pending.times, m_pending.first_draw, pred);
    for (size_t i = 0; i < pred.size(); ++i) {
      int c = pred[i] == m_test.labels[m_pending.images[i]];
      m_win_correct += c;
      m_served_correct += c;
    }
    m_win_count += static_cast<int64_t>(pred.size());
    m_served_total += static_cast<int64_t>(pred.size());
    m_pending.images.clear();
    m_pending.times.clear();
  }

  void add_served(int64_t first_request, int64_t n, double start_s) {
    if (m_s.accuracy.mode != "served") return;
    for (int64_t i = 0; i < n; ++i) {
      int64_t r = first_request + i;
      if (m_pending.images.empty()) m_pending.first_draw = static_cast<uint64_t>(r);
      m_pending.images.push_back((m_s.traffic.first_image + r) % m_test.count);
      int64_t st = m_s.step_mode == "seconds" ? static_cast<int64_t>(std::floor(start_s / m_s.step_s)) : r + m_extra_steps;
      m_pending.times.push_back(hw::NoiseTime{st, start_s});
    }
    if (m_pending.images.size() >= 4096) flush();
  }

  // ------------------------------------------------------------------ trace rows
  void trace_row(double acc = NAN, double acc_std = NAN, int64_t acc_n = 0) {
    flush();
    if (m_s.accuracy.mode == "served" && m_win_count > 0) {
      acc = double(m_win_correct) / double(m_win_count);
      acc_n = m_win_count;
      m_win_correct = m_win_count = 0;
    }
    if (std::isfinite(acc)) {
      m_last_acc = acc;
      m_rows_acc_sum += acc;
      ++m_rows_acc_n;
    }
    std::string row = fmt(now_s()) + "," + std::to_string(m_served) + "," + fmt(acc) + "," + fmt(acc_std) + "," +
                      (acc_n ? std::to_string(acc_n) : "") + "," + fmt(m_lat_win.quantile(0.5)) + "," +
                      fmt(m_lat_win.quantile(0.99)) + "," + fmt(energy_j()) + "," + std::to_string(writes()) + "," +
                      std::to_string(m_calibrations) + "," + std::to_string(m_remaps) + "," +
                      std::to_string(m_overhead_cycles) + "," + fmt(temperature_mean_k()) + "," + std::to_string(step()) + "\n";
    m_trace += row;
    m_lat_win.clear();
    m_last_row_t = now_s();
    m_last_row_served = m_served;
    auto wall = std::chrono::steady_clock::now();
    if (std::chrono::duration<double>(wall - m_last_partial).count() > 5.0) {
      write_partial("running");
      m_last_partial = wall;
    }
  }

  void evaluate_scheduled() {
    m_policy->on_evaluation(*this);
    flush();
    update_thermal();
    const int64_t n = std::min<int64_t>(m_s.accuracy.images, m_test.count - m_s.accuracy.first_image);
    std::vector<int64_t> imgs(static_cast<size_t>(std::max<int64_t>(n, 0)));
    std::iota(imgs.begin(), imgs.end(), m_s.accuracy.first_image);
    std::vector<hw::NoiseTime> times(imgs.size(), hw::NoiseTime{step(), now_s()});
    std::vector<double> accs;
    std::vector<int> pred;
    for (int64_t inst = 0; inst < m_s.accuracy.instances; ++inst) {
      uint64_t base = (uint64_t{1} << 56) + (static_cast<uint64_t>(m_evals) << 36) + (static_cast<uint64_t>(inst) << 28);
      m_acc.classify(m_test, m_pre, imgs, times, base, pred);
      int64_t c = 0;
      for (size_t i = 0; i < pred.size(); ++i) c += pred[i] == m_test.labels[imgs[i]];
      accs.push_back(imgs.empty() ? NAN : double(c) / double(imgs.size()));
    }
    double mean = 0, var = 0;
    for (double a : accs) mean += a / static_cast<double>(accs.size());
    for (double a : accs) var += (a - mean) * (a - mean);
    double sd = accs.size() > 1 ? std::sqrt(var / static_cast<double>(accs.size() - 1)) : NAN;
    ++m_evals;
    log_event("evaluation", {{"accuracy", mean}, {"instances", accs.size()}, {"images", imgs.size()}});
    trace_row(mean, sd, static_cast<int64_t>(imgs.size()));
  }

  // ------------------------------------------------------------------ monitor
  void monitor_check() {
    ++m_checks;
    const bool cooling = m_served < m_cool_until_req || now_s() < m_cool_until_s;
    if (cooling) return;
    std::string reason;
    if (m_s.monitor.temperature_test) {
      double rise = temperature_rise_k();
      if ((m_s.monitor.temperature_abs ? std::abs(rise) : rise) > m_s.monitor.t_thres_k) reason = "temperature";
    }
    double e = NAN;
    if (reason.empty() && m_s.monitor.probe_test) {
      e = probe();
      if (e > m_s.monitor.w_thres) reason = "probe";
    }
    if (reason.empty()) return;
    ++m_triggers;
    log_event("trigger", {{"reason", reason}, {"probe_error", std::isfinite(e) ? Json(e) : Json(nullptr)},
                          {"temperature_rise_k", temperature_rise_k()}});
    m_policy->on_trigger(*this, reason);
    m_cool_until_req = m_served + m_s.monitor.cool_down_requests;
    m_cool_until_s = now_s() + m_s.monitor.cool_down_s;
  }

  // ------------------------------------------------------------------ time-driven events
  enum class Timed { Policy, Monitor, Eval, Trace };
  struct Due {
    double t;
    Timed what;
  };
  double next_multiple(double period, double after) const { return (std::floor(after / period + 1e-12) + 1) * period; }
  std::vector<Due> m_due;

  void init_due() {
    if (m_policy->timer_interval_s() > 0) m_due.push_back({m_policy->timer_interval_s(), Timed::Policy});
    if (m_policy->uses_monitor() && m_s.monitor.interval_s > 0) m_due.push_back({m_s.monitor.interval_s, Timed::Monitor});
    if (m_s.accuracy.mode == "scheduled" && !m_s.accuracy.times_s.empty()) m_due.push_back({m_s.accuracy.times_s[0], Timed::Eval});
    if (m_s.trace_every_s > 0) m_due.push_back({m_s.trace_every_s, Timed::Trace});
  }
  double next_due_t() const {
    double t = INFINITY;
    for (const auto& d : m_due) t = std::min(t, d.t);
    return t;
  }
  void wait_until(double t) {
    double now = now_s();
    if (t > now) wait(sc_time(t - now, SC_SEC));
  }
  // Fires every timed event due at or before `t` (in time order; ties in a fixed order).
  void fire_due(double t) {
    while (true) {
      int best = -1;
      for (size_t i = 0; i < m_due.size(); ++i)
        if (m_due[i].t <= t && (best < 0 || m_due[i].t < m_due[best].t)) best = static_cast<int>(i);
      if (best < 0 || g_interrupted) return;
      Due d = m_due[best];
      wait_until(d.t);
      switch (d.what) {
        case Timed::Policy:
          flush();
          m_policy->on_timer(*this);
          m_due[best].t = next_multiple(m_policy->timer_interval_s(), d.t);
          break;
        case Timed::Monitor:
          monitor_check();
          m_due[best].t = next_multiple(m_s.monitor.interval_s, d.t);
          break;
        case Timed::Eval: {
          evaluate_scheduled();
          auto it = std::upper_bound(m_s.accuracy.times_s.begin(), m_s.accuracy.times_s.end(), d.t);
          m_due[best].t = it == m_s.accuracy.times_s.end() ? INFINITY : *it;
          break;
        }
        case Timed::Trace:
          trace_row();
          m_due[best].t = next_multiple(m_s.trace_every_s, d.t);
          break;
      }
      m_free_at = std::max(m_free_at, now_s());
    }
  }

  // Request-count events after the served count moved from `before` to m_served.
  void fire_request_events(int64_t before, bool last) {
    auto crossed = [&](int64_t every) { return every > 0 && (m_served / every) > (before / every); };
    if (m_policy->timer_interval_requests() > 0 && crossed(m_policy->timer_interval_requests())) {
      flush();
      m_policy->on_timer(*this);
    }
    if (m_policy->uses_monitor() && m_s.monitor.interval_requests > 0) {
      // DOCTOR checks after the inference of step s when s mod interval == 0, and at the last step.
      int64_t every = m_s.monitor.interval_requests;
      bool due = ((m_served - 1) / every) > (before == 0 ? -1 : (before - 1) / every) || last;
      if (due) monitor_check();
    }
    if (crossed(m_s.trace_every_requests)) trace_row();
    m_free_at = std::max(m_free_at, now_s());
  }

  // ------------------------------------------------------------------ traffic
  // Requests in batch window w of a Poisson / daily-profile stream (counter-based, any order).
  int64_t window_arrivals(int64_t w) const {
    double rate = m_s.traffic.rate_hz;
    if (m_s.traffic.name == "daily_profile") {
      double mid = (static_cast<double>(w) + 0.5) * m_s.traffic.batch_s;
      int hour = static_cast<int>(std::fmod(mid / 3600.0, 24.0));
      rate = m_s.traffic.hourly_rate_hz[std::clamp(hour, 0, 23)];
    }
    double lam = rate * m_s.traffic.batch_s;
    hw::RandomStream rs = hw::RandomStream(m_s.seed, 0x7a).derive(static_cast<uint64_t>(w));
    if (lam <= 0) return 0;
    if (lam > 64) return std::max<int64_t>(0, std::llround(lam + std::sqrt(lam) * rs.normal(0)));  // normal approximation
    // Inversion of the Poisson CDF.
    double u = rs.uniform(0), p = std::exp(-lam), F = p;
    int64_t n = 0;
    while (u > F && n < 10000) {
      ++n;
      p *= lam / static_cast<double>(n);
      F += p;
    }
    return n;
  }

  void progress(double frac) {
    if (m_quiet) return;
    m_last_frac = frac;
    auto now = std::chrono::steady_clock::now();
    double wall = std::chrono::duration<double>(now - m_wall0).count();
    double since = std::chrono::duration<double>(now - m_last_progress).count();
    bool tty = isatty(2);
    if (since < (tty ? 0.25 : 5.0) && frac < 1.0) return;
    m_last_progress = now;
    double rate = wall > 0 ? now_s() / wall : 0;
    double eta = frac > 1e-9 ? wall * (1 - frac) / frac : NAN;
    if (tty) {
      int w = 30, fill = static_cast<int>(frac * w);
      std::fprintf(stderr, "\r[%s%s] %5.1f%%  t=%.4g s  %.3g sim-s/s  ETA %.0f s   ", std::string(fill, '#').c_str(),
                   std::string(w - fill, '.').c_str(), 100 * frac, now_s(), rate, std::isfinite(eta) ? eta : 0.0);
      if (frac >= 1.0) std::fprintf(stderr, "\n");
    } else {
      std::fprintf(stderr, "ptcsim: %5.1f%% simulated, t=%.4g s, %lld requests, %.3g sim-s/s, ETA %.0f s\n", 100 * frac, now_s(),
                   static_cast<long long>(m_served), rate, std::isfinite(eta) ? eta : 0.0);
    }
  }

  // ------------------------------------------------------------------ the process
  void run() {
    try {
      run_body();
    } catch (const std::exception& e) {
      m_error = e.what();
      status = "failed";
    }
    m_end_s = now_s();  // the kernel returns from sc_start when no process has anything left to do
  }

  void run_body() {
    m_wall0 = m_last_progress = m_last_partial = std::chrono::steady_clock::now();
    init_due();
    m_policy->on_start(*this);
    m_free_at = now_s();
    const bool b2b = m_s.traffic.name == "back_to_back";
    const double horizon = m_s.horizon_s > 0 ? m_s.horizon_s : INFINITY;
    const int64_t N = b2b ? m_s.traffic.requests : 0;
    double prev_done = 0;
    int64_t w = 0;
    while (!g_interrupted) {
      int64_t n;
      double ready, win_lo = 0, win_hi = 0;
      if (b2b) {
        if (m_served >= N) break;
        n = 1;
        ready = prev_done;
      } else {
        win_lo = static_cast<double>(w) * m_s.traffic.batch_s;
        if (win_lo >= horizon) break;
        win_hi = std::min(win_lo + m_s.traffic.batch_s, horizon);
        n = window_arrivals(w++);
        ready = win_hi;
        if (n == 0) {
          if (win_hi >= next_due_t()) fire_due(win_hi);
          continue;
        }
      }
      fire_due(std::max(ready, m_free_at));
      double start = std::max(ready, m_free_at);
      if (start >= horizon) break;
      double service = static_cast<double>(n) * m_latency_s, done = start + service;
      add_served(m_served, n, start);
      if (b2b) {
        m_lat_win.add(done - ready);
        m_lat_all.add(done - ready);
      } else {
        m_lat_win.add_uniform(done - win_hi, done - win_lo, static_cast<double>(n));
        m_lat_all.add_uniform(done - win_hi, done - win_lo, static_cast<double>(n));
      }
      m_acc.charge(service, static_cast<double>(n) * 0.0);  // inference energy is counted per request
      int64_t before = m_served;
      m_served += n;
      m_free_at = done;
      prev_done = done;
      bool last = b2b && m_served >= N;
      bool count_events = (m_policy->timer_interval_requests() > 0) ||
                          (m_policy->uses_monitor() && m_s.monitor.interval_requests > 0) || m_s.trace_every_requests > 0;
      if (count_events) {
        wait_until(done);
        m_policy->on_request_done(*this, m_served - 1);
        fire_request_events(before, last);
      }
      double frac = b2b ? double(m_served) / double(std::max<int64_t>(N, 1)) : std::min(1.0, now_s() / horizon);
      progress(frac);
    }
    if (g_interrupted) {
      m_interrupted = true;
      status = "interrupted";
    }
    double end = std::isfinite(horizon) ? horizon : std::max(m_free_at, now_s());
    if (!m_interrupted) {
      fire_due(end);
      wait_until(end);
    }
    if (m_served != m_last_row_served || m_trace.empty() || !m_pending.images.empty()) trace_row();
    if (m_last_frac < 1.0) progress(1.0);
    // The reference point: the same images with ideal weights.
    std::vector<int64_t> imgs;
    if (m_s.accuracy.mode == "served") {
      for (int64_t r = 0; r < std::min<int64_t>(m_served, m_test.count); ++r) imgs.push_back((m_s.traffic.first_image + r) % m_test.count);
    } else if (m_s.accuracy.mode == "scheduled") {
      for (int64_t i = 0; i < std::min<int64_t>(m_s.accuracy.images, m_test.count - m_s.accuracy.first_image); ++i)
        imgs.push_back(m_s.accuracy.first_image + i);
    }
    if (!imgs.empty()) {
      std::vector<int> pred;
      m_acc.classify_ideal(m_test, m_pre, imgs, pred);
      int64_t c = 0;
      for (size_t i = 0; i < pred.size(); ++i) c += pred[i] == m_test.labels[imgs[i]];
      m_ideal_acc = double(c) / double(imgs.size());
    }
  }

 public:
  std::string m_error;

 private:
  const Scenario& m_s;
  const models::Graph& m_graph;
  const models::Preprocess& m_pre;
  const models::Dataset& m_test;
  const models::CompiledWorkload& m_wl;
  hw::Accelerator& m_acc;
  std::unique_ptr<Policy> m_policy;
  fs::path m_out;
  bool m_quiet;
  hw::RandomStream m_rng;
  hw::MrrBank* m_mrr = nullptr;
  std::unique_ptr<hw::ThermalField> m_field;
  std::vector<double> m_lock_k, m_dphi_dk;
  double m_field_t = 0, m_field_busy = 0;
  uint64_t m_sensor_reads = 0;
  double m_latency_s = 0, m_inference_j = 0;
  int64_t m_cpi = 1, m_probe_cycles = 0, m_initial_writes = 0;
  int64_t m_served = 0, m_extra_steps = 0, m_overhead_cycles = 0;
  int64_t m_calibrations = 0, m_remaps = 0, m_probes = 0, m_triggers = 0, m_checks = 0, m_evals = 0;
  int64_t m_served_correct = 0, m_served_total = 0;
  std::map<std::string, int64_t> m_cycles_by;
  uint64_t m_read_draws = 0;
  double m_t_last_k = 300;
  int64_t m_cool_until_req = 0;
  double m_cool_until_s = 0;
  double m_free_at = 0, m_end_s = 0;
  LatencyHistogram m_lat_win, m_lat_all;
  std::string m_trace, m_events;
  double m_last_acc = NAN, m_rows_acc_sum = 0, m_ideal_acc = NAN;
  int64_t m_rows_acc_n = 0, m_last_row_served = -1;
  double m_last_row_t = 0;
  bool m_interrupted = false;
  double m_last_frac = 0;
  std::chrono::steady_clock::time_point m_wall0, m_last_progress, m_last_partial;
  // gradients / salience / on-chip training
  std::unique_ptr<models::GradientEngine> m_grad;
  std::unique_ptr<models::Dataset> m_train;
  bool m_train_all = false;  // m_train holds the whole training split
  int64_t m_train_next = 0;
  std::vector<std::vector<Adam>> m_train_opt;
  std::vector<std::vector<std::vector<float>>> m_sal_grad_blocks, m_sal_hess_blocks;
  std::vector<double> m_gdc_ref;
};

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return b;
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

}  // namespace

std::string default_run_dir(const Scenario& s) {
  Json j = s.resolved;
  char b[17];
  std::snprintf(b, sizeof b, "%08llx", static_cast<unsigned long long>(fnv1a(j.dump()) & 0xffffffffULL));
  return (fs::path("runs") / (s.name + "-" + b)).string();
}

RunResult run_scenario(const Scenario& s, const RunOptions& o) {
  configure_kernel_time();
  if (s.horizon_s > 0) check_horizon(s.horizon_s, "horizon_s");
  fs::path out = o.out_dir.empty() ? fs::path(default_run_dir(s)) : fs::path(o.out_dir);
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec || !fs::is_directory(out)) throw Error(out.string() + ": cannot create the run directory");

  Json run = {{"ptcsim_version", PTC_VERSION}, {"git_commit", PTC_GIT_COMMIT}, {"argv", o.argv},
              {"scenario", s.file}, {"name", s.name}, {"seed", s.seed}, {"set", Json::object()},
              {"start_utc", utc_now()}, {"status", "running"}};
  for (const auto& a : o.sets) {
    auto eq = a.find('=');
    Json v;
    try {
      v = Json::parse(a.substr(eq + 1));
    } catch (...) {
      v = a.substr(eq + 1);
    }
    run["set"][a.substr(0, eq)] = v;
  }
  write_atomic(out / "config.resolved.json", s.resolved.dump(2) + "\n");
  write_atomic(out / "run.json", run.dump(2) + "\n");
  auto wall0 = std::chrono::steady_clock::now();
  auto finish = [&](const std::string& status) {
    run["status"] = status;
    run["end_utc"] = utc_now();
    run["wall_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
    write_atomic(out / "run.json", run.dump(2) + "\n");
  };

  try {
    models::Graph g = models::import_onnx(s.model_path);
    models::Preprocess pre = models::preprocess_for(g, s.model_path);
    if (pre.dataset != "fashion-mnist")
      throw Error(s.model_path + ": preprocessing names dataset \"" + pre.dataset + "\"; scenarios support fashion-mnist");
    models::Dataset test = models::load_fashion_mnist("test", s.dataset_dir);
    models::CompiledWorkload wl = models::compile(g, s.tiling);
    if (wl.layers.empty()) throw Error(s.model_path + ": no weight layers to map onto tensor cores");
    hw::RandomStream dev_rng(s.seed, 0xde);
    std::unique_ptr<hw::Technology> tech;
    if (s.device.device == "mrr") {
      hw::MrrBankConfig cfg = s.device.mrr;
      if (s.device.static_phase_sigma_rad > 0) {  // fabrication variation: a fixed offset per ring
        hw::StaticVariationParams sv;
        sv.phase_sigma_rad = s.device.static_phase_sigma_rad;
        hw::CoreArray a{wl.spec.rows, wl.spec.cols, wl.spec.block_size};
        cfg.static_offset_rad = hw::StaticVariation(sv, dev_rng.derive(0x57)).offsets(a).phase_rad;
      }
      tech = std::make_unique<hw::MrrBank>(wl, cfg, dev_rng);
    } else if (s.device.device == "pcm_optical") {
      tech = std::make_unique<hw::PcmOptical>(wl, s.device.pcm_optical);
    } else {
      if (s.accuracy.instances > 1)
        throw Error("accuracy.instances: Monte-Carlo instances of PCM chips (re-programmed copies) are not implemented yet; "
                    "run several seeds instead");
      if (s.device.device == "pcm_table")
        tech = std::make_unique<hw::PcmTable>(wl, s.device.pcm_table, dev_rng);
      else
        tech = std::make_unique<hw::PcmPair>(wl, s.device.pcm, dev_rng);
    }
    hw::AcceleratorConfig ac;
    ac.energy = s.energy;
    ac.io = s.io;
    ac.seed = s.seed;
    ac.threads = s.threads;
    hw::Accelerator acc("accelerator", g, wl, std::move(tech), ac);
    Deployment dep("deployment", s, g, pre, test, wl, acc, make_policy(s), out, o.quiet);
    g_interrupted = false;
    auto old_int = std::signal(SIGINT, on_signal);
    auto old_term = std::signal(SIGTERM, on_signal);
    sc_core::sc_start();
    std::signal(SIGINT, old_int);
    std::signal(SIGTERM, old_term);
    if (!dep.m_error.empty()) {
      dep.write_partial("failed");
      throw Error(dep.m_error);
    }
    std::string status = dep.interrupted() ? "interrupted" : "complete";
    dep.write_partial(status);
    Json st = hw::collect_stats();  // every module's statistics, nested as the SystemC hierarchy
    write_atomic(out / "stats.json", st.dump(2) + "\n");
    finish(status);
    return RunResult{out.string(), dep.summary()};
  } catch (...) {
    finish("failed");
    throw;
  }
}

}  // namespace ptc::sim
