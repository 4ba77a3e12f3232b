// The accelerator's thermal field as a SystemC module (docs/noise.md §5, §7).
// Contract:
// - Wraps hw::ThermalField (closed form in time: ambient daily cycle + Ornstein-Uhlenbeck
//   fluctuation + per-core self-heating + static ring offsets), evaluated at query instants only:
//   the module has no process and adds no events.
// - Self-heating is integrated from the owner's cumulative busy time: advance(now, busy_total)
//   applies the utilisation (busy since the last call) / (time since the last call), clamped to
//   [0, 1], to every core's RC over that interval (exact for a constant utilisation).
// - Sensors are reads through ThermalIf: every sensor_mean_k() call is a new, independent reading
//   (its own noise draw), so a value that fires a trigger must be passed on, not re-read.
#pragma once

#include <cstdint>
#include <memory>
#include <systemc>

#include "hw/noise/thermal_field.h"
#include "hw/stats.h"

namespace ptc::hw {

class ThermalIf : public virtual sc_core::sc_interface {
 public:
  virtual void advance(double now_s, double busy_total_s) = 0;
  virtual double core_k(int64_t core, double t_s) const = 0;
  virtual double ring_offset_k(int64_t core, int64_t ring) const = 0;
  virtual double mean_k(double t_s) const = 0;   // mean core temperature (no sensor noise)
  virtual double sensor_mean_k(double t_s) = 0;  // mean of one reading of every core's sensor
  virtual int64_t cores() const = 0;
};

class Thermal : public sc_core::sc_module, public ThermalIf, public StatsProvider {
 public:
  sc_core::sc_export<ThermalIf> io;

  Thermal(sc_core::sc_module_name name, int64_t cores, int64_t rings_per_core, const ThermalFieldParams& p,
          const RandomStream& rng);

  void advance(double now_s, double busy_total_s) override;
  double core_k(int64_t core, double t_s) const override { return m_field.core_k(core, t_s); }
  double ring_offset_k(int64_t core, int64_t ring) const override { return m_field.ring_offset_k(core, ring); }
  double mean_k(double t_s) const override;
  double sensor_mean_k(double t_s) override;
  int64_t cores() const override { return m_field.cores(); }
  const ThermalField& field() const { return m_field; }
  void select_instance(int64_t k) { m_field.select_instance(k); }
  nlohmann::json stats() const override;

 private:
  ThermalField m_field;
  double m_t_s = 0, m_busy_s = 0;
  uint64_t m_reads = 0;
  double m_peak_heating_k = 0;
};

}  // namespace ptc::hw
