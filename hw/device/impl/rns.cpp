// Device "rns": an RNS tensor core with redundant-RNS error correction (hw/rns/rns_core.h,
// docs/rns.md §7; Demirkiran et al., "Mirage", ISCA 2024; "A Blueprint for Precise and
// Fault-Tolerant Analog Neural Networks", Nature Communications 2024).
#include <cctype>
#include <sstream>

#include "hw/rns/rns_core.h"
#include "models/error.h"
#include "sim/plugins.h"

namespace ptc::sim {
namespace {

// "63,62,61" -> {63, 62, 61}; empty when the text is not a comma-separated list of integers.
std::vector<int64_t> parse_list(const std::string& s) {
  std::vector<int64_t> out;
  std::string item;
  std::stringstream in(s);
  while (std::getline(in, item, ',')) {
    size_t a = item.find_first_not_of(' '), b = item.find_last_not_of(' ');
    if (a == std::string::npos) return {};
    item = item.substr(a, b - a + 1);
    if (item.size() > 18 || !std::all_of(item.begin(), item.end(), [](unsigned char c) { return std::isdigit(c); })) return {};
    out.push_back(std::stoll(item));
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
      std::vector<int64_t> list = parse_list(m_moduli);
      if (list.empty() && m_moduli.find_first_of("0123456789") == 0)
        throw Error(p.path_of("moduli") + ": \"" + m_moduli + "\" is not a comma-separated list of integers");
      try {
        m_base = list.empty() ? hw::rns::named_moduli(m_moduli) : list;
      } catch (const Error& e) {
        throw Error(p.path_of("moduli") + ": " + e.what() + " (or \"auto\", or a list such as \"63,62,61\")");
      }
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
                  moduli_text(s.base) + ": " + (m.rfind(head, 0) == 0 ? m.substr(head.size()) : m));
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
       "special_k2..k15: 2^k - 1, 2^k, 2^k + 1) or a list \"63,62,61\""},
      {"bits", "bits", 6, "converter bits b for \"auto\": moduli below 2^b", 2, 16},
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
     {"mc_instances", "error_counters", "channel_counters", "own_gemm", "backward_arithmetic", hw::kRingPhase, hw::kTemperature,
      "thermo_optic"}}};

}  // namespace
}  // namespace ptc::sim
