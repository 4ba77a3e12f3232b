// `rns_recalibration`: the RNS chip's policy (docs/rns.md §7). Every interval the policy reads the
// decoder's counters (free: the RRNS decoder counts them) and computes the detected-error rate
// over the words computed since the last check, detected / words; when it exceeds the threshold,
// the channels' phases are re-calibrated against the current temperature (the re-programming
// action: every phase-shifter setting re-written, the lock temperature becomes the current one).
// Drift that shifts every channel alike is invisible to the code (docs/rns.md §7); what the rate
// sees are the differences between channels (static offsets, thermal gradients, per-read noise).
#include "sim/policy/policy.h"

namespace ptc::sim {
namespace {

int64_t counter(const std::vector<std::pair<std::string, int64_t>>& c, const std::string& name) {
  for (const auto& kv : c)
    if (kv.first == name) return kv.second;
  throw Error("policy rns_recalibration: the device does not count " + name);
}

class RnsRecalibration : public Policy {
 public:
  explicit RnsRecalibration(Params& p)
      : m_every_s(p.num("interval_s")), m_every_req(p.integer("interval_requests")), m_rate(p.num("detected_rate")) {
    m_min_words = p.integer("min_words");
    if (m_every_req > 0) m_every_s = 0;  // a request interval replaces the time interval
    if (m_every_s <= 0 && m_every_req <= 0)
      throw Error(p.path() + ": interval_s or interval_requests must be > 0 (the policy would never check)");
  }
  double timer_interval_s() const override { return m_every_s; }
  int64_t timer_interval_requests() const override { return m_every_req; }
  std::vector<std::string> capabilities_needed() const override { return {"error_counters"}; }
  void on_start(Actions& a) override { snapshot(a); }
  void on_evaluation(Actions& a) override { check(a, "evaluation"); }
  void on_timer(Actions& a) override { check(a, "timer"); }

 private:
  void snapshot(Actions& a) {
    const auto c = a.device_counters();
    m_words = counter(c, "rns_words");
    m_detected = counter(c, "rns_detected");
  }
  void check(Actions& a, const char* when) {
    const auto c = a.device_counters();
    const int64_t words = counter(c, "rns_words") - m_words, detected = counter(c, "rns_detected") - m_detected;
    if (words < m_min_words) return;  // too few words since the last check for a rate
    const double rate = static_cast<double>(detected) / static_cast<double>(words);
    a.log_event("rns_error_rate", {{"words", words}, {"detected", detected}, {"rate", rate}, {"at", when}});
    if (rate > m_rate) a.reprogram_all("rns detected-error rate " + std::to_string(rate));
    snapshot(a);
  }

  double m_every_s;
  int64_t m_every_req, m_min_words = 0;
  double m_rate;
  int64_t m_words = 0, m_detected = 0;
};

const Registrar<Policy> reg{
    {"rns_recalibration",
     "re-calibrates an RNS chip's channel phases when the decoder's detected-error rate rises",
     {{"interval_s", "s", 3600.0, "check every this many simulated seconds (unless interval_requests is set)", 0, 1e12},
      {"interval_requests", "requests", 0, "check every this many served requests instead (0 = use interval_s)", 0, 1e15},
      {"detected_rate", "", 1e-5, "re-calibrate when detected words / words computed since the last check exceed this", 0, 1},
      {"min_words", "words", 1000000, "words needed since the last check before a rate is judged", 0, 1e15}},
     [](Params& p) { return std::make_unique<RnsRecalibration>(p); }}};

}  // namespace
}  // namespace ptc::sim
