// The accelerator's thermal field as a SystemC module (docs/noise.md §5, §7).
// Contract:
// - Wraps hw::ThermalField (closed form in time: ambient daily cycle + Ornstein-Uhlenbeck
//   fluctuation + per-core self-heating + static ring offsets), evaluated at query instants only:
//   the module has no process and adds no events.
// - Self-heating is driven by the array's busy intervals (add_busy: booked service, an action's
//   occupation; overlapping and touching ones merge, u = 1 inside them, 0 outside) and integrated
//   exactly over them, one idle gap and one busy interval at a time. Every core starts cold and
//   heats alike. H at a segment boundary is computed by the same operations whoever asks and
//   whenever: it is a function of the busy intervals alone, to the bit, so reading the field (a
//   trace row, a sensor read) changes nothing downstream. advance(now) commits the intervals that
//   end more than 1 ns before now (a booking made from now on starts at or after the kernel's
//   time, up to its 1-ns rounding, so they are final) and sets the field's state to H(now); core_k(c, t) at a later t walks on
//   from the committed boundary through the intervals booked up to t (service booked ahead of the kernel's time), without
//   committing.
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
  // One RC step over a segment of length dt, idle (u = 0) or busy (u = 1).
  double step(double h, double dt_s, bool busy) const;
  // H(t) for t >= x, walked from (x, h), a segment boundary at or after the committed one and H
  // there: (x, h) move on to the last boundary by t (whole segments only). peak: the largest H at
  // a busy interval's end by t, or at t inside one.
  double heat_at(double& x, double& h, double t_s, double* peak) const;

  ThermalField m_field;
  double m_t_s = 0, m_h = 0;                     // committed: the end of the last committed busy interval and H there
  double m_now_s = 0;                            // the last advance()'s instant (the field's state is H there)
  std::deque<std::pair<double, double>> m_busy;  // busy [a, b) not committed: sorted, apart (touching ones merged)
  mutable double m_ahead_t = -1, m_ahead_h = 0;  // core_k's walk: a boundary in [m_t_s, last t asked] and H there
  uint64_t m_reads = 0;
  double m_peak_committed_k = 0, m_peak_heating_k = 0;  // largest H: at committed interval ends / up to m_now_s
};

}  // namespace ptc::hw
