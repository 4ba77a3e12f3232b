// SystemC modules of the photonic accelerator (docs/architecture.md §3: Accelerator{TensorCore[RxC],
// DAC/ADC, laser, ThermalField}). The physics stays in plain C++ (hw/device, hw/noise); these modules own
// the state over simulated time, charge time and energy, and keep per-module statistics.
//
// Contract:
// - Time: methods that take time (infer_cost, occupy, TensorCore::read_back) must be called from
//   an SC_THREAD; they advance simulated time with wait() (next-event only, no clocks). Pure
//   queries (effective weights, classify) take no simulated time.
// - One user at a time: the array is a resource (ArrayIf): inferences are booked with serve(),
//   anything else acquire()s it first.
// - classify() runs real inputs through the noisy hardware (technology effective weights, DAC,
//   per-block ADC, digital accumulation) with one noise instant and one draw per sample;
//   results are the same bits at any thread count.
// - Costs: an inference occupies the array for the compiled workload's latency (hw/energy.h);
//   non-inference work is charged in array cycles (one input vector through one chunk) at the
//   clock, plus ring settling / cell writes for re-programming.
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <systemc>
#include <tuple>
#include <vector>

#include "hw/device/technology.h"
#include "hw/energy.h"
#include "hw/hardware_gemm.h"
#include "hw/stats.h"
#include "hw/streaming.h"
#include "hw/thermal.h"
#include "models/compiler.h"
#include "models/dataset.h"
#include "models/executor.h"

namespace ptc::hw {

// One tensor core of the array. Its books are what the mapping gives it, not a share of the
// array's: the cycles of an inference in which it holds a block (the others it idles: a layer with
// fewer block-rows or block-columns than the array leaves cores empty), and the compute time of the
// served inferences on it. Time, energy and writes are the array's books (one set, in Accelerator).
class TensorCore : public sc_core::sc_module, public StatsProvider {
 public:
  TensorCore(sc_core::sc_module_name name, const class Accelerator& acc, int64_t index, int64_t k, int64_t active_cycles);
  int64_t index() const { return m_index; }
  // Cycles per inference in which this core holds a block (docs/converters_energy.md §3).
  int64_t active_cycles() const { return m_active_cycles; }
  // Identity-probe read-back of block (layer, group, block) mapped to this core: k probe vectors
  // e_j through the core and its ADC (output column j = effective column j): k array cycles of
  // time, energy and DAC/ADC conversions (Accelerator::occupy_cycles, the array's books). Returns the
  // k x k effective weights (row-major, absolute units).
  std::vector<float> read_back(class Accelerator& acc, int64_t layer, int64_t group, int64_t block, uint64_t draw);
  nlohmann::json stats() const override;

 private:
  const class Accelerator& m_acc;
  int64_t m_index, m_k, m_active_cycles;
};

// The array's DACs or ADCs as one child module: how many conversions they made and the energy
// that took (conversions x the energy per conversion at their resolution,
// docs/converters_energy.md §3). One input vector through one chunk is C k DAC and R C k ADC
// conversions (inputs broadcast down the core rows, one ADC per core output).
class ConverterBank : public sc_core::sc_module, public StatsProvider {
 public:
  ConverterBank(sc_core::sc_module_name name, int bits, double pj_per_conversion, int64_t per_cycle);
  void convert(int64_t n) { m_conversions += n; }
  void convert_cycles(int64_t cycles) { m_conversions += cycles * m_per_cycle; }
  int64_t conversions() const { return m_conversions; }
  double energy_j() const { return static_cast<double>(m_conversions) * m_pj * 1e-12; }
  double pj_per_conversion() const { return m_pj; }
  int64_t per_cycle() const { return m_per_cycle; }
  // Several converters per output, each at its own resolution (RNS: one ADC per modulus channel):
  // stats() lists them (channel_bits) beside the widest (bits).
  void set_channel_bits(std::vector<int> bits) { m_channel_bits = std::move(bits); }
  nlohmann::json stats() const override;

