#include "sim/evaluator.h"

#include <chrono>
#include <cmath>
#include <numeric>

#include "sim/controller.h"
#include "sim/sample_stats.h"

namespace ptc::sim {

namespace {
nlohmann::json stat(double v, const char* unit) {
  return {{"value", v}, {"unit", unit}};
}
}  // namespace

Evaluator::Evaluator(sc_core::sc_module_name name, const RunContext& c, hw::Accelerator& acc, Agenda& agenda, Recorder& rec,
                     Controller& ctl)
    : sc_core::sc_module(name), served_in("served_in"), m_c(c), m_acc(acc), m_agenda(agenda), m_rec(rec), m_ctl(ctl) {
  served_in.bind(*this);
  m_id = m_agenda.add("evaluator", ctl.chip_index());
  SC_THREAD(run);
}

void Evaluator::served(const std::vector<int64_t>& images, const std::vector<int>& pred) {
  for (size_t i = 0; i < pred.size(); ++i) {
    const int c = pred[i] == m_c.test.labels[images[i]];
    m_win_correct += c;
    m_correct += c;
  }
  m_win_count += static_cast<int64_t>(pred.size());
  m_total += static_cast<int64_t>(pred.size());
}

double Evaluator::take_window(int64_t& n) {
  n = m_win_count;
  const double a = m_win_count > 0 ? double(m_win_correct) / double(m_win_count) : NAN;
  m_win_correct = m_win_count = 0;
  return a;
}

void Evaluator::run() {
  guarded(m_c, [&] {
    const auto& times = m_c.s.accuracy.times_s;
    if (m_c.s.accuracy.mode != "scheduled" || times.empty()) return m_agenda.clear(m_id);
    for (size_t i = 0; i < times.size() && !m_c.interrupted; ++i) {
      m_agenda.at(m_id, times[i], kNoCount);
      m_agenda.await(m_id);
      if (m_c.interrupted) break;
      settle(kRankEvaluator);
      m_acc.acquire(kRankEvaluator, false);
      if (m_c.interrupted) {  // stopped while waiting for the array: no readout, no evaluation
        m_acc.release();
        break;
      }
      evaluate(times[i]);
      m_acc.release();
    }
    m_agenda.clear(m_id);
  });
}

void Evaluator::evaluate(double scheduled_s) {
  const auto wall0 = std::chrono::steady_clock::now();
  // accuracy.read_draws "scheduled": the compensation readout and the evaluation after it read the
  // chip's realisation of the scheduled instant (aihwkit: drift_analog_weights(t) draws once, then
  // the readout and the forward passes), whatever array time the readout took (NoiseTime::draw_t_s).
  const double draw_s = m_c.s.accuracy.read_draws == "scheduled" ? scheduled_s : -1.0;
  struct DrawInstant {  // set for the policy's evaluation hook and the evaluation, cleared on any exit
    hw::Accelerator& acc;
    DrawInstant(hw::Accelerator& a, double t) : acc(a) { acc.set_draw_instant(t); }
    ~DrawInstant() { acc.set_draw_instant(-1); }
  } draw_instant(m_acc, draw_s);
  // e.g. drift compensation: it takes array time, the evaluation follows it (none once a signal
  // stopped it)
  if (!m_ctl.before_evaluation()) return;
  const double t = now_s();
  m_acc.update_thermal(t);
  const auto& a = m_c.s.accuracy;
  const int64_t n = std::min<int64_t>(a.images, m_c.test.count - a.first_image);
  std::vector<int64_t> imgs(static_cast<size_t>(std::max<int64_t>(n, 0)));
  std::iota(imgs.begin(), imgs.end(), a.first_image);
  std::vector<hw::NoiseTime> times(imgs.size(), hw::NoiseTime{m_acc.step(t), t, draw_s});
  std::vector<double> accs;
  std::vector<int> pred;
  const int64_t recomputed = m_acc.recomputations_made();
  {
    const hw::InstanceScope instance_0(m_acc);  // instance 0 again after the loop, also on an error
    for (int64_t inst = 0; inst < a.instances; ++inst) {
      uint64_t base = (uint64_t{1} << 56) + (static_cast<uint64_t>(m_evals) << 36) + (static_cast<uint64_t>(inst) << 28);
      // Monte-Carlo chips: a device with persistent per-chip draws (PCM) re-draws them for instance
      // inst (hw::Technology::select_instance); others vary through the read draws (base) alone.
      if (a.instances > 1) m_acc.select_instance(inst);
      // Stoppable: a stop request (SIGINT, SIGTERM) ends the evaluation at the next batch of
      // images; a long evaluation (a large accuracy.images, RNS decoding) is not one event that
      // outlasts a scheduler's grace period.
      m_acc.classify(m_c.test, m_c.pre, imgs, times, base, pred, true);
      if (m_c.interrupted) break;
      int64_t c = 0;
      for (size_t i = 0; i < pred.size(); ++i) c += pred[i] == m_c.test.labels[imgs[i]];
      accs.push_back(imgs.empty() ? NAN : double(c) / double(imgs.size()));
      m_eval_images += static_cast<int64_t>(imgs.size());
    }
  }
  // The evaluation's recomputations (RNS retries) are charged as the served requests' are
  // (docs/rns.md §7): a retry the counters count is a retry the books charge.
  m_acc.charge_recomputations(m_acc.recomputations_made() - recomputed);
  if (m_c.interrupted) return;  // stopped part-way: the partial evaluation is not reported
  double mean, sd;
  sample_mean_std(accs, mean, sd);
  ++m_evals;
  m_eval_wall_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  nlohmann::json ev = {{"accuracy", mean}, {"instances", accs.size()}, {"images", imgs.size()}};
  // Monte-Carlo chips: each instance's accuracy, instance 0 (the simulated chip) first; chip by
  // chip comparisons between configurations (docs/devices.md §2.4).
  if (accs.size() > 1) ev["instance_accuracy"] = accs;
  m_rec.log_event("evaluation", ev);
  m_rec.row(mean, sd, static_cast<int64_t>(imgs.size()));
  m_rec.evaluated(mean);
}

void Evaluator::compute_ideal(const std::vector<int64_t>& served_images) {
  std::vector<int64_t> imgs;
  if (m_c.s.accuracy.mode == "served") {
    imgs = served_images;
  } else if (m_c.s.accuracy.mode == "scheduled") {
    for (int64_t i = 0; i < std::min<int64_t>(m_c.s.accuracy.images, m_c.test.count - m_c.s.accuracy.first_image); ++i)
      imgs.push_back(m_c.s.accuracy.first_image + i);
  }
  if (imgs.empty()) return;
  std::vector<int> pred;
  m_acc.classify_ideal(m_c.test, m_c.pre, imgs, pred);
  int64_t c = 0;
  m_ideal_correct.assign(static_cast<size_t>(m_c.test.count), -1);
  for (size_t i = 0; i < pred.size(); ++i) {
    const bool ok = pred[i] == m_c.test.labels[imgs[i]];
    c += ok;
    m_ideal_correct[static_cast<size_t>(imgs[i])] = ok ? 1 : 0;
  }
  m_ideal = m_ideal_all = double(c) / double(imgs.size());
}

void Evaluator::set_ideal_from(const Evaluator& ref, const std::vector<int64_t>& images) {
  m_ideal_all = ref.m_ideal_all;
  if (m_c.s.accuracy.mode != "served") {  // every chip evaluates the same images
    m_ideal = ref.m_ideal_all;
    return;
  }
  int64_t c = 0, n = 0;
  for (int64_t img : images) {
    const signed char v =
        img >= 0 && static_cast<size_t>(img) < ref.m_ideal_correct.size() ? ref.m_ideal_correct[static_cast<size_t>(img)] : -1;
    if (v < 0) throw Error("ideal reference: image " + std::to_string(img) + " was not classified");
    c += v, ++n;
  }
  m_ideal = n ? double(c) / double(n) : NAN;
}

nlohmann::json Evaluator::stats() const {
  return {{"mode", m_c.s.accuracy.mode},
          {"served_images_classified", stat(static_cast<double>(m_total), "images")},
          {"evaluations", stat(static_cast<double>(m_evals), "evaluations")},
          {"evaluation_images_classified", stat(static_cast<double>(m_eval_images), "images")}};
}

}  // namespace ptc::sim
