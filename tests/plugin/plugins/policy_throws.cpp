// A policy plug-in whose hook fails: at its first timer (every `every_requests` requests) it throws
// a std::runtime_error, or with `non_standard` an int. ptcsim must report one error line naming the
// policy, its library, the hook and the simulated time, and leave a failed run.json. With
// `allocate_gib` > 0 it asks for that much memory instead: an amount no machine has ends in
// std::bad_alloc, which ptcsim reports as its out-of-memory error naming the run's scale. With
// `message_file` the thrown message is that file's first line: a file parameter, which resolves
// against the scenario's base_dir (Params::file) as a device's does.
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>

#include "sim/policy/policy.h"

namespace {
using ptc::sim::Actions;
using ptc::sim::Params;
using ptc::sim::Policy;

class Throws : public Policy {
 public:
  explicit Throws(Params& p)
      : m_every(p.integer("every_requests")), m_non_standard(p.flag("non_standard")), m_gib(p.num("allocate_gib")) {
    if (p.str("message_file").empty()) return;
    const std::string f = p.file("message_file");
    std::ifstream in(f);
    if (!in || !std::getline(in, m_message)) throw std::runtime_error(p.path_of("message_file") + ": cannot read \"" + f + "\"");
  }
  int64_t timer_interval_requests() const override { return m_every; }
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
  std::string m_message = "the budget file went missing";
};

const ptc::sim::Registrar<Policy> reg{{"test_throwing_policy",
                                       "test plug-in: throws from on_timer",
                                       {{"every_requests", "requests", 50, "timer interval", 1, 1e9},
                                        {"non_standard", "", false, "throw an int instead of a std::exception"},
                                        {"allocate_gib", "GiB", 0.0, "allocate this much instead of throwing", 0, 1e9},
                                        {"message_file", "", "", "throw this file's first line (relative to base_dir)"}},
                                       [](Params& p) { return std::make_unique<Throws>(p); }}};
}  // namespace