 private:
  int m_bits;
  std::vector<int> m_channel_bits;
  double m_pj;
  int64_t m_per_cycle, m_conversions = 0;
};

struct AcceleratorConfig {
  EnergyParams energy;  // clock, converters' energy, laser, ring hold/settle, PCM write costs
  IoSpec io;            // converter numerics (bits 0 = ideal)
  uint64_t seed = 0;
  int threads = 0;  // executor threads (0: $PTC_THREADS or all cores)
  // The noise clock (DOCTOR's schedule step): one step per served inference plus remediation work
  // converted to inferences, or floor(t / step_s) when step_in_seconds.
  bool step_in_seconds = false;
  double step_s = 1e-3;
  std::optional<ThermalFieldParams> thermal;  // a physical thermal field: child module "thermal"
};

// Where the accelerator delivers the predictions of served requests (classified lazily, in
// batches, before anyone else takes the array, so their noise instants are those they were
// served at).
class ServedSinkIf : public virtual sc_core::sc_interface {
 public:
  virtual void served(const std::vector<int64_t>& images, const std::vector<int>& pred) = 0;
};

// The array as a contended resource (docs/architecture.md §3). Contract:
// - serve(): books n inferences (loosely timed, no wait): start = max(ready, free_at), the array
//   is busy until start + n x latency; their images (if any) are classified at (step, start).
// - acquire(): exclusive use for non-inference work. Waits until nobody holds the array and, if
//   after_service, until booked inference service has ended (non-preemptive). Waiters are served
//   in the order they asked, ties (same instant) by rank (lower first). Pending served images
//   are classified before acquire() returns. release() hands the array on.
// - occupy*(): only while held; advance simulated time (wait) and the array's free time.
struct Service {
  double start_s = 0, done_s = 0;
};
class ArrayIf : public virtual sc_core::sc_interface {
 public:
  virtual Service serve(double ready_s, int64_t n, const std::vector<int64_t>& images) = 0;
  virtual void acquire(int rank, bool after_service) = 0;
  virtual void release() = 0;
  virtual double free_at_s() const = 0;
  virtual int64_t inferences() const = 0;
  // Array time of one inference (a dispatcher's load estimate).
  virtual double service_s() const = 0;
  // Array time serve() books for a batch of n (streaming: n x compute + passes x programming),
  // without recomputations.
  virtual double service_s(int64_t n) const { return static_cast<double>(n) * service_s(); }
  // Returns once no process holds the array: a run stopped by a signal lets the action in flight
  // finish (its array time, energy, cycles, writes and event are booked together), not cut it
  // during one of its waits. Whether it had to wait.
  virtual bool wait_released() = 0;
};

class Accelerator : public sc_core::sc_module, public ArrayIf, public StatsProvider {
 public:
  sc_core::sc_export<ArrayIf> array;
  sc_core::sc_port<ServedSinkIf, 1, sc_core::SC_ZERO_OR_MORE_BOUND> served_sink;

  // graph and workload must outlive the module; the technology is owned.
  Accelerator(sc_core::sc_module_name name, const models::Graph& graph, const models::CompiledWorkload& wl,
              std::unique_ptr<Technology> tech, const AcceleratorConfig& cfg);
  ~Accelerator() override;

