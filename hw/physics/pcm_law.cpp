#include "hw/physics/pcm_law.h"

#include <cmath>
#include <cstdio>
#include <vector>

#include "models/error.h"

namespace ptc::hw {
namespace {

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.9g", v);
  return b;
}

[[noreturn]] void bad_law(const std::string& device, const char* what, double v, double g_target, double t_inf_s = -1) {
  throw Error("device \"" + device + "\": its PCM law's " + what + " returned " + num(v) + " for target " + num(g_target) +
              " uS" + (t_inf_s >= 0 ? " at " + num(t_inf_s) + " s after programming" : std::string()) +
              " (conductances must be finite and >= 0, drift coefficients finite; hw/physics/pcm_law.h)");
}

// One call of the law: an exception it throws (a plug-in's own, or not a std::exception at all) is
// one ptc::Error naming the device and the method. `what` is a literal on the per-read path: no
// string is built unless the law throws.
template <class W, class F>
double call(const std::string& device, const W& what, F&& f) {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& x) {
    throw Error("device \"" + device + "\": its PCM law's " + std::string(what) + " threw: " + x.what());
  } catch (...) {
    throw Error("device \"" + device + "\": its PCM law's " + std::string(what) +
                " threw an exception that is not a std::exception");
  }
}

}  // namespace

double checked_program_us(const PcmLaw& law, const std::string& device, double g_target_us, double xi) {
  const double g = call(device, "program_us", [&] { return law.program_us(g_target_us, xi); });
  if (!(g >= 0) || !std::isfinite(g)) bad_law(device, "program_us", g, g_target_us);
  return g;
}

double checked_drift_coefficient(const PcmLaw& law, const std::string& device, double g_target_us, double xi) {
  const double c = call(device, "drift_coefficient", [&] { return law.drift_coefficient(g_target_us, xi); });
  if (!std::isfinite(c)) bad_law(device, "drift_coefficient", c, g_target_us);
  return c;
}

double checked_read_us(const PcmLaw& law, const std::string& device, double g_prog_us, double g_target_us, double drift,
                       double t_inf_s, double xi, bool noiseless) {
  const double g = call(device, "read_us", [&] { return law.read_us(g_prog_us, g_target_us, drift, t_inf_s, xi, noiseless); });
  if (!(g >= 0) || !std::isfinite(g)) bad_law(device, "read_us", g, g_target_us, t_inf_s);
  return g;
}

void check_pcm_law_pure(const PcmLaw& law, const std::string& device, double g_max_us, bool programming, bool drift,
                        bool read_noise) {
  struct Call {
    std::string text;
    double value;
  };
  // Every method the device calls, in the order of one pass; the second pass must repeat it.
  auto pass = [&] {
    std::vector<Call> calls;
    for (double g : {0.0, 0.3 * g_max_us, g_max_us})
      for (double xi : {-1.7, 0.4}) {
        const std::string at = "(" + num(g) + " uS, xi " + num(xi);
        if (programming) {
          const std::string w = "program_us" + at + ")";
          calls.push_back({w, call(device, w, [&] { return law.program_us(g, xi); })});
        }
        if (drift) {
          const std::string w = "drift_coefficient" + at + ")";
          calls.push_back({w, call(device, w, [&] { return law.drift_coefficient(g, xi); })});
        }
        const double c = drift ? 0.05 : 0.0;
        for (double t : {0.0, 1.0, 3.15e7}) {
          const std::string rt = "(" + num(g) + " uS, coefficient " + num(c) + ", " + num(t) + " s, xi " + num(xi);
          if (read_noise) {
            const std::string w = "read_us" + rt + ")";
            calls.push_back({w, call(device, w, [&] { return law.read_us(g, g, c, t, xi, false); })});
          }
          const std::string w = "read_us" + rt + ", noiseless)";
          calls.push_back({w, call(device, w, [&] { return law.read_us(g, g, c, t, 0.0, true); })});
        }
      }
    return calls;
  };
  const std::vector<Call> a = pass(), b = pass();
  for (size_t i = 0; i < a.size(); ++i)
    if (!(a[i].value == b[i].value) && !(std::isnan(a[i].value) && std::isnan(b[i].value)))
      throw Error("device \"" + device + "\": its PCM law is not a pure function of its arguments: " + a[i].text + " returned " +
                  num(a[i].value) + ", then " + num(b[i].value) +
                  " (a law keeps no state and draws no random numbers of its own: the device replays its draws; "
                  "hw/physics/pcm_law.h)");
}

}  // namespace ptc::hw
