#include "hw/characterize.h"

#include <algorithm>
#include <cmath>

#include "hw/physics/rng.h"
#include "models/error.h"

namespace ptc::hw {
namespace {

// Streaming mean and standard deviation (Welford), in double.
struct Moments {
  int64_t n = 0;
  double mean = 0, m2 = 0;
  void add(double x) {
    ++n;
    double d = x - mean;
    mean += d / static_cast<double>(n);
    m2 += d * (x - mean);
  }
  double std() const { return n > 1 ? std::sqrt(m2 / static_cast<double>(n - 1)) : 0.0; }
};

void check_samples(int64_t samples) {
  if (samples < 1 || samples > 100000000)
    throw Error("samples: expected integer in [1,100000000], got " + std::to_string(samples));
}

}  // namespace

PcmCharacterization characterize_pcm(const PcmLaw& law, const std::string& device, double g_max_us, double g_target_rel,
                                     const std::vector<double>& times_s, int64_t samples, uint64_t seed, const PcmEffects& fx) {
  check_samples(samples);
  if (!(g_target_rel >= 0 && g_target_rel <= 1))
    throw Error("g_target_rel: expected a number in [0,1], got " + std::to_string(g_target_rel));
  if (times_s.empty()) throw Error("times: at least one time is required");
  for (double t : times_s)
    if (!(t >= 0) || !std::isfinite(t)) throw Error("times: expected times >= 0 s, got " + std::to_string(t));
  if (!(g_max_us > 0) || !std::isfinite(g_max_us))
    throw Error("g_max_us: expected a number > 0, got " + std::to_string(g_max_us));
  check_pcm_law_pure(law, device, g_max_us, fx.programming, fx.drift, fx.read_noise);
  RandomStream root(seed, 0);
  RandomStream prog = root.derive(1), nu_rng = root.derive(2), read = root.derive(3);
  double g_t = g_target_rel * g_max_us;
  std::vector<Moments> mom(times_s.size());
  for (int64_t i = 0; i < samples; ++i) {
    auto idx = static_cast<uint64_t>(i);
    double g_p = fx.programming ? checked_program_us(law, device, g_t, prog.normal(idx)) : g_t;
    double nu = fx.drift ? checked_drift_coefficient(law, device, g_t, nu_rng.normal(idx)) : 0.0;
    for (size_t j = 0; j < times_s.size(); ++j) {
      double g = fx.read_noise ? checked_read_us(law, device, g_p, g_t, nu, times_s[j], read.derive(j).normal(idx), false)
                               : checked_read_us(law, device, g_p, g_t, nu, times_s[j], 0.0, true);
      mom[j].add(g);
    }
  }
  PcmCharacterization r;
  r.times_s = times_s;
  for (const auto& m : mom) {
    r.g_mean_us.push_back(m.mean);
    r.g_std_us.push_back(m.std());
  }
  return r;
}

PcmCharacterization characterize_pcm(const PcmLikeParams& p, double g_target_rel, const std::vector<double>& times_s,
                                     int64_t samples, uint64_t seed, const PcmEffects& fx) {
  return characterize_pcm(PcmLikeLaw(p, fx.q_from_programmed), "pcm", p.g_max_us, g_target_rel, times_s, samples, seed, fx);
}

MrrCharacterization characterize_mrr(const MrrRing& ring, const std::vector<double>& weights, double delta_t_k,
                                     double phase_noise_rad, double phase_per_kelvin, int64_t samples, uint64_t seed) {
  check_samples(samples);
  if (weights.empty()) throw Error("weights: at least one weight is required");
  if (!(phase_noise_rad >= 0)) throw Error("phase_noise_rad: expected a number >= 0");
  if (!std::isfinite(delta_t_k)) throw Error("delta_t_k: expected a finite number");
  MrrCharacterization r;
  r.weights = weights;
  r.phase_per_kelvin = phase_per_kelvin;
  double mx = 0;
  for (double w : weights) mx = std::max(mx, std::abs(w));
  r.scale = mx / mrr_weight_scale(ring);
  RandomStream noise(seed, 0);
  for (size_t i = 0; i < weights.size(); ++i) {
    double phi = mrr_phase_for_weight(ring, r.scale > 0 ? weights[i] / r.scale : 0.0) + delta_t_k * phase_per_kelvin;
    RandomStream s = noise.derive(i);
    Moments m;
    for (int64_t n = 0; n < samples; ++n)
      m.add(mrr_weight(ring, phi + phase_noise_rad * s.normal(static_cast<uint64_t>(n))) * r.scale);
    r.effective_mean.push_back(m.mean);
    r.effective_std.push_back(m.std());
  }
  return r;
}

}  // namespace ptc::hw
