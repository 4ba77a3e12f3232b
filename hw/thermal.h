// The accelerator's thermal field as a SystemC module (docs/noise.md §5, §7).
// Contract:
// - Wraps hw::ThermalField (closed form in time: ambient daily cycle + Ornstein-Uhlenbeck
//   fluctuation + per-core self-heating + static ring offsets), evaluated at query instants only:
//   the module has no process and adds no events.
// - Self-heating is driven by the array's busy intervals (add_busy: booked service, an action's
//   occupation; overlapping ones merge, u = 1 inside them, 0 outside) and integrated exactly over
//   them, segment by segment, so it does not depend on when the field is asked (up to rounding:
//   the state is committed where advance() was called). advance(now)
//   commits the integration up to now (the kernel's time: later intervals start at or after it);
//   core_k(c, t) at a later t carries the committed state through the intervals booked up to t
//   (service booked ahead of the kernel's time), without committing.
// - Sensors are reads through ThermalIf: every sensor_mean_k() call is a new, independent reading
//   (its own noise draw), so a value that fires a trigger must be passed on, not re-read.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <systemc>
#include <utility>

#include "hw/noise/thermal_field.h"
#include "hw/stats.h"

namespace ptc::hw {

class ThermalIf : public virtual sc_core::sc_interface {
 public:
  virtual void add_busy(double a_s, double b_s) = 0;
  virtual void advance(double now_s) = 0;
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

  void add_busy(double a_s, double b_s) override;
  void advance(double now_s) override;
  double core_k(int64_t core, double t_s) const override;
  double ring_offset_k(int64_t core, int64_t ring) const override { return m_field.ring_offset_k(core, ring); }
  double mean_k(double t_s) const override;
  double sensor_mean_k(double t_s) override;
  int64_t cores() const override { return m_field.cores(); }
  const ThermalField& field() const { return m_field; }
  void select_instance(int64_t k) { m_field.select_instance(k); }
  nlohmann::json stats() const override;

 private:
  // The RC over [from, to), segment by segment (idle gaps, busy intervals): H = H(from) decay +
  // gain; peak: the largest H(from) decay + gain at the end of a busy segment, for H(from) =
  // h_max. whole: only the segments that end by `to`. Returns where it stopped.
  double walk(double from, double to, double& decay, double& gain, double h_max, double* peak, bool whole) const;

  ThermalField m_field;
  double m_t_s = 0;                                    // committed instant
  std::deque<std::pair<double, double>> m_busy;        // busy [a, b) not yet committed: disjoint, apart, sorted
  mutable double m_ahead_t = -1;                       // core_k's carry beyond m_t_s: to m_ahead_t ...
  mutable double m_ahead_decay = 1, m_ahead_gain = 0;  // ... H = H(m_t_s) decay + gain
  uint64_t m_reads = 0;
  double m_peak_heating_k = 0;
};

}  // namespace ptc::hw
