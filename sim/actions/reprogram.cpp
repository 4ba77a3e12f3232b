// Full re-programming (docs/doctor.md §7).
#include "models/error.h"
#include "sim/actions/actions.h"

namespace ptc::sim::actions {

int64_t reprogram_all(Env& e, const std::string& reason) {
  hw::Accelerator& acc = e.chip();
  const auto& wl = e.ctx().wl;
  int64_t writes = 0;
  for (size_t l = 0; l < wl.layers.size(); ++l)
    for (size_t g = 0; g < wl.layers[l].gemms.size(); ++g)
      writes += acc.program(static_cast<int64_t>(l), static_cast<int64_t>(g), acc.ideal(l, g), e.now_s());
  // time_s: the array time the action occupies. Non-volatile cells: the write pulses, priced by
  // the accelerator.
  double t_s = e.occupy_writes();
  int64_t cycles = 0;
  if (acc.tech().thermally_coupled()) {
    // Rings: every ring is re-tuned against the current temperature: a full identity-probe
    // read-back of every chunk (k vectors and one settle per chunk), then one settle; one write
    // per ring weight.
    cycles = e.probe_cycles();
    t_s += e.charge_cycles(cycles, wl.chunks, "program");
    t_s += e.occupy_settles(1);
    writes += acc.relock(e.now_s());
  }
  e.log_event("program", {{"reason", reason}, {"writes", writes}, {"cycles", cycles}, {"time_s", t_s}});
  return writes;
}

int64_t recalibrate_rings(Env& e, const std::vector<char>& rings, const std::string& reason) {
  hw::Accelerator& acc = e.chip();
  const auto& wl = e.ctx().wl;
  const int64_t k = wl.spec.block_size, kk = k * k, cores = wl.spec.rows * wl.spec.cols;
  if (static_cast<int64_t>(rings.size()) != cores * kk)
    throw Error("recalibrate_rings: expected a mask of " + std::to_string(cores * kk) + " rings, got " +
                std::to_string(rings.size()));
  // A core with a marked ring is probed as the full re-calibration probes it: every chunk with a
  // block on that core is read back with k identity vectors (one settle each); then one settle.
  std::vector<char> core_marked(static_cast<size_t>(cores), 0);
  int64_t marked = 0;
  for (int64_t r = 0; r < cores * kk; ++r)
    if (rings[static_cast<size_t>(r)]) core_marked[static_cast<size_t>(r / kk)] = 1, ++marked;
  if (marked == 0) return 0;
  int64_t chunks = 0;
  for (const auto& L : wl.layers) {
    std::vector<char> seen(static_cast<size_t>(L.chunks), 0);
    for (const auto& t : L.gemms)
      for (size_t b = 0; b < t.core.size(); ++b)
        if (core_marked[static_cast<size_t>(t.core[b] % cores)] && !seen[static_cast<size_t>(t.chunk[b])])
          seen[static_cast<size_t>(t.chunk[b])] = 1, ++chunks;
  }
  // time_s: the probe and the settles (rings have no write pulses pending).
  double t_s = e.charge_cycles(chunks * k, chunks, "program");
  t_s += e.occupy_settles(1);
  t_s += e.occupy_writes();
  const int64_t writes = acc.relock_rings(e.now_s(), rings);
  Json on = Json::array();  // the cores with a re-tuned ring
  for (int64_t c = 0; c < cores; ++c)
    if (core_marked[static_cast<size_t>(c)]) on.push_back(c);
  e.log_event("program", {{"reason", reason},
                          {"writes", writes},
                          {"rings", marked},
                          {"cores", on},
                          {"chunks_probed", chunks},
                          {"cycles", chunks * k},
                          {"time_s", t_s}});
  return writes;
}

}  // namespace ptc::sim::actions
