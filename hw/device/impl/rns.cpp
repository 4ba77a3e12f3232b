// Device "rns": an RNS tensor core with redundant-RNS error correction (hw/rns/rns_core.h,
// docs/rns.md §7; Demirkiran et al., "Mirage", ISCA 2024; "A Blueprint for Precise and
// Fault-Tolerant Analog Neural Networks", Nature Communications 2024).
#include <algorithm>
#include <cctype>
#include <sstream>

#include "hw/rns/rns_core.h"
#include "models/error.h"
#include "sim/plugins.h"

namespace ptc::sim {
namespace {

// "63,62,61" -> {63, 62, 61}. Text that starts like a list (a digit, a sign or a comma, or holds a
// comma) must be one: an empty entry, a trailing comma, a sign or a non-digit is an error naming
// the entry; a name (blueprint_b6, special_k5) gives an empty list.
std::vector<int64_t> parse_list(const std::string& s, const std::string& where) {
  const size_t first = s.find_first_not_of(' ');
  const bool list_like =
      s.find(',') != std::string::npos ||
      (first != std::string::npos && (std::isdigit(static_cast<unsigned char>(s[first])) || s[first] == '+' || s[first] == '-'));
  if (!list_like) return {};
  std::vector<int64_t> out;
  size_t from = 0;
  for (int n = 1;; ++n) {
    const size_t comma = s.find(',', from);
    std::string item = s.substr(from, comma == std::string::npos ? std::string::npos : comma - from);
    const size_t a = item.find_first_not_of(' '), b = item.find_last_not_of(' ');
    item = a == std::string::npos ? std::string() : item.substr(a, b - a + 1);
    const std::string what = where + ": \"" + s + "\": entry " + std::to_string(n);
    if (item.empty()) throw Error(what + " is empty (a list of moduli is integers >= 2 separated by commas, e.g. \"63,62,61\")");
    if (!std::all_of(item.begin(), item.end(), [](unsigned char c) { return std::isdigit(c); }))
      throw Error(what + " (\"" + item + "\") is not a modulus: expected an integer >= 2 written with digits only");
    if (item.size() > 18) throw Error(what + " (" + item + ") is too large for a modulus");
    const int64_t m = std::stoll(item);
    if (m < 2) throw Error(what + " (" + item + ") is not a modulus: a modulus must be >= 2");
    out.push_back(m);
    if (comma == std::string::npos) break;
    from = comma + 1;
  }
  return out;
}

std::string moduli_text(const std::vector<int64_t>& moduli) {
  std::string t;
  for (int64_t m : moduli) t += (t.empty() ? "{" : ", ") + std::to_string(m);
  return t + "}";
}

class RnsDevice : public hw::DeviceModel {
 public:
  explicit RnsDevice(Params& p) : m_path(p.path()) {
    m_moduli = p.str("moduli");
    m_bits = static_cast<int>(p.integer("bits"));
    m_redundant = static_cast<int>(p.integer("redundant"));
    m_cfg.tile.max_retries = static_cast<int>(p.integer("max_retries"));
    m_group = p.integer("group");
    m_cfg.tile.input_bits = m_cfg.tile.weight_bits = static_cast<int>(p.integer("mantissa_bits"));
    m_cfg.sigma_phi_rad = p.num("sigma_phi_rad");
    m_cfg.dphi_dk_rad = p.num("dphi_dk_rad");
    if (m_moduli != "auto") {
      std::vector<int64_t> list = parse_list(m_moduli, p.path_of("moduli"));
      try {
        m_base = list.empty() ? hw::rns::named_moduli(m_moduli) : list;
      } catch (const Error&) {
        // (named_moduli knows special_k up to 20; the channels' 16-bit ADCs take k <= 15)
        throw Error(p.path_of("moduli") + ": unknown moduli set \"" + m_moduli +
                    "\"; known: \"auto\", blueprint_b4 .. blueprint_b8, special_k2 .. special_k15, or a list such as "
                    "\"63,62,61\"");
      }
      // bits chooses the moduli of "auto" only: with a named set or a list the channels' converters
      // follow the moduli (ceil(log2 m) bits), and another bits would be ignored without a word.
      if (m_bits != 6)
        throw Error(p.path_of("bits") + ": " + std::to_string(m_bits) + " bits choose the moduli of \"auto\" only; with " +
                    p.path_of("moduli") + " \"" + m_moduli +
                    "\" each channel's converters follow its modulus (ceil(log2 m) bits); remove bits or set moduli "
                    "\"auto\"");
      hw::rns::check_moduli(m_base, p.path_of("moduli"));
      for (int64_t m : m_base)
        if (hw::rns::adc_bits(m) > 16)
          throw Error(p.path_of("moduli") + ": modulus " + std::to_string(m) + " needs a " +
                      std::to_string(hw::rns::adc_bits(m)) + "-bit ADC; the channels' ADCs have at most 16 bits" +
                      (list.empty() && m_moduli.rfind("special_k", 0) == 0 ? " (special_k2 .. special_k15 fit)" : ""));
    }
    // A retry repeats a word whose error was detected; without a redundant modulus nothing is.
    if (m_cfg.tile.max_retries > 0 && m_redundant == 0)
      throw Error(p.path_of("max_retries") + ": " + std::to_string(m_cfg.tile.max_retries) +
                  " retries of a word with a detected error, but with no redundant modulus (" + p.path_of("redundant") +
                  " 0) no error is detected and nothing is retried; set " + p.path_of("redundant") + " >= 1 or max_retries 0");
  }

