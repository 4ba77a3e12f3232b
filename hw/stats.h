// Statistics of SystemC modules (stats belong to modules, with units; docs/architecture.md §3).
// Contract: a module that keeps statistics also derives from StatsProvider; stats() returns a JSON
// object whose leaves are {"value": number, "unit": "..."} (or plain strings for names). The
// exporter (collect_stats) walks the SystemC object hierarchy and nests every provider's stats
// under its basename, children inside their parent; modules without statistics are skipped but
// their children are still visited. Reading stats takes no simulated time.
#pragma once

#include <nlohmann/json.hpp>
#include <systemc>

namespace ptc::hw {

class StatsProvider {
 public:
  virtual ~StatsProvider() = default;
  virtual nlohmann::json stats() const = 0;
};

// Nested statistics of every top-level SystemC object and its descendants.
inline nlohmann::json collect_stats(const std::vector<sc_core::sc_object*>& objects) {
  nlohmann::json out = nlohmann::json::object();
  for (sc_core::sc_object* o : objects) {
    nlohmann::json node = nlohmann::json::object();
    if (const auto* p = dynamic_cast<const StatsProvider*>(o)) node = p->stats();
    nlohmann::json kids = collect_stats(o->get_child_objects());
    for (auto it = kids.begin(); it != kids.end(); ++it) node[it.key()] = it.value();
    if (!node.empty()) out[o->basename()] = node;
  }
  return out;
}
inline nlohmann::json collect_stats() {
  return collect_stats(sc_core::sc_get_top_level_objects());
}

}  // namespace ptc::hw
