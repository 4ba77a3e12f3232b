// A policy plug-in whose hook fails: at its first timer (every `every_requests` requests) it throws
// a std::runtime_error, or with `non_standard` an int. ptcsim must report one error line naming the
// policy, its library, the hook and the simulated time, and leave a failed run.json. With
// `allocate_gib` > 0 it asks for that much memory instead: an amount no machine has ends in
// std::bad_alloc, which ptcsim reports as its out-of-memory error naming the run's scale. With
// `message_file` the thrown message is that file's first line: a file parameter, which resolves
// against the scenario's base_dir (Params::file) as a device's does. `throw_in` moves the throw
// from on_timer to one of the questions ptcsim asks a policy before it runs (capabilities_needed,
// timer_interval_s) or to its factory: those errors name the policy and the hook too.
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/policy/policy.h"

namespace {
using ptc::sim::Actions;
using ptc::sim::Params;
using ptc::sim::Policy;

class Throws : public Policy {
 public:
  explicit Throws(Params& p)
      : m_every(p.integer("every_requests")),
        m_non_standard(p.flag("non_standard")),
        m_gib(p.num("allocate_gib")),
        m_throw_in(p.str("throw_in")) {
    if (m_throw_in == "factory") throw std::runtime_error(m_message);
    if (p.str("message_file").empty()) return;
    const std::string f = p.file("message_file");
    std::ifstream in(f);
    if (!in || !std::getline(in, m_message)) throw std::runtime_error(p.path_of("message_file") + ": cannot read \"" + f + "\"");
  }
  int64_t timer_interval_requests() const override { return m_every; }
  double timer_interval_s() const override {
    if (m_throw_in == "timer_interval_s") throw std::runtime_error(m_message);
    return 0;
  }
  std::vector<std::string> capabilities_needed() const override {
    if (m_throw_in == "capabilities_needed") throw std::runtime_error(m_message);
    return {};
  }
  void on_timer(Actions&) override {
    if (m_gib > 0) {
      std::unique_ptr<char[]> block(new char[static_cast<size_t>(m_gib * 1073741824.0)]);
      block[0] = 1;
      return;
    }
    if (m_non_standard) throw 42;
    throw std::runtime_error(m_message);
  }

 private:
  int64_t m_every;
  bool m_non_standard;
  double m_gib;
  std::string m_throw_in;
  std::string m_message = "the budget file went missing";
};

const ptc::sim::Registrar<Policy> reg{{"test_throwing_policy",
                                       "test plug-in: throws from on_timer",
                                       {{"every_requests", "requests", 50, "timer interval", 1, 1e9},
                                        {"non_standard", "", false, "throw an int instead of a std::exception"},
                                        {"allocate_gib", "GiB", 0.0, "allocate this much instead of throwing", 0, 1e9},
                                        {"message_file", "", "", "throw this file's first line (relative to base_dir)"},
                                        {"throw_in",
                                         "",
                                         "on_timer",
                                         "the hook that throws",
                                         -1e300,
                                         1e300,
                                         {"on_timer", "timer_interval_s", "capabilities_needed", "factory"}}},
                                       [](Params& p) { return std::make_unique<Throws>(p); }}};
}  // namespace