  // The tile spec for cores of size k (Blueprint's rule needs the dot-product length h = k).
  hw::rns::RnsTileSpec spec(int64_t k) const {
    if (m_group != 0 && m_group < k)
      throw Error(m_path + ".group: a BFP group of " + std::to_string(m_group) + " values is smaller than the core size " +
                  std::to_string(k) + "; mantissas with different exponents cannot share one modular sum, so it would need " +
                  "several reads of every block: set hw.cores.block_size = " + std::to_string(m_group) + " instead");
    if (m_group != 0 && m_group % k != 0)
      throw Error(m_path + ".group: a BFP group must be a multiple of the core size " + std::to_string(k) + " (e.g. " +
                  std::to_string(k) + ", " + std::to_string(2 * k) + ", " + std::to_string(4 * k) + "; 0 = " + std::to_string(k) +
                  "), got " + std::to_string(m_group));
    hw::rns::RnsTileSpec s = m_cfg.tile;
    s.group_tiles = m_group == 0 ? 1 : static_cast<int>(m_group / k);
    if (m_moduli == "auto") {
      const int b_out = hw::rns::output_bits(s.input_bits, s.weight_bits, k);
      try {
        s.base = hw::rns::blueprint_moduli(m_bits, b_out);
      } catch (const Error&) {
        throw Error(m_path + ".bits: no pairwise-coprime moduli below 2^" + std::to_string(m_bits) + " reach the " +
                    std::to_string(b_out) + "-bit range of a dot product (mantissa_bits " + std::to_string(s.input_bits) +
                    ", core size " + std::to_string(k) + "; Blueprint's rule): raise " + m_path + ".bits or lower " + m_path +
                    ".mantissa_bits");
      }
    } else {
      s.base = m_base;
    }
    try {
      s.redundant = hw::rns::redundant_moduli(s.base, m_redundant);
    } catch (const Error& e) {
      const std::string m = e.what(), head = "redundant_moduli: ";
      throw Error(m_path + ".redundant: " + std::to_string(m_redundant) + " redundant moduli above the base moduli " +
                  moduli_text(s.base) + ": " + (m.rfind(head, 0) == 0 ? m.substr(head.size()) : m) +
                  (m_moduli == "auto" ? " (fewer redundant moduli, or fewer base moduli: lower " + m_path +
                                            ".mantissa_bits, which sets the range the auto rule must reach)"
                                      : std::string()));
    }
    for (int64_t m : s.redundant)  // the redundant channels have ADCs of their own
      if (hw::rns::adc_bits(m) > 16)
        throw Error(m_path + ".redundant: redundant modulus " + std::to_string(m) + " (above the base moduli " +
                    moduli_text(s.base) + ") needs a " + std::to_string(hw::rns::adc_bits(m)) +
                    "-bit ADC; the channels' ADCs have at most 16 bits (use smaller base moduli or fewer redundant ones)");
    try {
      hw::rns::RnsTile check(s, k, m_path);  // the range rule: every dot product of k terms fits M
    } catch (const Error& e) {
      const std::string m = e.what(), head = m_path + ": ";
      if (m.compare(0, head.size(), head) != 0) throw;
      throw Error(m_path + ".moduli: " + m.substr(head.size()) + " (mantissa_bits " + std::to_string(s.input_bits) +
                  ", core size " + std::to_string(k) + ")");
    }
    return s;
  }
  void check(const models::CompiledWorkload& wl) const override { spec(wl.spec.block_size); }
  std::unique_ptr<hw::Technology> build(const hw::DeviceBuild& b) const override {
    hw::rns::RnsCoreConfig cfg = m_cfg;
    cfg.tile = spec(b.wl.spec.block_size);
    cfg.noise = b.noise;
    cfg.noise_labels = b.noise_labels;
    return std::make_unique<hw::rns::RnsCore>(b.wl, cfg, b.rng);
  }

 private:
  std::string m_path, m_moduli;
  int m_bits = 6, m_redundant = 0;
  int64_t m_group = 0;
  std::vector<int64_t> m_base;
  hw::rns::RnsCoreConfig m_cfg;
};

const Registrar<hw::DeviceModel> reg{
    {"rns",
     "RNS tensor core with redundant-RNS error correction (Mirage, Blueprint)",
     {{"moduli", "", "auto",
       "base moduli: \"auto\" (Blueprint's rule from bits and the core size), a named set (blueprint_b4..b8, "
       "special_k2..k15: 2^k - 1, 2^k, 2^k + 1) or a list \"63,62,61\" (integers >= 2, pairwise coprime)"},
      {"bits", "bits", 6,
       "converter bits b for \"auto\": moduli below 2^b (with named or listed moduli each channel's converters follow its "
       "modulus; another value than the default is then an error)",
       2, 16},
      {"redundant", "", 0, "redundant moduli k (RRNS): detects k, corrects floor(k/2) residue errors", 0, 4},
      {"max_retries", "", 0, "retries R of an uncorrectable word", 0, 16},
      {"group", "", 0,
       "BFP group size along the dot product, in values: 0 = the core size k (one exponent per tile row), or a multiple of k "
       "(one exponent per group values, group / k tiles)",
       0, 4096},
      {"mantissa_bits", "bits", 6, "BFP mantissa bits of inputs and weights (sign included)", 2, 24},
      {"sigma_phi_rad", "rad", 0.0, "per-read Gaussian phase noise of every modulus channel", 0, 3.14159},
      {"dphi_dk_rad", "rad/K", 0.01, "channel phase error per kelvin of deviation from the calibration temperature [assumption]",
       0, 10}},
     [](Params& p) { return std::make_unique<RnsDevice>(p); },
     {"mc_instances", "error_counters", "channel_counters", "own_gemm", "backward_arithmetic", "own_converters", hw::kRingPhase,
      hw::kTemperature, "thermo_optic"}}};

}  // namespace
}  // namespace ptc::sim
