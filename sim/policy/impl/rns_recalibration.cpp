// `rns_recalibration`: the RNS chip's policy (docs/rns.md §7). Every interval the policy reads the
// decoder's counters (free: the RRNS decoder counts them) and computes the detected-error rate
// over the words computed since the last check, detected / words; when it exceeds the threshold,
// the channels' phases are re-calibrated against the current temperature (the re-programming
// action: every phase-shifter setting re-written, the lock temperature becomes the current one).
// Drift that shifts every channel alike is invisible to the code (docs/rns.md §7); what the rate
// sees are the differences between channels (static offsets, thermal gradients, per-read noise).
// With scope = channels only the drifting channels are re-calibrated: the decoder locates every
// residue it corrects (the residues that differ from its corrected value's), so each ring's
// corrected-residue rate since the last check is known for free; the rings above `channel_rate`
// are re-tuned, the others keep their lock. When the detected rate is high but no ring stands out
// (errors spread over many channels), the whole chip is re-calibrated.
#include <algorithm>

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
    const std::string scope = p.str("scope");
    if (scope != "all" && scope != "channels") throw Error(p.path() + ".scope: \"" + scope + "\" is not all or channels");
    m_channels = scope == "channels";
    m_channel_rate = p.num("channel_rate");
    m_min_ring_reads = p.integer("min_ring_reads");
    if (m_every_req > 0) m_every_s = 0;  // a request interval replaces the time interval
    if (m_every_s <= 0 && m_every_req <= 0)
      throw Error(p.path() + ": interval_s or interval_requests must be > 0 (the policy would never check)");
  }
  double timer_interval_s() const override { return m_every_s; }
  int64_t timer_interval_requests() const override { return m_every_req; }
  std::vector<std::string> capabilities_needed() const override {
    if (m_channels) return {"error_counters", "channel_counters"};
    return {"error_counters"};
  }
  void on_start(Actions& a) override { snapshot(a); }
  void on_evaluation(Actions& a) override { check(a, "evaluation"); }
  void on_timer(Actions& a) override { check(a, "timer"); }

 private:
  void snapshot_words(Actions& a) {
    const auto c = a.device_counters();
    m_words = counter(c, "rns_words");
    m_detected = counter(c, "rns_detected");
  }
  void snapshot(Actions& a) {
    snapshot_words(a);
    if (m_channels) {
      m_rings = a.ring_observations();
      if (m_rings.reads.empty() || m_rings.reads.size() != m_rings.corrected.size())
        throw Error("policy rns_recalibration: scope channels needs the device's per-ring decoder counts");
    }
  }
  void check(Actions& a, const char* when) {
    const auto c = a.device_counters();
    const int64_t words = counter(c, "rns_words") - m_words, detected = counter(c, "rns_detected") - m_detected;
    if (words < m_min_words) return;  // too few words since the last check for a rate
    const double rate = static_cast<double>(detected) / static_cast<double>(words);
    Json ev = {{"words", words}, {"detected", detected}, {"rate", rate}, {"at", when}};
    if (rate > m_rate && m_channels) {
      // Locate the drifting channels: each ring's corrected residues per read since its last
      // judgement. Rings with too few reads yet are not judged and keep accumulating.
      const hw::RingObservations now = a.ring_observations();
      std::vector<char> mask(now.reads.size(), 0);
      int64_t selected = 0, judged = 0;
      std::vector<char> was_judged(now.reads.size(), 0);
      for (size_t r = 0; r < now.reads.size(); ++r) {
        const int64_t reads = now.reads[r] - m_rings.reads[r], fixed = now.corrected[r] - m_rings.corrected[r];
        if (reads < std::max<int64_t>(m_min_ring_reads, 1)) continue;
        was_judged[r] = 1, ++judged;
        if (static_cast<double>(fixed) > m_channel_rate * static_cast<double>(reads)) mask[r] = 1, ++selected;
      }
      ev["rings_judged"] = judged;
      ev["rings_selected"] = selected;
      a.log_event("rns_error_rate", ev);
      if (judged == 0) return;  // no ring has enough reads yet: keep every baseline, judge later
      if (selected > 0)
        a.recalibrate_rings(mask, "rns detected-error rate " + std::to_string(rate) + ", " + std::to_string(selected) +
                                      " rings above the channel rate");
      else
        a.reprogram_all("rns detected-error rate " + std::to_string(rate) + ", no judged ring above the channel rate");
      // New baselines: every ring after a full re-calibration, else the judged rings.
      const hw::RingObservations after = a.ring_observations();
      for (size_t r = 0; r < after.reads.size(); ++r)
        if (selected == 0 || was_judged[r]) m_rings.reads[r] = after.reads[r], m_rings.corrected[r] = after.corrected[r];
      snapshot_words(a);
      return;
    }
    a.log_event("rns_error_rate", ev);
    if (rate > m_rate) a.reprogram_all("rns detected-error rate " + std::to_string(rate));
    snapshot(a);
  }

  double m_every_s;
  int64_t m_every_req, m_min_words = 0;
  double m_rate;
  int64_t m_words = 0, m_detected = 0;
  bool m_channels = false;
  double m_channel_rate = 0;
  int64_t m_min_ring_reads = 0;
  hw::RingObservations m_rings;  // at the last check
};

const Registrar<Policy> reg{
    {"rns_recalibration",
     "re-calibrates an RNS chip's channel phases when the decoder's detected-error rate rises",
     {{"interval_s", "s", 3600.0, "check every this many simulated seconds (unless interval_requests is set)", 0, 1e12},
      {"interval_requests", "requests", 0, "check every this many served requests instead (0 = use interval_s)", 0, 1e15},
      {"detected_rate", "", 1e-5, "re-calibrate when detected words / words computed since the last check exceed this", 0, 1},
      {"min_words", "words", 1000000, "words needed since the last check before a rate is judged", 0, 1e15},
      {"scope",
       "",
       "all",
       "all: re-calibrate every channel when the rate is exceeded; channels: only the rings whose corrected-residue rate "
       "exceeds channel_rate (the decoder locates corrected residues; needs >= 2 redundant moduli), the whole chip when "
       "none does (docs/rns.md §7)",
       -1e300,
       1e300,
       {"all", "channels"}},
      {"channel_rate", "", 1e-3,
       "scope channels: re-calibrate a ring when residues corrected on it / reads through it since the last check exceed this; "
       "at or below detected_rate / (n + r) the full fallback never fires, above it only clearly drifting rings are "
       "re-tuned (docs/rns.md §7)",
       0, 1},
      {"min_ring_reads", "reads", 10000, "scope channels: reads of a ring needed since the last check before its rate is judged",
       0, 1e15}},
     [](Params& p) { return std::make_unique<RnsRecalibration>(p); }}};

}  // namespace
}  // namespace ptc::sim
