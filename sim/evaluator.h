// sim::Evaluator: accuracy. Served mode: counts the predictions of served requests the chip
// delivers (ServedSinkIf) per trace window and overall. Scheduled mode (aihwkit style): at each
// accuracy.times_s instant (its own process, rank 2, after the controller's and monitor's
// activities of that instant, without waiting for booked inference service), the policy's
// on_evaluation hook runs, then accuracy.images test images are classified `instances` times
// with independent read draws at (step, t); a trace row records mean, std and images.
#pragma once

#include <systemc>

#include "hw/accelerator.h"
#include "hw/stats.h"
#include "sim/agenda.h"
#include "sim/recorder.h"
#include "sim/run_context.h"

namespace ptc::sim {

class Controller;

class Evaluator : public sc_core::sc_module, public hw::ServedSinkIf, public hw::StatsProvider {
 public:
  SC_HAS_PROCESS(Evaluator);
  sc_core::sc_export<hw::ServedSinkIf> served_in;
  Evaluator(sc_core::sc_module_name name, const RunContext& c, hw::Accelerator& acc, Agenda& agenda, Recorder& rec,
            Controller& ctl);

  void served(const std::vector<int64_t>& images, const std::vector<int>& pred) override;
  // Accuracy of the served requests since the last call (n: how many); NaN when none.
  double take_window(int64_t& n);
  double served_accuracy() const { return m_total ? double(m_correct) / double(m_total) : NAN; }
  // Served requests classified so far, and how many of them correctly.
  int64_t served_correct() const { return m_correct; }
  int64_t served_classified() const { return m_total; }
  // The reference: the same images with ideal weights (after the simulation).
  void compute_ideal(const std::vector<int64_t>& served_images);
  double ideal_accuracy() const { return m_ideal; }
  // A run stopped while the reference was computed reports none (accuracy_ideal null).
  void drop_ideal() { m_ideal = m_ideal_all = NAN; }
  // Over every image compute_ideal classified (a fleet's summary: all chips' served images).
  double ideal_accuracy_all() const { return m_ideal_all; }
  // A fleet's chips share chip 0's ideal network (it does not depend on the chip): each chip's
  // reference is its own images' share of what compute_ideal found correct (served mode), or the
  // same images' (scheduled).
  void set_ideal_from(const Evaluator& ref, const std::vector<int64_t>& images);
  // For the progress ETA only (never in outputs): scheduled evaluations done, their wall time.
  int64_t evaluations_done() const { return m_evals; }
  double evaluation_wall_s() const { return m_eval_wall_s; }
  nlohmann::json stats() const override;

 private:
  void run();
  void evaluate(double scheduled_s);  // the evaluation scheduled at scheduled_s (it may start later)
  const RunContext& m_c;
  hw::Accelerator& m_acc;
  Agenda& m_agenda;
  Recorder& m_rec;
  Controller& m_ctl;
  int m_id = -1;
  int64_t m_win_correct = 0, m_win_count = 0, m_correct = 0, m_total = 0, m_evals = 0, m_eval_images = 0;
  double m_ideal = NAN, m_ideal_all = NAN, m_eval_wall_s = 0;
  std::vector<signed char> m_ideal_correct;  // per test image: 1 / 0 as compute_ideal classified it, -1 not classified
};

}  // namespace ptc::sim