  // ---- ArrayIf
  Service serve(double ready_s, int64_t n, const std::vector<int64_t>& images) override;
  bool wait_released() override {
    bool waited = false;
    for (; m_holder >= 0; waited = true) sc_core::wait(m_changed);
    return waited;
  }
  void acquire(int rank, bool after_service) override;
  void release() override;
  double free_at_s() const override { return m_free_at; }
  int64_t inferences() const override { return m_served; }
  double service_s() const override { return m_cost.latency_s; }
  double service_s(int64_t n) const override { return plan(n).service_s; }
  bool held() const { return m_holder >= 0; }
  // Held by, or asked for by, a process of rank <= max_rank (a fleet's dispatcher: the chip is
  // claimed for maintenance by its controller or monitor).
  bool claimed(int max_rank) const {
    if (m_holder >= 0 && m_holder <= max_rank) return true;
    for (const auto& w : m_waiters)
      if (std::get<1>(w) <= max_rank) return true;
    return false;
  }
  // Classifies the pending served images now (served_sink receives them) and charges their
  // recomputations (charge_recomputations).
  void flush();
  // Served images waiting to be classified (flush() classifies them).
  int64_t pending_images() const { return static_cast<int64_t>(m_pending.images.size()); }
  // Charges n recomputations (RNS retries) made by classify(): one array cycle of one core each,
  // ceil(n / cores) array cycles of time (cores recompute in parallel) and energy n x
  // recomputation_energy_j(); busy time and energy in the books (stats recomputation_*), and the
  // array's free time moves on by their time. Served requests' retries are charged by serve()
  // instead (they lengthen the request's own service); a scheduled evaluation charges its own.
  void charge_recomputations(int64_t n);
  // Recomputations made on the array since construction: the technology's (RNS retries) plus the
  // data path's (bound management re-runs, docs/converters_energy.md §2); each one array cycle of
  // one core, charged by charge_recomputations.
  int64_t recomputations_made() const;
  // Whether anything can recompute (then served requests are classified when booked, so that
  // their recomputations lengthen their own service).
  bool recomputes() const;
  // Whether the recomputation books are kept (a device with its own counters, or bound management):
  // stats.json's accelerator.recomputation_* and summary.json's recomputations / recomputation_cycles.
  bool keeps_recomputation_books() const;
  // Recomputations charged so far and the array cycles they took (ceil(j / cores) per charge).
  int64_t recomputations_charged() const { return m_recomputations; }
  int64_t recomputation_cycles() const { return m_recompute_cycles; }
  // One core's share of an array cycle, plus the conversions a lone core cannot share: an array
  // cycle broadcasts each input down the R core rows (C k DAC conversions for R C cores), a
  // recomputation converts its core's k inputs itself (and k ADC conversions per channel).
  double recomputation_energy_j() const;
  // The test set that served requests' images index (must outlive the simulation).
  void set_served_data(const models::Dataset* d, const models::Preprocess* p) { m_served_data = d, m_served_pre = p; }
  // A stop request (SIGINT/SIGTERM) that the served-image classification polls between its
  // batches of 16: once set, flush() classifies no further images and hands the sink only those
  // already classified (the rest of the pending ones are dropped), so a stop is honoured within one
  // batch instead of after up to 4,096 inferences. Complete runs are unaffected.
  void set_stop_flag(const std::atomic<bool>* stop) { m_stop = stop; }

