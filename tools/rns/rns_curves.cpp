// ptc_rns_curves: Monte-Carlo residue-error and RRNS word-outcome rates against the phase noise
// sigma_phi of the residue channels, with their closed forms (docs/rns.md §4-§5), as CSV on
// stdout. tools/rns/plot_rns_curves.py draws docs/figures/rns_error_rates.png from it.
// Usage: ptc_rns_curves [words_per_point] [seed]
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include "hw/physics/rng.h"
#include "hw/rns/rrns.h"

using namespace ptc::hw;
using namespace ptc::hw::rns;

int main(int argc, char** argv) {
  try {
    const int64_t words = argc > 1 ? std::atoll(argv[1]) : 200000;
    const uint64_t seed = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1;
    if (words < 1) throw std::runtime_error("words_per_point must be >= 1");
    const auto base = named_moduli("blueprint_b6");  // Blueprint's 6-bit set {63, 62, 61, 59}
    struct Config {
      int k, retries;
    };
    const std::vector<Config> configs = {{0, 0}, {1, 0}, {1, 3}, {2, 0}, {2, 3}};
    std::printf(
        "sigma_phi_rad,k,retries,words,attempts,residue_errors,detected,corrected,retried,failed,silent,"
        "p_e_m59,p_e_m63,p_e_m67,p_e_mean,p_uncorr\n");
    uint64_t stream_id = 0;
    for (int i = 0; i <= 16; ++i) {
      const double sigma = 0.005 * std::pow(10.0, i / 16.0 * std::log10(12.0));  // 0.005 .. 0.06 rad
      for (const Config& c : configs) {
        const RrnsCode code(base, redundant_moduli(base, c.k));
        const int ch = code.n() + code.k();
        const std::vector<double> sig(ch, sigma);
        std::vector<double> p;
        for (int64_t m : code.moduli()) p.push_back(residue_error_probability(m, sigma));
        const auto d = error_count_distribution(p);
        double p_uncorr = 1, p_mean = 0;
        for (double pi : p) p_mean += pi;
        for (int e = 0; e <= code.correctable(); ++e) p_uncorr -= d[e];
        const RandomStream s(seed, ++stream_id);
        RrnsCounters t;
        const uint64_t stride = static_cast<uint64_t>((c.retries + 1) * ch);
        for (int64_t w = 0; w < words; ++w)
          noisy_word(code, (w * 7919) % code.legit_range() - code.legit_range() / 2, sig, s, static_cast<uint64_t>(w) * stride,
                     c.retries, t);
        std::printf("%.6g,%d,%d,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%.6g,%.6g,%.6g,%.6g,%.6g\n", sigma, c.k, c.retries,
                    static_cast<long long>(t.words), static_cast<long long>(t.attempts), static_cast<long long>(t.residue_errors),
                    static_cast<long long>(t.detected), static_cast<long long>(t.corrected), static_cast<long long>(t.retried),
                    static_cast<long long>(t.failed), static_cast<long long>(t.silent), residue_error_probability(59, sigma),
                    residue_error_probability(63, sigma), residue_error_probability(67, sigma), p_mean / ch, p_uncorr);
      }
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ptc_rns_curves: error: %s\n", e.what());
    return 1;
  }
}
