// SystemC modules of the photonic accelerator (docs/architecture.md §3: Accelerator{TensorCore[RxC],
// DAC/ADC, laser, ThermalField}). The physics stays in plain C++ (hw/device, hw/noise); these modules own
// the state over simulated time, charge time and energy, and keep per-module statistics.
//
// Contract:
// - Time: methods that take time (infer_cost, occupy, TensorCore::read_back) must be called from
//   an SC_THREAD; they advance simulated time with wait() (next-event only, no clocks). Pure
//   queries (effective weights, classify) take no simulated time.
// - One user at a time: callers take lock() around anything that occupies the cores.
// - classify() runs real inputs through the noisy hardware (technology effective weights, DAC,
//   per-block ADC, digital accumulation) with one noise instant and one draw per sample;
//   results are the same bits at any thread count.
// - Costs: an inference occupies the array for the compiled workload's latency (hw/energy.h);
//   non-inference work is charged in array cycles (one input vector through one chunk) at the
//   clock, plus ring settling / cell writes for re-programming.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <systemc>
#include <vector>

#include "hw/device/technology.h"
#include "hw/energy.h"
#include "hw/hardware_gemm.h"
#include "hw/stats.h"
#include "models/compiler.h"
#include "models/dataset.h"
#include "models/executor.h"

namespace ptc::hw {

class TensorCore : public sc_core::sc_module, public StatsProvider {
 public:
  TensorCore(sc_core::sc_module_name name, int64_t index, int64_t k);
  int64_t index() const { return m_index; }
  // Identity-probe read-back of block (layer, group, block) mapped to this core: k probe vectors
  // e_j through the core and its ADC (output column j = effective column j), k cycles of time.
  // Returns the k x k effective weights (row-major, absolute units).
  std::vector<float> read_back(class Accelerator& acc, int64_t layer, int64_t group, int64_t block, uint64_t draw);
  void charge(double busy_s, double energy_j, int64_t weights_rewritten, int64_t probe_vectors);
  double busy_s() const { return m_busy_s; }
  int64_t weights_rewritten() const { return m_rewritten; }
  nlohmann::json stats() const override;

 private:
  int64_t m_index, m_k;
  double m_busy_s = 0, m_energy_j = 0;
  int64_t m_rewritten = 0, m_probe_vectors = 0;
};

struct AcceleratorConfig {
  EnergyParams energy;  // clock, converters' energy, laser, ring hold/settle, PCM write costs
  IoSpec io;            // converter numerics (bits 0 = ideal)
  uint64_t seed = 0;
  int threads = 0;      // executor threads (0: $PTC_THREADS or all cores)
};

class Accelerator : public sc_core::sc_module, public StatsProvider {
 public:
  // graph and workload must outlive the module; the technology is owned.
  Accelerator(sc_core::sc_module_name name, const models::Graph& graph, const models::CompiledWorkload& wl,
              std::unique_ptr<Technology> tech, const AcceleratorConfig& cfg);
  ~Accelerator() override;

  sc_core::sc_mutex& lock() { return m_lock; }
  Technology& tech() { return *m_tech; }
  const models::CompiledWorkload& workload() const { return m_wl; }
  const models::Graph& graph() const { return m_graph; }
  TensorCore& core(int64_t i) { return *m_cores.at(i); }
  int64_t cores() const { return static_cast<int64_t>(m_cores.size()); }
  // The deployed (ideal) weights W*, per layer and group, block layout.
  const std::vector<float>& ideal(int64_t layer, int64_t group) const { return m_ideal.at(layer).at(group); }

  // ---- costs
  const InferenceCost& inference_cost() const { return m_cost; }
  double cycle_s() const { return 1.0 / (m_cfg.energy.clock_ghz * 1e9); }
  double energy_per_cycle_j() const { return m_cycle_j; }
  // Occupies all cores for `seconds` (SC_THREAD context), charging `energy_j`.
  void occupy(double seconds, double energy_j);
  // Charges busy time and energy without advancing simulated time (the caller waits).
  void charge(double seconds, double energy_j);
  // Charges `cycles` array cycles plus `settles` re-tuning settles (MRR) as busy time and energy.
  void occupy_cycles(int64_t cycles, int64_t settles = 0);
  // Re-programs one layer group to `blocks` at time t_s; returns device writes and charges
  // each changed weight to its core (time/energy are charged by the caller's action).
  int64_t program(int64_t layer, int64_t group, const std::vector<float>& blocks, double t_s);
  // Write time accumulated by program() since the last call (cores write in parallel); the
  // caller occupies the accelerator for it.
  double take_write_time_s();
  double energy_j() const { return m_energy_j; }
  double busy_s() const { return m_busy_s; }

  // ---- measurements (no simulated time)
  // Effective weights of one layer group for `draw` at the noise instant set with set_times
  // (absolute units, block layout [P, Q, k, k]); with_adc applies the ADC to identity probes.
  void effective(int64_t layer, int64_t group, uint64_t draw, std::vector<float>& out, bool with_adc = false) const;
  // Predicted class of each sample (images[i] from `d`), read at times[i] with draw draw_base + i.
  void classify(const models::Dataset& d, const models::Preprocess& p, const std::vector<int64_t>& images,
                const std::vector<NoiseTime>& times, uint64_t draw_base, std::vector<int>& pred);
  // Frees the executors' cached plans and buffers (rebuilt when next needed): before a memory-
  // hungry step that runs once (e.g. the offline salience's gradients).
  void release_buffers();
  // Same with the ideal (noise-free, unquantised) weights.
  void classify_ideal(const models::Dataset& d, const models::Preprocess& p, const std::vector<int64_t>& images,
                      std::vector<int>& pred);
  // Digital per-layer output gain (drift compensation, aihwkit GDC): y = alpha_l * W_eff x.
  void set_output_gain(int64_t layer, double alpha);
  double output_gain(int64_t layer) const;

  nlohmann::json stats() const override;

 private:
  void run_batch(const models::Dataset& d, const models::Preprocess& p, const std::vector<int64_t>& images, size_t first,
                 size_t count, models::Executor& ex, std::vector<int>& pred);

  const models::Graph& m_graph;
  const models::CompiledWorkload& m_wl;
  std::unique_ptr<Technology> m_tech;
  AcceleratorConfig m_cfg;
  std::vector<std::unique_ptr<TensorCore>> m_cores;
  std::vector<std::vector<std::vector<float>>> m_ideal;
  InferenceCost m_cost;
  double m_cycle_j = 0;
  std::unique_ptr<HardwareGemm> m_gemm;
  std::unique_ptr<models::Executor> m_exec, m_exec_ideal;
  sc_core::sc_mutex m_lock;
  double m_energy_j = 0, m_busy_s = 0, m_pending_write_s = 0;
  int64_t m_inferences = 0;
};

}  // namespace ptc::hw