  // ---- the noise clock (DOCTOR step) and the noise instant of measurements
  int64_t step(double now_s) const;
  int64_t remediation_steps() const { return m_extra_steps; }
  // Remediation work advances the noise by `steps` inference-equivalents (DOCTOR).
  void advance_steps(int64_t steps) { m_extra_steps += steps; }
  // Brings the thermal field (self-heating from busy time) and the device's thermal offsets to
  // now_s and sets the technology's noise instant to (step, now_s) for measurements.
  void set_now(double now_s);
  // The instant naming the read draws of set_now() while >= 0 (NoiseTime::draw_t_s): the evaluator
  // sets its scheduled instant for the compensation readout and the evaluation, then clears it (-1).
  void set_draw_instant(double t_s) { m_draw_instant_s = t_s; }
  double draw_instant() const { return m_draw_instant_s; }
  // Thermal field only: self-heating and ring offsets to now_s (no noise instant).
  void update_thermal(double now_s);
  // Integrates the self-heating to now_s (at most the kernel's time) and nothing else: the end of
  // a run, for stats.json.
  void commit_thermal(double now_s);
  // Re-tunes every ring against the temperature now (thermally coupled devices): the lock
  // temperature of every core becomes the current one. Returns device writes.
  int64_t relock(double now_s);
  // Re-tunes only the rings marked non-zero in `rings` ([cores, k, k]; RNS modulus channels,
  // docs/rns.md §7): their lock temperatures become the current ones. Returns device writes.
  int64_t relock_rings(double now_s, const std::vector<char>& rings);
  // Mean core temperature (K): the thermal field's, else the technology's own schedule, else 300.
  double temperature_mean_k(double now_s);
  // One reading of the free temperature sensors (K): the mean sensor reading of the thermal field
  // (each call a new reading), else temperature_mean_k.
  double sensor_k(double now_s);
  Thermal* thermal() { return m_thermal.get(); }
  bool has_pending() const { return !m_pending.images.empty(); }
  // Device writes since deployment (the initial programming excluded).
  // Under the streaming mapping (hw/streaming.h) every pass (served inference) writes the per-pass
  // level steps of the stream plan; there is no initial programming (the first pass writes).
  int64_t writes_after_deployment() const;
  int64_t writes_initial() const { return m_initial_writes; }
  // The per-pass stream plan (streaming mapping), else null.
  const StreamPlan* stream_plan() const { return m_stream ? &*m_stream : nullptr; }
  // Endurance state of the streamed cells (streaming mapping with a device endurance), else null.
  const CellWear* wear() const { return m_wear ? &*m_wear : nullptr; }
  double first_worn_s() const { return m_first_worn_s; }  // -1: no cell worn yet
  int64_t worn_cells() const { return m_worn_cells; }     // worn cells in use (in the datapath) now
  // Row-based remapping (docs/elight.md §6; policy row_remap): after the images served so far are
  // classified, every logical row with >= threshold worn cells in use moves to a free spare row of
  // its core (CellWear::remap_worn_rows at the passes served); the worn set in use is updated.
  // Throws without cell endurance (streaming mapping with device.endurance_steps > 0).
  RowRemapOutcome remap_worn_rows(int64_t threshold, double now_s);
  int64_t row_remap_checks() const { return m_remap_checks; }
  int64_t unrepaired_rows() const { return m_unrepaired; }            // at the last check
  double first_unrepaired_s() const { return m_first_unrepaired_s; }  // -1: none found yet
  // Whether the row-remapping outputs are reported: spare rows exist or a check ran.
  bool reports_row_remap() const { return m_wear && (m_wear->spare_rows() > 0 || m_remap_checks > 0); }
  // Total energy of the chip (J): inferences served plus every other charge, one set of books.
  double total_energy_j() const;
  // Served inferences' energy; streaming with several images per pass pays the programming per pass.
  double inference_energy_j() const {
    if (!m_stream || m_passes == m_served) return static_cast<double>(m_served) * m_cost.total_j;
    return static_cast<double>(m_served) * (m_cost.total_j - m_cost.reprogram_j) +
           static_cast<double>(m_passes) * m_cost.reprogram_j;
  }
  // Streaming passes served (each programs every block once; hw.mapping.images_per_pass images each at most).
  int64_t passes() const { return m_passes; }
  Technology& tech() { return *m_tech; }
  const models::CompiledWorkload& workload() const { return m_wl; }
  const models::Graph& graph() const { return m_graph; }
  TensorCore& core(int64_t i) { return *m_cores.at(i); }
  const ConverterBank& dac() const { return *m_dac; }
  const ConverterBank& adc() const { return *m_adc; }
  int64_t cores() const { return static_cast<int64_t>(m_cores.size()); }
  // The deployed (ideal) weights W*, per layer and group, block layout.
  const std::vector<float>& ideal(int64_t layer, int64_t group) const { return m_ideal.at(layer).at(group); }

