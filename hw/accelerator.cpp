#include "hw/accelerator.h"

#include <algorithm>
#include <cmath>

#include "hw/converters.h"
#include "hw/sim_seconds.h"
#include "hw/training_gemm.h"
#include "models/error.h"

namespace ptc::hw {

namespace {
nlohmann::json stat(double v, const char* unit) {
  return {{"value", v}, {"unit", unit}};
}
// Images per executor call in classify(): enough for both threads and the per-batch setup
// (noise instants, shared weights) to be amortised; small enough to keep activations small.
constexpr int64_t kBatch = 16;
}  // namespace

// ------------------------------------------------------------------------------------ TensorCore
TensorCore::TensorCore(sc_core::sc_module_name name, const Accelerator& acc, int64_t index, int64_t k, int64_t active_cycles)
    : sc_core::sc_module(name), m_acc(acc), m_index(index), m_k(k), m_active_cycles(active_cycles) {}

std::vector<float> TensorCore::read_back(Accelerator& acc, int64_t layer, int64_t group, int64_t block, uint64_t draw) {
  const auto& t = acc.workload().layers.at(layer).gemms.at(group);
  if (block < 0 || block >= t.P * t.Q) throw Error("read_back: block out of range");
  if (acc.workload().layers[layer].gemms[group].core[block] != m_index && acc.workload().spec.mapping == "stationary")
    throw Error("read_back: block is not mapped to core " + std::to_string(m_index));
  std::vector<float> all;
  acc.effective(layer, group, draw, all, true);
  std::vector<float> out(all.begin() + block * m_k * m_k, all.begin() + (block + 1) * m_k * m_k);
  // k probe vectors: k cycles of the array, which is held for them (the other cores idle under the
  // same laser and clock), charged and converted as any k array cycles are (one set of books).
  acc.occupy_cycles(m_k);
  return out;
}

nlohmann::json TensorCore::stats() const {
  const double total = static_cast<double>(m_acc.workload().cycles_per_inference);
  const double active = static_cast<double>(m_active_cycles);
  return {{"active_cycles_per_inference", stat(active, "cycles")},
          {"utilisation", stat(total > 0 ? active / total : 0.0, "fraction")},
          {"inference_compute", stat(static_cast<double>(m_acc.inferences()) * active * m_acc.cycle_s(), "s")}};
}

// ------------------------------------------------------------------------------------ ConverterBank
ConverterBank::ConverterBank(sc_core::sc_module_name name, int bits, double pj_per_conversion, int64_t per_cycle)
    : sc_core::sc_module(name), m_bits(bits), m_pj(pj_per_conversion), m_per_cycle(per_cycle) {}

nlohmann::json ConverterBank::stats() const {
  nlohmann::json j = {{"bits", stat(m_bits, "bits")},
                      {"conversions_per_cycle", stat(static_cast<double>(m_per_cycle), "conversions")},
                      {"energy_per_conversion", stat(m_pj * 1e-12, "J")},
                      {"conversions", stat(static_cast<double>(m_conversions), "conversions")},
                      {"energy", stat(energy_j(), "J")}};
  if (!m_channel_bits.empty()) {
    // bits: the widest channel; energy_per_conversion: the mean over the channels' converters.
    j["channel_bits"] = {{"value", m_channel_bits}, {"unit", "bits"}};
  }
  return j;
}

// ------------------------------------------------------------------------------------ Accelerator
Accelerator::Accelerator(sc_core::sc_module_name name, const models::Graph& graph, const models::CompiledWorkload& wl,
                         std::unique_ptr<Technology> tech, const AcceleratorConfig& cfg)
    : sc_core::sc_module(name),
      array("array"),
      served_sink("served_sink"),
      m_graph(graph),
      m_wl(wl),
      m_tech(std::move(tech)),
      m_cfg(cfg) {
  if (!m_tech) throw Error("accelerator: no device technology");
  array.bind(*this);
  const int64_t n = wl.spec.mapping == "stationary" ? std::max<int64_t>(wl.blocks, 1) : wl.spec.rows * wl.spec.cols;
  const std::vector<int64_t> active = core_active_cycles(wl, n);
  for (int64_t i = 0; i < n; ++i)
    m_cores.push_back(std::make_unique<TensorCore>(("core_" + std::to_string(i)).c_str(), *this, i, wl.spec.block_size,
                                                   active[static_cast<size_t>(i)]));
  for (const auto& L : wl.layers) {
    m_ideal.emplace_back();
    for (const auto& t : L.gemms) m_ideal.back().push_back(t.blocks);
  }
  if (wl.spec.mapping == "streaming") {
    m_stream = plan_streaming(wl, *m_tech);
    const StreamingWrites sw{m_stream->time_s, m_stream->energy_j, m_stream->programmings};
    m_cost = hw::inference_cost(wl, cfg.energy, &sw);
    if (const auto* b = m_tech->endurance_budgets()) m_wear.emplace(*m_stream, *b);
  } else {
    m_cost = hw::inference_cost(wl, cfg.energy);
  }
  const int64_t Ck = wl.spec.cols * wl.spec.block_size;
  m_dac = std::make_unique<ConverterBank>("dac", cfg.energy.dac_bits, dac_energy_pj(cfg.energy, cfg.energy.dac_bits), Ck);
  const std::vector<int> out_bits = m_tech->output_adc_bits();
  if (out_bits.empty()) {
    m_adc = std::make_unique<ConverterBank>("adc", cfg.energy.adc_bits, adc_energy_pj(cfg.energy, cfg.energy.adc_bits),
                                            wl.spec.rows * Ck);
  } else {
    // Several ADCs per core output (an RNS core: one per modulus channel, each at its own bits,
    // priced by the same converter law; docs/rns.md §7): conversions, ADC and PD/TIA energy scale.
    const int64_t ch = static_cast<int64_t>(out_bits.size());
    const int bits = *std::max_element(out_bits.begin(), out_bits.end());
    price_output_adcs(m_cost, cfg.energy, out_bits);
    m_adc = std::make_unique<ConverterBank>("adc", bits, output_adcs_pj(cfg.energy, out_bits) / static_cast<double>(ch),
                                            wl.spec.rows * Ck * ch);
    m_adc->set_channel_bits(out_bits);
  }
  const double cycles = static_cast<double>(std::max<int64_t>(wl.cycles_per_inference, 1));
  // One array cycle: converters, PD/TIA, accumulation and laser of one vector through one chunk,
  // plus ring hold power for the cycle time (MRR).
  m_cycle_j = (m_cost.dac_j + m_cost.adc_j + m_cost.tia_j + m_cost.digital_j + m_cost.laser_j) / cycles;
  if (cfg.energy.cell == WeightCell::thermo_optic)
    m_cycle_j += static_cast<double>(wl.spec.rows * wl.spec.cols * wl.spec.block_size * wl.spec.block_size) *
                 cfg.energy.ring_hold_mw * 1e-3 * cycle_s();
  m_gemm = std::make_unique<HardwareGemm>(wl, *m_tech, cfg.io, RandomStream(cfg.seed, 0x5e).derive(1));
  for (size_t l = 0; l < wl.layers.size(); ++l)
    for (size_t g = 0; g < wl.layers[l].gemms.size(); ++g) push_row_scales(static_cast<int64_t>(l), static_cast<int64_t>(g));
  m_exec = std::make_unique<models::Executor>(graph, cfg.threads);
  m_exec->set_mapped(m_tech->mapped_gemm() ? m_tech->mapped_gemm() : m_gemm.get(), wl.layer_index());
  m_exec_ideal = std::make_unique<models::Executor>(graph, cfg.threads);
  m_tech_base_writes = m_tech->writes();
  m_tech_base_write_s = m_tech->write_time_s();
  m_tech_base_write_j = m_tech->write_energy_j();
  // Streaming: the device's initial state is not a write (the first pass programs every block).
  m_initial_writes = m_stream ? 0 : m_tech_base_writes;
  if (cfg.thermal) {
    const int64_t kk = wl.spec.block_size * wl.spec.block_size;
    m_thermal = std::make_unique<Thermal>("thermal", cores(), kk, *cfg.thermal, RandomStream(cfg.seed, 0x7f));
    // Rings are locked at deployment, at the temperature the cores have then (one lock
    // temperature per ring: selective re-calibration re-locks single rings).
    for (int64_t c = 0; c < cores(); ++c) m_lock_k.insert(m_lock_k.end(), static_cast<size_t>(kk), m_thermal->core_k(c, 0.0));
  }
}

// ------------------------------------------------------------------------------------ the array

Accelerator::Plan Accelerator::plan(int64_t n) const {
  // Streaming: a pass programs every block once and computes up to images_per_pass images of the
  // batch (docs/elight.md §1); otherwise every inference pays the full per-inference latency.
  const int64_t per_pass = m_stream ? m_wl.spec.images_per_pass : 1;
  Plan p;
  p.passes = m_stream ? (n + per_pass - 1) / per_pass : 0;
  p.service_s = per_pass == 1 ? static_cast<double>(n) * m_cost.latency_s
                              : static_cast<double>(n) * m_cost.compute_s + static_cast<double>(p.passes) * m_cost.reprogram_s;
  return p;
}

Service Accelerator::serve(double ready_s, int64_t n, const std::vector<int64_t>& images) {
  if (n <= 0) throw Error("accelerator: serve() needs at least one inference");
  if (!images.empty() && static_cast<int64_t>(images.size()) != n) throw Error("accelerator: one image per inference");
  Service s;
  s.start_s = std::max(ready_s, m_free_at);
  const Plan pl = plan(n);
  const double service = pl.service_s;
  // Rings that follow the thermal field see it at their batch's start: the images booked so far
  // are classified at theirs first.
  if (m_thermal && m_tech->thermally_coupled() && !images.empty() && s.start_s != m_thermal_now_s) update_thermal(s.start_s);
  for (int64_t i = 0; i < static_cast<int64_t>(images.size()); ++i) {
    const int64_t r = m_served + i;  // request index on this chip = its draw
    if (m_pending.images.empty()) m_pending.first_draw = static_cast<uint64_t>(r);
    m_pending.images.push_back(images[i]);
    const int64_t st = m_cfg.step_in_seconds ? static_cast<int64_t>(std::floor(s.start_s / m_cfg.step_s)) : r + m_extra_steps;
    m_pending.times.push_back(NoiseTime{st, s.start_s});
  }
  // A technology that recomputes (RNS retries, docs/rns.md §7): the requests are classified now,
  // at the same noise instants and device state as a later flush would use, so that their
  // recomputations lengthen their own service (and thereby delay the requests behind them).
  const double recompute_s = !images.empty() && recomputes() ? recompute_books(classify_pending()) : 0.0;
  s.done_s = s.start_s + service + recompute_s;
  if (m_thermal) m_thermal->add_busy(s.start_s, s.done_s);  // self-heating counts service as it runs
  charge(service, 0.0);  // inference energy: n x the compiled inference energy (total_energy_j)
  m_dac->convert(n * m_cost.conversions_dac);
  m_adc->convert(n * m_cost.conversions_adc);
  m_served += n;
  m_passes += pl.passes;
  m_free_at = s.done_s;
  update_wear(s.start_s);
  if (m_pending.images.size() >= 4096) flush();
  return s;
}

void Accelerator::update_wear(double now_s) {
  // Cells wear out between served batches: the images served so far are classified with the old
  // state, then the cells worn after m_passes passes stick (hw/streaming.h CellWear).
  if (!m_wear || m_passes < m_wear->first_worn_pass) return;
  const int64_t worn = m_wear->worn_count(m_passes);
  if (worn == m_worn_cells) return;
  flush();
  m_tech->set_worn_cells(m_wear->worn_at(m_passes));
  if (m_first_worn_s < 0) m_first_worn_s = now_s;
  m_worn_cells = worn;
}

RowRemapOutcome Accelerator::remap_worn_rows(int64_t threshold, double now_s) {
  if (!m_wear)
    throw Error("accelerator: row remapping needs cell endurance (the streaming mapping and device.endurance_steps > 0)");
  const RowRemapOutcome o = m_wear->remap_worn_rows(m_passes, threshold);
  ++m_remap_checks;
  m_unrepaired = o.unrepaired;
  if (o.unrepaired > 0 && m_first_unrepaired_s < 0) m_first_unrepaired_s = now_s;
  if (o.remapped > 0) {
    flush();  // the images served so far see the rows as they were
    m_tech->set_worn_cells(m_wear->worn_at(m_passes));
    m_worn_cells = m_wear->worn_count(m_passes);
  }
  return o;
}

nlohmann::json Accelerator::streaming_stats() const {
  const StreamPlan& p = *m_stream;
  const double n = static_cast<double>(m_passes);
  std::vector<int64_t> cells = p.cell_steps;
  std::sort(cells.begin(), cells.end());
  auto q = [&](double f) { return static_cast<double>(cells[static_cast<size_t>(f * static_cast<double>(cells.size() - 1))]); };
  double mean = 0;
  for (int64_t c : cells) mean += static_cast<double>(c);
  mean /= static_cast<double>(cells.size());
  nlohmann::json j = {{"order", stream_order_name(p.order)},
                      {"passes", stat(n, "passes")},
                      {"level_steps", stat(n * static_cast<double>(p.writes), "steps")},
                      {"program_time", stat(n * p.time_s, "s")},
                      {"program_energy", stat(n * p.energy_j, "J")},
                      {"cell_steps_per_pass",
                       {{"max", stat(q(1.0), "steps")},
                        {"p99", stat(q(0.99), "steps")},
                        {"p50", stat(q(0.5), "steps")},
                        {"mean", stat(mean, "steps")},
                        {"min", stat(q(0.0), "steps")}}},
                      {"worst_cell_steps", stat(n * q(1.0), "steps")},
                      {"per_pass", p.to_json()}};
  if (m_wear) {
    const bool never = m_first_worn_s < 0;  // not applied in this run (a prediction past its end is not a wear)
    j["endurance"] = {
        {"cells", stat(static_cast<double>(m_wear->worn_pass.size()), "cells")},
        {"worn_cells", stat(static_cast<double>(m_worn_cells), "cells")},
        {"first_worn_pass", stat(never ? -1.0 : static_cast<double>(m_wear->first_worn_pass), "passes")},
        {"first_worn_time", stat(m_first_worn_s, "s")},
        // From the drawn budgets and steps per pass, reached or not (-1: no cell wears).
        {"predicted_first_worn_pass",
         stat(m_wear->first_worn_pass == CellWear::kNever ? -1.0 : static_cast<double>(m_wear->first_worn_pass), "passes")}};
    if (reports_row_remap()) {
      const bool none = m_wear->first_unrepaired_pass == CellWear::kNever;
      j["endurance"]["spare_rows_per_core"] = stat(static_cast<double>(m_wear->spare_rows()), "rows");
      j["endurance"]["rows_remapped"] = stat(static_cast<double>(m_wear->rows_remapped()), "rows");
      j["endurance"]["spare_rows_used"] = m_wear->spare_rows_used();
      j["endurance"]["unrepaired_rows"] = stat(static_cast<double>(m_unrepaired), "rows");
      j["endurance"]["first_unrepaired_pass"] = stat(none ? -1.0 : static_cast<double>(m_wear->first_unrepaired_pass), "passes");
      j["endurance"]["first_unrepaired_time"] = stat(m_first_unrepaired_s, "s");
      j["endurance"]["remap_checks"] = stat(static_cast<double>(m_remap_checks), "checks");
    }
  }
  return j;
}

int64_t Accelerator::writes_after_deployment() const {
  return m_tech->writes() - m_tech_base_writes + (m_stream ? m_passes * m_stream->writes : 0);
}

void Accelerator::flush() {
  charge_recomputations(classify_pending());
}

int64_t Accelerator::classify_pending() {
  if (m_pending.images.empty()) return 0;
  std::vector<int> pred;
  if (served_sink.size() == 0) throw Error("accelerator: served images but no sink bound");
  if (m_stop && m_stop->load()) {  // stopping: nothing more is classified
    m_pending.images.clear();
    m_pending.times.clear();
    return 0;
  }
  const int64_t before = m_inferences, recomputed = recomputations_made();
  classify(*m_served_data, *m_served_pre, m_pending.images, m_pending.times, m_pending.first_draw, pred, true);
  const int64_t recomputations = recomputations_made() - recomputed;
  if (m_stop && m_stop->load()) {  // stopped part-way: the images classified so far count (whole batches)
    const size_t done = static_cast<size_t>(m_inferences - before);
    m_pending.images.resize(done);
    pred.resize(done);
  }
  served_sink->served(m_pending.images, pred);
  m_pending.images.clear();
  m_pending.times.clear();
  return recomputations;
}

void Accelerator::acquire(int rank, bool after_service) {
  const Waiter me{sim_now_s(), rank, m_waiter_seq++};
  m_waiters.insert(me);
  sc_core::wait(sc_core::SC_ZERO_TIME);  // every same-instant asker registers before the array is granted
  while (true) {
    if (m_holder < 0 && *m_waiters.begin() == me) {
      const sc_core::sc_time free_at(m_free_at, sc_core::SC_SEC), now = sc_core::sc_time_stamp();
      if (after_service && free_at > now) {  // booked service still running (kernel resolution)
        sc_core::wait(free_at - now);
        continue;
      }
      break;
    }
    sc_core::wait(m_changed);
  }
  m_waiters.erase(me);
  m_holder = rank;
  flush();
}

void Accelerator::release() {
  if (m_holder < 0) throw Error("accelerator: release() without acquire()");
  m_holder = -1;
  m_changed.notify(sc_core::SC_ZERO_TIME);
}

int64_t Accelerator::step(double now_s) const {
  if (m_cfg.step_in_seconds) return static_cast<int64_t>(std::floor(now_s / m_cfg.step_s));
  return m_served + m_extra_steps;
}

void Accelerator::update_thermal(double now_s) {
  if (!m_thermal) return;
  // Committed to the kernel's time at most: an action may still occupy the array before a batch
  // booked ahead of it starts (core_k carries the field on through the bookings).
  m_thermal->advance(std::min(now_s, sim_now_s()));
  m_thermal_now_s = now_s;
  push_ring_temperatures(now_s);
}

void Accelerator::commit_thermal(double now_s) {
  if (m_thermal) m_thermal->advance(std::min(now_s, sim_now_s()));
}

void Accelerator::push_ring_temperatures(double now_s) {
  if (!m_thermal || !m_tech->thermally_coupled()) return;
  flush();  // the served images booked so far were read at their own batches' temperatures
  const int64_t kk = m_wl.spec.block_size * m_wl.spec.block_size;
  std::vector<double> dt(static_cast<size_t>(cores() * kk));
  for (int64_t c = 0; c < cores(); ++c) {
    const double T = m_thermal->core_k(c, now_s);
    for (int64_t r = 0; r < kk; ++r) dt[c * kk + r] = T - m_lock_k[c * kk + r] + m_thermal->ring_offset_k(c, r);
  }
  m_tech->set_ring_temperature_k(dt);
}

void Accelerator::set_now(double now_s) {
  update_thermal(now_s);
  m_tech->set_times(0, {NoiseTime{step(now_s), now_s, m_draw_instant_s}});
}

int64_t Accelerator::relock(double now_s) {
  const int64_t writes = m_tech->relock(step(now_s));
  if (m_thermal && m_tech->thermally_coupled()) {
    update_thermal(now_s);
    const int64_t kk = m_wl.spec.block_size * m_wl.spec.block_size;
    for (int64_t c = 0; c < cores(); ++c)
      std::fill(m_lock_k.begin() + c * kk, m_lock_k.begin() + (c + 1) * kk, m_thermal->core_k(c, now_s));
    push_ring_temperatures(now_s);  // the re-locked rings sit at their new lock from now on
  }
  return writes;
}

int64_t Accelerator::relock_rings(double now_s, const std::vector<char>& rings) {
  const int64_t kk = m_wl.spec.block_size * m_wl.spec.block_size;
  if (static_cast<int64_t>(rings.size()) != cores() * kk)
    throw Error("relock_rings: expected a mask of " + std::to_string(cores() * kk) + " rings, got " +
                std::to_string(rings.size()));
  const int64_t writes = m_tech->relock_rings(step(now_s), rings);
  if (m_thermal && m_tech->thermally_coupled()) {
    update_thermal(now_s);
    for (int64_t c = 0; c < cores(); ++c)
      for (int64_t r = 0; r < kk; ++r)
        if (rings[static_cast<size_t>(c * kk + r)]) m_lock_k[static_cast<size_t>(c * kk + r)] = m_thermal->core_k(c, now_s);
    push_ring_temperatures(now_s);
  }
  return writes;
}

double Accelerator::temperature_mean_k(double now_s) {
  if (m_thermal) return m_thermal->mean_k(now_s);
  const double t = m_tech->schedule_temperature_k(step(now_s));
  return std::isfinite(t) ? t : 300.0;
}

double Accelerator::sensor_k(double now_s) {
  if (m_thermal) {
    update_thermal(now_s);
    return m_thermal->sensor_mean_k(now_s);
  }
  return temperature_mean_k(now_s);
}

double Accelerator::total_energy_j() const {
  return inference_energy_j() + m_energy_j;
}

Accelerator::~Accelerator() = default;

void Accelerator::charge(double seconds, double energy_j) {
  if (!(seconds >= 0) || !(energy_j >= 0)) throw Error("accelerator: negative busy time or energy");
  m_busy_s += seconds;
  m_energy_j += energy_j;
}

void Accelerator::occupy(double seconds, double energy_j) {
  charge(seconds, energy_j);
  if (m_thermal) m_thermal->add_busy(sim_now_s(), sim_now_s() + seconds);
  // Book the array up front (the instant the wait below lands on), so work booked meanwhile queues behind.
  m_free_at = std::max(m_free_at, seconds_of(sc_core::sc_time_stamp() + sc_core::sc_time(seconds, sc_core::SC_SEC)));
  if (seconds > 0) wait(sc_core::sc_time(seconds, sc_core::SC_SEC));
  m_free_at = std::max(m_free_at, sim_now_s());
}

double Accelerator::cycles_time_s(int64_t cycles, int64_t settles) const {
  double t = static_cast<double>(cycles) * cycle_s();
  if (m_cfg.energy.cell == WeightCell::thermo_optic && settles > 0)
    t += static_cast<double>(settles) * m_cfg.energy.ring_settle_us * 1e-6;
  return t;
}

double Accelerator::occupy_cycles(int64_t cycles, int64_t settles) {
  const double t = cycles_time_s(cycles, settles);
  double e = static_cast<double>(cycles) * m_cycle_j;
  m_dac->convert_cycles(cycles);
  m_adc->convert_cycles(cycles);
  if (m_cfg.energy.cell == WeightCell::thermo_optic && settles > 0) {
    const double rings = static_cast<double>(m_wl.spec.rows * m_wl.spec.cols * m_wl.spec.block_size * m_wl.spec.block_size);
    e += static_cast<double>(settles) * rings * m_cfg.energy.ring_hold_mw * 1e-3 * m_cfg.energy.ring_settle_us * 1e-6;
  }
  occupy(t, e);
  return t;
}

int64_t Accelerator::program(int64_t layer, int64_t group, const std::vector<float>& blocks, double t_s) {
  if (m_stream)
    throw Error(
        "accelerator: the streaming mapping re-programs every block on every pass; a policy's re-programming is not "
        "modelled with it");
  const auto& t = m_wl.layers.at(layer).gemms.at(group);
  const std::vector<float>& old = m_tech->programmed(layer, group);
  const int64_t kk = m_wl.spec.block_size * m_wl.spec.block_size;
  std::vector<int64_t> changed(static_cast<size_t>(t.P * t.Q), 0);
  if (m_tech->program_rewrites_group())
    std::fill(changed.begin(), changed.end(), kk);  // every device of the group is re-written
  else if (blocks.size() == old.size())
    for (size_t i = 0; i < blocks.size(); ++i) changed[i / kk] += blocks[i] != old[i];
  const double e0 = m_tech->write_energy_j(), t0 = m_tech->write_time_s();
  int64_t writes = m_tech->program(layer, group, blocks, t_s);
  push_row_scales(layer, group);  // the mapping's per-output scales follow the new weights
  const double ncores = static_cast<double>(m_cores.size());
  if (m_tech->prices_own_writes()) {
    // The technology prices its own writes (ELight level steps); cores write in parallel.
    m_energy_j += m_tech->write_energy_j() - e0;
    m_pending_write_s += (m_tech->write_time_s() - t0) / ncores;
  } else if (m_cfg.energy.cell == WeightCell::nonvolatile && writes > 0) {
    // Electrical PCM: energy per written device, one row of k cells per write pulse.
    m_energy_j += static_cast<double>(writes) * m_cfg.energy.pcm_write_pj * 1e-12;
    m_pending_write_s += row_pulses_s(t, changed);
  }
  // MRR re-tuning is charged by the caller as settles.
  return writes;
}

VerifyResult Accelerator::verify(int64_t layer, int64_t group, const std::vector<uint8_t>& mask, const VerifySpec& spec,
                                 double t_s) {
  if (m_stream) throw Error("accelerator: write-verify is not modelled with the streaming mapping");
  if (m_instance != 0)
    throw Error("accelerator: write-verify while Monte-Carlo instance " + std::to_string(m_instance) + " is selected");
  const auto& t = m_wl.layers.at(layer).gemms.at(group);
  const bool thermo = m_cfg.energy.cell == WeightCell::thermo_optic;
  if (m_tech->thermally_coupled()) set_now(t_s);  // the rings are read at the verification instant
  VerifyResult r = m_tech->verify(layer, group, mask, spec, t_s);
  const size_t nb = static_cast<size_t>(t.P * t.Q);
  if (r.block_reads.size() != nb || r.block_rewrites.size() != nb || (thermo && r.block_rounds.size() != nb))
    throw Error("accelerator: device \"" + m_tech->name() + "\" returned no per-block verify counts");
  std::vector<double> core_s(m_cores.size(), 0.0);
  // Non-volatile cells: a core reads and re-writes its weights one after another. Thermo-optic
  // rings: reads one after another, the rings a round re-tunes settle together (one settle each).
  const double tr = (thermo ? m_cfg.energy.mrr_verify_read_us : m_cfg.energy.pcm_verify_read_us) * 1e-6;
  const double tw = (thermo ? m_cfg.energy.ring_settle_us : m_cfg.energy.pcm_write_us) * 1e-6;
  // Thermo-optic rings hold one block's set points at a time: a block is loaded (its rings
  // tuned to its set points, one settle) before its first read-back, for every verified block.
  int64_t rounds = 0, loads = 0;
  for (size_t b = 0; b < nb; ++b) {
    const size_t c = static_cast<size_t>(t.core[b]) % m_cores.size();
    const int64_t load_b = thermo && r.block_reads[b] > 0 ? 1 : 0;
    const int64_t writes_b = thermo ? r.block_rounds[b] + load_b : r.block_rewrites[b];
    core_s[c] += static_cast<double>(r.block_reads[b]) * tr + static_cast<double>(writes_b) * tw;
    if (thermo) rounds += r.block_rounds[b] + load_b;
    loads += load_b;
  }
  const double t_verify = *std::max_element(core_s.begin(), core_s.end());
  // Thermo-optic: a settling round holds the core's k^2 rings for ring_settle_us.
  const double kk = static_cast<double>(m_wl.spec.block_size * m_wl.spec.block_size);
  const double e_verify =
      thermo ? static_cast<double>(rounds) * kk * m_cfg.energy.ring_hold_mw * 1e-3 * m_cfg.energy.ring_settle_us * 1e-6 +
                   static_cast<double>(r.reads) * m_cfg.energy.mrr_verify_read_pj * 1e-12
             : static_cast<double>(r.writes) * m_cfg.energy.pcm_write_pj * 1e-12 +
                   static_cast<double>(r.reads) * m_cfg.energy.pcm_verify_read_pj * 1e-12;
  m_pending_write_s += t_verify;
  m_energy_j += e_verify;
  ++m_verify.calls;
  m_verify.weights += r.weights;
  m_verify.reads += r.reads;
  m_verify.writes += r.writes;
  m_verify.unconverged += r.unconverged;
  m_verify.block_loads += loads;
  m_verify.time_s += t_verify;
  m_verify.energy_j += e_verify;
  return r;
}

double Accelerator::row_pulses_s(const models::GemmTiles& t, const std::vector<int64_t>& changed) const {
  // One write pulse programs one row of k cells; each core writes its own blocks' rows one after
  // another, the cores in parallel: the busiest core of the mapping's placement sets the time (as
  // a verification's, Accelerator::verify).
  std::vector<int64_t> rows(m_cores.size(), 0);
  for (int64_t b = 0; b < t.P * t.Q; ++b)
    if (changed[static_cast<size_t>(b)] > 0) rows[static_cast<size_t>(t.core[b]) % m_cores.size()] += m_wl.spec.block_size;
  return static_cast<double>(*std::max_element(rows.begin(), rows.end())) * m_cfg.energy.pcm_write_us * 1e-6;
}

double Accelerator::initial_programming_s() const {
  // Thermo-optic rings tune together: one settle (docs/converters_energy.md §4).
  if (m_cfg.energy.cell == WeightCell::thermo_optic) return m_cfg.energy.ring_settle_us * 1e-6;
  if (m_cfg.energy.cell != WeightCell::nonvolatile || m_stream) return 0;
  const double ncores = static_cast<double>(m_cores.size());
  if (m_tech->prices_own_writes()) return m_tech_base_write_s / ncores;  // the device's own pricing
  double t = 0;
  for (const auto& L : m_wl.layers)
    for (const auto& g : L.gemms) t += row_pulses_s(g, std::vector<int64_t>(static_cast<size_t>(g.P * g.Q), 1));
  return t;
}

double Accelerator::initial_programming_j() const {
  if (m_cfg.energy.cell == WeightCell::thermo_optic)
    return static_cast<double>(m_wl.spec.rows * m_wl.spec.cols * m_wl.spec.block_size * m_wl.spec.block_size) *
           m_cfg.energy.ring_hold_mw * 1e-3 * m_cfg.energy.ring_settle_us * 1e-6;
  if (m_cfg.energy.cell != WeightCell::nonvolatile || m_stream) return 0;
  if (m_tech->prices_own_writes()) return m_tech_base_write_j;
  return static_cast<double>(m_initial_writes) * m_cfg.energy.pcm_write_pj * 1e-12;
}

double Accelerator::take_write_time_s() {
  double t = m_pending_write_s;
  m_pending_write_s = 0;
  return t;
}

void Accelerator::effective(int64_t layer, int64_t group, uint64_t draw, std::vector<float>& out, bool with_adc,
                            int64_t* bm_reruns) const {
  const auto& t = m_wl.layers.at(layer).gemms.at(group);
  const int64_t kk = m_wl.spec.block_size * m_wl.spec.block_size, k = m_wl.spec.block_size;
  std::vector<float> scale(static_cast<size_t>(t.P * t.Q));
  out.resize(t.blocks.size());
  m_tech->realize(layer, group, draw, out.data(), scale.data());
  if (with_adc && !m_cfg.io.adc.ideal()) {
    // Identity probes: output column j of a block is its effective column j, through the ADC.
    RandomStream rng = RandomStream(m_cfg.seed, 0x5e)
                           .derive(2)
                           .derive(draw)
                           .derive(static_cast<uint64_t>(layer) << 20 | static_cast<uint64_t>(group));
    const ConverterSpec &adc = m_cfg.io.adc, &dac = m_cfg.io.dac;
    // Bound management (docs/pcm_drift_compensation.md §2): a probe is a one-hot input, so its
    // partial sums are the column itself; when one (with its noise) converts past the bound, the
    // column is read again with the input DAC(1 / f) and fresh ADC noise (stream round r), until
    // it fits or f passes max_bm_factor or max_bm_res / DAC step (HardwareGemm::bound_rerun's loop).
    const bool bm = bm_reruns && m_cfg.io.bound_managed();
    const float edge = bm ? adc.clip_edge() : 0.0f;  // once per layer group, only when needed
    const double res = dac.step();
    std::vector<float> col(static_cast<size_t>(k)), w(static_cast<size_t>(k));
    for (int64_t b = 0; b < t.P * t.Q; ++b) {
      const int64_t real = std::min<int64_t>(k, t.rows - (b / t.Q) * k);  // the block's rows that hold a layer row
      for (int64_t j = 0; j < k; ++j) {
        for (int64_t i = 0; i < k; ++i) w[i] = col[i] = out[b * kk + i * k + j];
        const uint64_t first = static_cast<uint64_t>((b * k + j) * k);
        const auto clips = [&]() {
          for (int64_t i = 0; i < real; ++i)
            if (std::abs(col[i]) > edge) return true;
          return false;
        };
        if (!bm) {
          convert(adc, col.data(), k, rng, first);
        } else {
          for (int64_t i = 0; i < k; ++i)
            if (adc.noise_std > 0) col[i] += static_cast<float>(adc.noise_std * rng.normal(first + static_cast<uint64_t>(i)));
          bool clipped = clips();
          quantize(adc, col.data(), k);
          double f = 1;
          for (uint64_t round = 1; clipped && !(f > m_cfg.io.max_bm_factor) && !(res > 0 && f > m_cfg.io.max_bm_res / res);
               ++round) {
            f *= 2;
            ++*bm_reruns;
            float x = static_cast<float>(1.0 / f);
            quantize(dac, &x, 1);
            const RandomStream again = rng.derive(round);
            for (int64_t i = 0; i < k; ++i) {
              col[i] = w[i] * x;
              if (adc.noise_std > 0) col[i] += static_cast<float>(adc.noise_std * again.normal(first + static_cast<uint64_t>(i)));
            }
            clipped = clips();
            quantize(adc, col.data(), k);
            for (int64_t i = 0; i < k; ++i) col[i] *= static_cast<float>(f);
          }
        }
        for (int64_t i = 0; i < k; ++i) out[b * kk + i * k + j] = col[i];
      }
    }
  }
  const std::vector<float>& rs = m_tech->row_scales(layer, group);
  for (int64_t b = 0; b < t.P * t.Q; ++b)
    for (int64_t i = 0; i < kk; ++i) out[b * kk + i] *= rs.empty() ? scale[b] : scale[b] * rs[b * k + i / k];
}

void Accelerator::push_row_scales(int64_t layer, int64_t group) {
  const std::vector<float>& rs = m_tech->row_scales(layer, group);
  if (!rs.empty() && m_tech->mapped_gemm())
    throw Error("device " + m_tech->name() + ": per-output mapping scales are not supported by its own GEMM");
  if (rs.empty() && !m_had_row_scales) return;  // the default: no mapping scales, nothing to push
  m_had_row_scales = true;
  m_gemm->set_row_scales(layer, group, rs);
}

void Accelerator::run_batch(const models::Dataset& d, const models::Preprocess& p, const std::vector<int64_t>& images,
                            size_t first, size_t count, models::Executor& ex, std::vector<int>& pred) {
  thread_local models::Tensor in, one;
  const int64_t sz = d.image_size();
  in.reshape_storage(models::DType::f32, {static_cast<int64_t>(count), d.channels, d.height, d.width});
  for (size_t i = 0; i < count; ++i) {
    int64_t img = images[first + i];
    if (img < 0 || img >= d.count) throw Error("image " + std::to_string(img) + " out of range of " + d.name);
    models::fill_batch(d, p, img, 1, one);
    std::copy(one.f.begin(), one.f.end(), in.f.begin() + static_cast<int64_t>(i) * sz);
  }
  const models::Tensor& out = ex.run(in);
  if (out.dtype != models::DType::f32 || out.rank() != 2 || out.shape[0] != static_cast<int64_t>(count))
    throw Error("model output " + models::shape_str(out.shape) + " is not [batch, classes] logits");
  const int64_t classes = out.shape[1];
  for (size_t s = 0; s < count; ++s) {
    const float* row = out.f.data() + static_cast<int64_t>(s) * classes;
    int64_t best = 0;
    for (int64_t c = 1; c < classes; ++c)
      if (row[c] > row[best]) best = c;
    pred[first + s] = static_cast<int>(best);
  }
}

void Accelerator::prepare_draws(uint64_t draw_base, const std::vector<NoiseTime>& times) {
  m_tech->set_times(draw_base, times);
  m_gemm->set_draw_base(draw_base);
  m_gemm->prepare_batch();
}

models::MappedGemm& Accelerator::training_forward(const std::vector<NoiseTime>& times, uint64_t draw_base) {
  prepare_draws(draw_base, times);
  if (models::MappedGemm* own = m_tech->mapped_gemm()) return *own;
  return *m_gemm;
}

std::unique_ptr<ChipBackwardGemm> Accelerator::training_backward(const RandomStream& stream) {
  if (std::unique_ptr<ChipBackwardGemm> own = m_tech->backward_gemm(stream)) return own;
  if (m_tech->mapped_gemm())
    throw Error("on-chip training on the chip's arithmetic: device '" + m_tech->name() +
                "' has its own GEMM but no backward arithmetic");
  return std::make_unique<ChipBackwardGemm>(m_cfg.io, m_wl.spec.block_size, stream);
}

void Accelerator::classify(const models::Dataset& d, const models::Preprocess& p, const std::vector<int64_t>& images,
                           const std::vector<NoiseTime>& times, uint64_t draw_base, std::vector<int>& pred, bool stoppable) {
  if (times.size() != images.size()) throw Error("classify: one noise instant per image required");
  pred.assign(images.size(), -1);
  const int64_t bm_before = m_gemm->bound_reruns();
  // The technology may cut its GEMM short on a stop request during a stoppable classification
  // only (its batch is dropped below); training and probes run their products whole.
  struct StopScope {
    Technology& tech;
    StopScope(Technology& t, const std::atomic<bool>* stop) : tech(t) { tech.set_stop_flag(stop); }
    ~StopScope() { tech.set_stop_flag(nullptr); }
  } stop_scope(*m_tech, stoppable ? m_stop : nullptr);
  size_t first = 0;
  for (; first < images.size(); first += kBatch) {
    if (stoppable && m_stop && m_stop->load()) break;  // a stop request: the rest stay -1 (flush() drops them)
    size_t count = std::min<size_t>(kBatch, images.size() - first);
    std::vector<NoiseTime> tt(times.begin() + static_cast<int64_t>(first), times.begin() + static_cast<int64_t>(first + count));
    prepare_draws(draw_base + first, tt);
    run_batch(d, p, images, first, count, *m_exec, pred);
    // A stop request during the batch: a technology may have cut its GEMM short (RNS decoding),
    // so the batch is not classified (its images stay -1 and uncounted).
    if (stoppable && m_stop && m_stop->load()) {
      std::fill(pred.begin() + static_cast<int64_t>(first), pred.begin() + static_cast<int64_t>(first + count), -1);
      break;
    }
  }
  if (m_copy) m_copy_bm_reruns += m_gemm->bound_reruns() - bm_before;
  m_inferences += static_cast<int64_t>(std::min(first, images.size()));
}

void Accelerator::release_buffers() {
  m_exec->release();
  m_exec_ideal->release();
}

void Accelerator::classify_ideal(const models::Dataset& d, const models::Preprocess& p, const std::vector<int64_t>& images,
                                 std::vector<int>& pred) {
  pred.assign(images.size(), -1);
  // The ideal reference runs rarely (once per run): it does not keep its buffers, nor does the
  // hardware executor keep its own while the reference runs (peak memory = the larger of the two).
  m_exec->release();
  for (size_t first = 0; first < images.size(); first += kBatch) {
    if (m_stop && m_stop->load()) break;  // a stop request: the rest stay -1 (the caller drops the reference)
    run_batch(d, p, images, first, std::min<size_t>(kBatch, images.size() - first), *m_exec_ideal, pred);
  }
  m_exec_ideal->release();
}

bool Accelerator::select_instance(int64_t k) {
  m_copy = k != 0;
  m_tech->set_measuring_copy(m_copy);
  // The thermal field's static ring offsets are per chip too: instance k's, pushed to the rings at
  // the last thermal update (the evaluation's instant).
  if (m_thermal && m_thermal->field().ring_offsets_drawn() && k != m_thermal_instance) {
    m_thermal->select_instance(k);
    m_thermal_instance = k;
    push_ring_temperatures(m_thermal_now_s);
  }
  if (k == m_instance) return true;
  const int64_t from = m_instance;
  if (!m_tech->select_instance(k)) return false;
  m_instance = k;
  const size_t layers = m_wl.layers.size();
  if (m_inst_gains.size() <= static_cast<size_t>(std::max(k, from)))
    m_inst_gains.resize(static_cast<size_t>(std::max(k, from)) + 1);
  InstanceGains& was = m_inst_gains[static_cast<size_t>(from)];
  was.set = true;
  was.out.resize(layers);
  was.block.resize(layers);
  for (size_t l = 0; l < layers; ++l) {
    was.out[l] = m_gemm->gain(static_cast<int64_t>(l));
    was.block[l].resize(m_wl.layers[l].gemms.size());
    for (size_t g = 0; g < m_wl.layers[l].gemms.size(); ++g)
      was.block[l][g] = m_gemm->block_gains(static_cast<int64_t>(l), static_cast<int64_t>(g));
  }
  const InstanceGains& to = m_inst_gains[static_cast<size_t>(k)].set ? m_inst_gains[static_cast<size_t>(k)] : m_inst_gains[0];
  if (!to.set) return true;  // instance 0 never saved: nothing was compensated yet
  for (size_t l = 0; l < layers; ++l) {
    m_gemm->set_gain(static_cast<int64_t>(l), to.out[l]);
    for (size_t g = 0; g < to.block[l].size(); ++g)
      if (!to.block[l][g].empty() || !m_gemm->block_gains(static_cast<int64_t>(l), static_cast<int64_t>(g)).empty())
        m_gemm->set_block_gains(static_cast<int64_t>(l), static_cast<int64_t>(g), to.block[l][g]);
  }
  return true;
}

int64_t Accelerator::recomputations_made() const {
  return m_tech->recomputations() + m_gemm->bound_reruns() - m_copy_bm_reruns;
}

bool Accelerator::recomputes() const {
  return m_tech->recomputes() || m_cfg.io.bound_managed();
}

bool Accelerator::keeps_recomputation_books() const {
  return !m_tech->counters().empty() || m_cfg.io.bound_managed();
}

double Accelerator::recomputation_energy_j() const {
  const double c = static_cast<double>(cores()), k = static_cast<double>(m_wl.spec.block_size);
  const double adcs = static_cast<double>(std::max<size_t>(1, m_tech->output_adc_bits().size()));
  const double dac_extra = std::max(0.0, k - static_cast<double>(m_dac->per_cycle()) / c);
  const double adc_extra = std::max(0.0, k * adcs - static_cast<double>(m_adc->per_cycle()) / c);
  return m_cycle_j / c + (dac_extra * m_dac->pj_per_conversion() + adc_extra * m_adc->pj_per_conversion()) * 1e-12;
}

double Accelerator::recompute_books(int64_t n) {
  if (n <= 0) return 0.0;
  // One recomputation re-runs one block for one input vector: one array cycle of one core; the
  // cores recompute in parallel, so n of them take ceil(n / cores) cycles of the array.
  const int64_t cyc = (n + cores() - 1) / cores();
  const double t = static_cast<double>(cyc) * cycle_s(), e = static_cast<double>(n) * recomputation_energy_j();
  charge(t, e);
  // Its conversions, counted by the converter banks (their energy is part of e, as an array
  // cycle's is part of the cycle energy): the core's k input DACs and its k outputs' ADCs (one per
  // modulus channel each); recomputation_energy_j() prices exactly these.
  const int64_t k = m_wl.spec.block_size;
  const int64_t adcs = std::max<int64_t>(1, static_cast<int64_t>(m_tech->output_adc_bits().size()));
  m_dac->convert(n * k);
  m_adc->convert(n * k * adcs);
  m_recomputations += n;
  m_recompute_cycles += cyc;
  m_recompute_s += t;
  m_recompute_j += e;
  return t;
}

void Accelerator::charge_recomputations(int64_t n) {
  const double t = recompute_books(n);
  if (t > 0) m_free_at = std::max(m_free_at, sim_now_s()) + t;
}

void Accelerator::set_output_gain(int64_t layer, double alpha) {
  if (m_tech->mapped_gemm() && alpha != 1.0)
    throw Error("device " + m_tech->name() + ": digital output gains (drift compensation) are not supported by its own GEMM");
  m_gemm->set_gain(layer, alpha);
}
void Accelerator::set_block_gains(int64_t layer, int64_t group, std::vector<float> gains) {
  if (m_tech->mapped_gemm() && !gains.empty())
    throw Error("device " + m_tech->name() + ": digital block gains (drift compensation) are not supported by its own GEMM");
  m_gemm->set_block_gains(layer, group, std::move(gains));
}
const std::vector<float>& Accelerator::block_gains(int64_t layer, int64_t group) const {
  return m_gemm->block_gains(layer, group);
}
double Accelerator::output_gain(int64_t layer) const {
  return m_gemm->gain(layer);
}

nlohmann::json Accelerator::stats() const {
  nlohmann::json j = {{"device", m_tech->name()},
                      {"busy", stat(m_busy_s, "s")},
                      {"energy", stat(total_energy_j(), "J")},
                      {"inference_energy_total", stat(inference_energy_j(), "J")},
                      {"other_energy", stat(m_energy_j, "J")},
                      {"inferences_served", stat(static_cast<double>(m_served), "inferences")},
                      {"remediation_steps", stat(static_cast<double>(m_extra_steps), "steps")},
                      {"device_writes", stat(static_cast<double>(m_initial_writes + writes_after_deployment()), "writes")},
                      {"writes_initial_programming", stat(static_cast<double>(m_initial_writes), "writes")},
                      {"writes_after_deployment", stat(static_cast<double>(writes_after_deployment()), "writes")},
                      {"images_classified", stat(static_cast<double>(m_inferences), "images")},
                      {"inference_latency", stat(m_cost.latency_s, "s")},
                      {"inference_energy", stat(m_cost.total_j, "J")},
                      {"cycles_per_inference", stat(static_cast<double>(m_wl.cycles_per_inference), "cycles")},
                      {"energy_per_cycle", stat(m_cycle_j, "J")}};  // the tensor cores nest themselves (hw::collect_stats)
  if (m_stream) j["streaming"] = streaming_stats();
  if (m_verify.calls > 0)
    j["write_verify"] = {{"weights_verified", stat(static_cast<double>(m_verify.weights), "weights")},
                         {"reads", stat(static_cast<double>(m_verify.reads), "reads")},
                         {"writes", stat(static_cast<double>(m_verify.writes), "writes")},
                         {"unconverged", stat(static_cast<double>(m_verify.unconverged), "weights")},
                         {"block_loads", stat(static_cast<double>(m_verify.block_loads), "settles")},
                         {"time", stat(m_verify.time_s, "s")},
                         {"energy", stat(m_verify.energy_j, "J")},
                         {"initial_programming_time", stat(initial_programming_s(), "s")},
                         {"initial_programming_energy", stat(initial_programming_j(), "J")}};
  for (const auto& [k, v] : m_tech->counters()) j[k] = stat(static_cast<double>(v), "events");
  if (!m_tech->output_adc_bits().empty())
    j["adcs_per_output"] = stat(static_cast<double>(m_tech->output_adc_bits().size()), "ADCs");
  if (const nlohmann::json r = m_tech->resolved(); !r.is_null()) j["device_resolved"] = r;
  if (m_cfg.io.bound_managed())
    j["bound_management_reruns"] = stat(static_cast<double>(m_gemm->bound_reruns() - m_copy_bm_reruns), "recomputations");
  if (keeps_recomputation_books()) {
    j["recomputations"] = stat(static_cast<double>(m_recomputations), "recomputations");
    j["recomputation_cycles"] = stat(static_cast<double>(m_recompute_cycles), "cycles");
    j["recomputation_time"] = stat(m_recompute_s, "s");
    j["recomputation_energy"] = stat(m_recompute_j, "J");
    j["energy_per_recomputation"] = stat(recomputation_energy_j(), "J");
    if (!m_tech->counters().empty()) j["device_layers"] = m_tech->layer_counters();
  }
  return j;
}

}  // namespace ptc::hw
