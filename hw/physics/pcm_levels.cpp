#include "hw/physics/pcm_levels.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>

#include "models/error.h"

namespace ptc::hw {
namespace {

void check_level(const PcmLevelSpec& spec, int signed_level, const char* what, size_t index) {
  if (std::abs(signed_level) > spec.zero_level())
    throw Error(std::string("pcm write_cost: ") + what + "[" + std::to_string(index) + "] = " + std::to_string(signed_level) +
                " outside [-" + std::to_string(spec.zero_level()) + ", " + std::to_string(spec.zero_level()) + "]");
}

}  // namespace

double PcmLevelSpec::t_min() const {
  return std::pow(beta, levels - 1);
}
double PcmLevelSpec::step_db() const {
  return -10.0 * std::log10(beta);
}

void PcmLevelSpec::validate() const {
  if (levels < 2) throw Error("pcm levels: levels must be >= 2, got " + std::to_string(levels));
  if (!(beta > 0 && beta < 1)) throw Error("pcm levels: beta must be in (0, 1), got " + std::to_string(beta));
  for (double v : {t_up_s, t_down_s, e_up_j, e_down_j})
    if (!(std::isfinite(v) && v >= 0)) throw Error("pcm levels: step times and energies must be finite and >= 0");
}

double transmission(const PcmLevelSpec& spec, int level) {
  if (level < 0 || level > spec.zero_level())
    throw Error("pcm transmission: level " + std::to_string(level) + " outside [0, " + std::to_string(spec.zero_level()) + "]");
  return std::pow(spec.beta, level);
}

int level_of(const PcmLevelSpec& spec, double a) {
  if (!std::isfinite(a)) throw Error("pcm level_of: weight is not finite");
  const double tmin = spec.t_min();
  const double u = std::abs(a) * (1.0 - tmin) + tmin;
  const double x = std::log(u) / std::log(spec.beta);
  const double lo = std::floor(x), hi = std::ceil(x);
  const double d_lo = std::abs(u - std::pow(spec.beta, lo)), d_hi = std::abs(u - std::pow(spec.beta, hi));
  const double l = d_hi < d_lo ? hi : lo;
  return static_cast<int>(std::clamp(l, 0.0, static_cast<double>(spec.zero_level())));
}

int signed_level_of(const PcmLevelSpec& spec, double w_norm) {
  const int mag = spec.zero_level() - level_of(spec, w_norm);
  return w_norm < 0 ? -mag : mag;
}

double level_weight(const PcmLevelSpec& spec, int signed_level) {
  if (std::abs(signed_level) > spec.zero_level())
    throw Error("pcm level_weight: signed level " + std::to_string(signed_level) + " outside [-" +
                std::to_string(spec.zero_level()) + ", " + std::to_string(spec.zero_level()) + "]");
  const double tmin = spec.t_min();
  const double m = (std::pow(spec.beta, spec.zero_level() - std::abs(signed_level)) - tmin) / (1.0 - tmin);
  return signed_level < 0 ? -m : m;
}

QuantizedBlock quantize_block(const PcmLevelSpec& spec, const float* w, int64_t n) {
  spec.validate();
  QuantizedBlock q;
  q.levels.assign(static_cast<size_t>(std::max<int64_t>(n, 0)), 0);
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(w[i])) throw Error("pcm quantize_block: weight " + std::to_string(i) + " is not finite");
    q.tanh_max = std::max(q.tanh_max, std::abs(std::tanh(static_cast<double>(w[i]))));
  }
  if (q.tanh_max == 0) return q;
  for (int64_t i = 0; i < n; ++i)
    q.levels[static_cast<size_t>(i)] = signed_level_of(spec, std::tanh(static_cast<double>(w[i])) / q.tanh_max);
  return q;
}

PcmWriteCost& PcmWriteCost::operator+=(const PcmWriteCost& o) {
  writes += o.writes;
  up_steps += o.up_steps;
  down_steps += o.down_steps;
  max_cell_steps = std::max(max_cell_steps, o.max_cell_steps);
  time_s += o.time_s;
  energy_j += o.energy_j;
  return *this;
}

PcmWriteCost write_cost(const PcmLevelSpec& spec, const std::vector<int>& old_levels, const std::vector<int>& new_levels) {
  spec.validate();
  if (old_levels.size() != new_levels.size())
    throw Error("pcm write_cost: old_levels has " + std::to_string(old_levels.size()) + " cells, new_levels " +
                std::to_string(new_levels.size()));
  PcmWriteCost c;
  double t_max = 0, t_sum = 0;
  for (size_t i = 0; i < old_levels.size(); ++i) {
    check_level(spec, old_levels[i], "old_levels", i);
    check_level(spec, new_levels[i], "new_levels", i);
    // Steps above the zero level of the positive and the negative array.
    const int dp = std::max(new_levels[i], 0) - std::max(old_levels[i], 0);
    const int dn = std::max(-new_levels[i], 0) - std::max(-old_levels[i], 0);
    int64_t cell = 0;
    for (int d : {dp, dn}) {
      const int64_t steps = std::abs(d);
      const double t = steps * (d > 0 ? spec.t_up_s : spec.t_down_s);
      (d > 0 ? c.up_steps : c.down_steps) += steps;
      cell += steps;
      t_max = std::max(t_max, t);
      t_sum += t;
    }
    c.max_cell_steps = std::max(c.max_cell_steps, cell);
  }
  c.writes = c.up_steps + c.down_steps;
  c.energy_j = static_cast<double>(c.up_steps) * spec.e_up_j + static_cast<double>(c.down_steps) * spec.e_down_j;
  c.time_s = spec.schedule == PcmWriteSchedule::parallel_cells ? t_max : t_sum;
  return c;
}

}  // namespace ptc::hw