  // ---- costs
  const InferenceCost& inference_cost() const { return m_cost; }
  double cycle_s() const { return 1.0 / (m_cfg.energy.clock_ghz * 1e9); }
  double energy_per_cycle_j() const { return m_cycle_j; }
  // Occupies all cores for `seconds` (SC_THREAD context, array held), charging `energy_j`.
  // Hands the thermally coupled technology every ring's deviation from its lock temperature at
  // now_s (the field as last advanced), T_core - T_lock + fabrication offset.
  void push_ring_temperatures(double now_s);
  void occupy(double seconds, double energy_j);
  // Charges busy time and energy without advancing simulated time (the caller waits).
  void charge(double seconds, double energy_j);
  // Charges `cycles` array cycles plus `settles` re-tuning settles (MRR) as busy time and energy;
  // returns that time (s), which is cycles_time_s(cycles, settles).
  double occupy_cycles(int64_t cycles, int64_t settles = 0);
  // The array time of `cycles` cycles plus `settles` ring re-tuning settles (settles cost nothing
  // on non-volatile cells).
  double cycles_time_s(int64_t cycles, int64_t settles) const;
  // Re-programs one layer group to `blocks` at time t_s; returns device writes and charges
  // each changed weight to its core (time/energy are charged by the caller's action).
  int64_t program(int64_t layer, int64_t group, const std::vector<float>& blocks, double t_s);
  // Write-verify of the weights marked in `mask` (block layout) of one layer group at t_s
  // (Technology::verify; docs/swim.md §1). Charges the read-backs and re-writes: energy per read
  // and per device write; time per core = its reads x pcm_verify_read_us + weight re-writes x
  // pcm_write_us (a core verifies its cells in sequence, cores in parallel), added to the pending
  // write time the caller occupies. Thermo-optic rings (MRR, docs/swim.md §6): reads x
  // mrr_verify_read_us + (re-tune rounds + 1 load of each verified block's set points) x
  // ring_settle_us per core; energy per read and per settle (the core's rings held while
  // settling). Re-written weights count as rewritten on their core.
  VerifyResult verify(int64_t layer, int64_t group, const std::vector<uint8_t>& mask, const VerifySpec& spec, double t_s);
  // The write-verify books since deployment (every verify() call): weights verified, read-backs,
  // device writes, weights left outside the tolerance, time (s, the cores' parallel time per group,
  // summed) and energy (J). initial_programming_s: the one-shot programming of every block before
  // deployment (not on the deployment clock; one row of k cells per write pulse, cores in
  // parallel; thermo-optic rings: one settle; a device that prices its own writes, ELight's
  // level steps: its cost of the first programming, cores in parallel), the baseline a write-verify
  // time is compared with (SWIM's programming time). initial_programming_j: its energy (the
  // initial writes x pcm_write_pj; rings: one settle of every ring held; self-priced: the device's),
  // like the time outside the run's energy, which starts at deployment.
  struct VerifyBooks {
    int64_t calls = 0, weights = 0, reads = 0, writes = 0, unconverged = 0;
    int64_t block_loads = 0;  // thermo-optic: blocks loaded for verification (one settle each)
    double time_s = 0, energy_j = 0;
  };
  const VerifyBooks& verify_books() const { return m_verify; }
  double initial_programming_s() const;
  // Write time of the blocks of `t` with changed[b] > 0: the busiest core's rows x pcm_write_us.
  double row_pulses_s(const models::GemmTiles& t, const std::vector<int64_t>& changed) const;
  double initial_programming_j() const;
  // Write time accumulated by program() since the last call (cores write in parallel); the
  // caller occupies the accelerator for it.
  double take_write_time_s();
  double energy_j() const { return m_energy_j; }  // everything but inferences (total_energy_j)
  double busy_s() const { return m_busy_s; }

  // ---- measurements (no simulated time)
  // Effective weights of one layer group for `draw` at the noise instant set with set_times
  // (absolute units, block layout [P, Q, k, k]); with_adc applies the ADC to identity probes.
  // bm_reruns (with_adc, bound management on): the probes are bound-managed as an inference's
  // partial sums are (a probe column that converts past the ADC bound is read again with the
  // input 1 / f, f = 2, 4, ..., and multiplied back), and the recomputations are added to it.
  void effective(int64_t layer, int64_t group, uint64_t draw, std::vector<float>& out, bool with_adc = false,
                 int64_t* bm_reruns = nullptr) const;
  // Predicted class of each sample (images[i] from `d`), read at times[i] with draw draw_base + i.
  // stoppable (served images only): a stop request ends it between batches, the rest left at -1.
  void classify(const models::Dataset& d, const models::Preprocess& p, const std::vector<int64_t>& images,
                const std::vector<NoiseTime>& times, uint64_t draw_base, std::vector<int>& pred, bool stoppable = false);
  // On-chip training on the chip's arithmetic (docs/onchip_training.md §2). training_forward
  // prepares the data path for a training batch of times.size() samples read at `times` with
  // draws draw_base + s (as classify prepares a batch) and returns the GEMM its forward pass runs
  // through: the technology's own (the RNS core) or the effective-weight HardwareGemm with the
  // DAC/ADC. training_backward gives the backward products' arithmetic: RNS words (rns device)
  // or the DAC/ADC of the data path, segments of the core size, noise from `stream`.
  models::MappedGemm& training_forward(const std::vector<NoiseTime>& times, uint64_t draw_base);
  std::unique_ptr<class ChipBackwardGemm> training_backward(const RandomStream& stream);
  // Frees the executors' cached plans and buffers (rebuilt when next needed): before a memory-
  // hungry step that runs once (e.g. the offline salience's gradients).
  void release_buffers();
  // Same with the ideal (noise-free, unquantised) weights.
  void classify_ideal(const models::Dataset& d, const models::Preprocess& p, const std::vector<int64_t>& images,
                      std::vector<int>& pred);
  // Digital per-layer output gain (drift compensation, aihwkit GDC): y = alpha_l * W_eff x.
  void set_output_gain(int64_t layer, double alpha);
  double output_gain(int64_t layer) const;
  // Digital gain per (block, output row) of a layer group, applied after the ADC (drift
  // compensation per tile or per column); empty: none.
  void set_block_gains(int64_t layer, int64_t group, std::vector<float> gains);
  const std::vector<float>& block_gains(int64_t layer, int64_t group) const;

  // Monte-Carlo chip instances (accuracy.instances, docs/devices.md §2.4): selects instance k of
  // the technology (0: this chip) together with the digital gains drift compensation gave that
  // instance (each instance keeps its own; one never compensated has instance 0's). False if the
  // technology has no instances. Measurements only: serving and programming use instance 0, and
  // what the classifications of an instance k >= 1 recompute (bound management, RNS retries) is
  // neither counted nor charged.
  bool select_instance(int64_t k);
  int64_t instance() const { return m_instance; }

  nlohmann::json stats() const override;
  // Streaming mapping: the per-pass plan, the passes, the writes they took, cell wear.
  nlohmann::json streaming_stats() const;

 private:
  // n inferences booked at once: the streaming passes they take (0 unless streaming) and their
  // array time (docs/elight.md §1).
  struct Plan {
    int64_t passes = 0;
    double service_s = 0;
  };
  Plan plan(int64_t n) const;
  struct InstanceGains {
    bool set = false;
    std::vector<double> out;
    std::vector<std::vector<std::vector<float>>> block;
  };
  std::vector<InstanceGains> m_inst_gains;
  int64_t m_instance = 0;
  // An instance k >= 1 is selected (even if the technology does not vary its draws): its
  // classifications are another chip's measurements, so their bound-management re-runs are set
  // aside (m_copy_bm_reruns), never charged to this chip (docs/devices.md §2.4).
  bool m_copy = false;
  int64_t m_copy_bm_reruns = 0;
  bool m_had_row_scales = false;                       // the technology has given per-output mapping scales
  void push_row_scales(int64_t layer, int64_t group);  // the technology's row scales -> the GEMM
  // Charges n recomputations' energy and busy time to the books; returns their array time.
  double recompute_books(int64_t n);
  // Classifies the pending served images (served_sink receives them); returns the recomputations
  // (RNS retries) that took, not yet charged.
  int64_t classify_pending();
  // The noise instants of draws draw_base, draw_base + 1, ... for the next batch's reads.
  void prepare_draws(uint64_t draw_base, const std::vector<NoiseTime>& times);
  void run_batch(const models::Dataset& d, const models::Preprocess& p, const std::vector<int64_t>& images, size_t first,
                 size_t count, models::Executor& ex, std::vector<int>& pred);

  const models::Graph& m_graph;
  const models::CompiledWorkload& m_wl;
  std::unique_ptr<Technology> m_tech;
  AcceleratorConfig m_cfg;
  std::vector<std::unique_ptr<TensorCore>> m_cores;
  std::unique_ptr<ConverterBank> m_dac, m_adc;
  std::vector<std::vector<std::vector<float>>> m_ideal;
  InferenceCost m_cost;
  double m_cycle_j = 0;
  std::unique_ptr<HardwareGemm> m_gemm;
  std::unique_ptr<models::Executor> m_exec, m_exec_ideal;
  double m_energy_j = 0, m_busy_s = 0, m_pending_write_s = 0;
  const std::atomic<bool>* m_stop = nullptr;
  double m_recompute_s = 0, m_recompute_j = 0;  // recomputations (RNS retries), served and evaluated
  int64_t m_recomputations = 0, m_recompute_cycles = 0;
  int64_t m_inferences = 0;  // images classified (served, evaluations, measurements)
  // array resource
  double m_free_at = 0;
  int m_holder = -1;
  using Waiter = std::tuple<double, int, uint64_t>;  // (asked at, rank, arrival order)
  std::set<Waiter> m_waiters;
  uint64_t m_waiter_seq = 0;
  sc_core::sc_event m_changed;
  // noise clock and served inferences
  double m_draw_instant_s = -1;
  int64_t m_passes = 0;  // streaming passes (docs/elight.md §1)
  int64_t m_served = 0, m_extra_steps = 0, m_initial_writes = 0, m_tech_base_writes = 0;
  double m_tech_base_write_s = 0, m_tech_base_write_j = 0;  // the device's own pricing of its first programming
  VerifyBooks m_verify;
  std::optional<StreamPlan> m_stream;
  std::optional<CellWear> m_wear;
  double m_first_worn_s = -1;  // simulated time the first cell wore out (-1: none yet)
  int64_t m_worn_cells = 0;
  int64_t m_remap_checks = 0, m_unrepaired = 0;
  double m_first_unrepaired_s = -1;
  void update_wear(double now_s);
  struct Pending {
    std::vector<int64_t> images;
    std::vector<NoiseTime> times;
    uint64_t first_draw = 0;
  } m_pending;
  // thermal field coupling
  const models::Dataset* m_served_data = nullptr;
  const models::Preprocess* m_served_pre = nullptr;
  std::unique_ptr<Thermal> m_thermal;
  int64_t m_thermal_instance = 0;  // the Monte-Carlo instance whose ring offsets the field holds
  double m_thermal_now_s = 0;      // the last thermal update
  std::vector<double> m_lock_k;    // per ring [cores, k, k]: the core temperature at the ring's last lock
};

// Measurement scopes: a Monte-Carlo loop over instances, or a noiseless reference read, restores
// instance 0 (this chip) and the ordinary reads when it ends, also when a measurement throws, so
// that nothing after it (serving, programming, a policy catching the error) runs on a copy or
// without read noise.
class InstanceScope {
 public:
  explicit InstanceScope(Accelerator& acc) : m_acc(acc) {}
  ~InstanceScope() {
    try {
      m_acc.select_instance(0);
    } catch (...) {  // restoring instance 0 only swaps state already held: nothing to report
    }
  }
  InstanceScope(const InstanceScope&) = delete;
  InstanceScope& operator=(const InstanceScope&) = delete;

 private:
  Accelerator& m_acc;
};

class NoiselessReadsScope {
 public:
  // Leaves the fresh read noise out while the scope lives when `on` and the technology has read
  // noise to leave out (Technology::set_noiseless_reads); active() says whether it did.
  NoiselessReadsScope(Technology& tech, bool on) : m_tech(tech), m_active(on && tech.set_noiseless_reads(true)) {}
  ~NoiselessReadsScope() {
    try {
      restore();
    } catch (...) {  // restoring the ordinary reads re-reads state already held: nothing to report
    }
  }
  bool active() const { return m_active; }
  // The ordinary reads again now (the scope's end does nothing more).
  void restore() {
    if (!m_restored && m_active) m_tech.set_noiseless_reads(false);
    m_restored = true;
  }
  NoiselessReadsScope(const NoiselessReadsScope&) = delete;
  NoiselessReadsScope& operator=(const NoiselessReadsScope&) = delete;

 private:
  Technology& m_tech;
  bool m_active, m_restored = false;
};

}  // namespace ptc::hw
