#include "hw/hw_spec.h"

#include "models/error.h"
#include "models/json_io.h"

namespace ptc::hw {
namespace {

void only_keys(const nlohmann::json& j, const std::string& path, std::initializer_list<const char*> keys) {
  if (!j.is_object()) throw Error(path + ": expected an object, got " + j.type_name());
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool ok = false;
    std::string list;
    for (const char* k : keys) {
      ok |= it.key() == k;
      list += (list.empty() ? "" : ", ") + std::string(k);
    }
    if (!ok) throw Error(path + "." + it.key() + ": unknown key (allowed: " + list + ")");
  }
}

int64_t int_in(const nlohmann::json& j, const std::string& key, const std::string& path, int64_t lo, int64_t hi, int64_t dflt) {
  if (!j.contains(key)) return dflt;
  const auto& v = j.at(key);
  if (!v.is_number_integer() || v.get<int64_t>() < lo || v.get<int64_t>() > hi)
    throw Error(path + "." + key + ": expected integer in [" + std::to_string(lo) + "," + std::to_string(hi) + "], got " +
                v.dump());
  return v.get<int64_t>();
}

}  // namespace

HwSpec parse_hw_spec(const nlohmann::json& j, const std::string& path) {
  only_keys(j, path, {"cores", "mapping", "device", "clock_ghz", "dac", "adc"});
  HwSpec s;
  if (j.contains("cores")) {
    const auto& c = j.at("cores");
    only_keys(c, path + ".cores", {"rows", "cols", "block_size"});
    s.tiling.rows = int_in(c, "rows", path + ".cores", 1, 1024, s.tiling.rows);
    s.tiling.cols = int_in(c, "cols", path + ".cores", 1, 1024, s.tiling.cols);
    s.tiling.block_size = int_in(c, "block_size", path + ".cores", 1, 1024, s.tiling.block_size);
  }
  if (j.contains("mapping")) {
    const auto& m = j.at("mapping");
    only_keys(m, path + ".mapping", {"name", "order", "images_per_pass", "batchnorm", "digital_layers"});
    if (!m.contains("name") || !m.at("name").is_string()) throw Error(path + ".mapping.name: expected a string");
    std::string name = m.at("name").get<std::string>();
    const auto& names = models::mapping_names();
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      throw Error("unknown mapping \"" + name + "\" at " + path + ".mapping.name; registered: " + list);
    }
    s.tiling.mapping = name;
    if (m.contains("order")) {
      if (!m.at("order").is_string()) throw Error(path + ".mapping.order: expected a string");
      s.tiling.order = m.at("order").get<std::string>();
      const auto& orders = models::stream_order_names();
      if (std::find(orders.begin(), orders.end(), s.tiling.order) == orders.end())
        throw Error("unknown streaming order \"" + s.tiling.order + "\" at " + path +
                    ".mapping.order; registered: native, per_cell, greedy, sort_mean");
      if (s.tiling.order != "native" && name != "streaming")
        throw Error(path + ".mapping.order: order \"" + s.tiling.order + "\" needs mapping \"streaming\", got \"" + name + "\"");
    }
    s.tiling.images_per_pass = int_in(m, "images_per_pass", path + ".mapping", 1, 1048576, 1);
    if (s.tiling.images_per_pass != 1 && name != "streaming")
      throw Error(path + ".mapping.images_per_pass: images per pass needs mapping \"streaming\", got \"" + name + "\"");
    if (m.contains("batchnorm")) {
      const auto& b = m.at("batchnorm");
      if (!b.is_string() || (b.get<std::string>() != "fold" && b.get<std::string>() != "digital"))
        throw Error(path + ".mapping.batchnorm: expected \"fold\" or \"digital\", got " + b.dump());
      s.tiling.batchnorm = b.get<std::string>();
    }
    if (m.contains("digital_layers")) {
      const auto& d = m.at("digital_layers");
      if (!d.is_array()) throw Error(path + ".mapping.digital_layers: expected a list of node names, got " + d.dump());
      for (size_t i = 0; i < d.size(); ++i) {
        if (!d[i].is_string())
          throw Error(path + ".mapping.digital_layers[" + std::to_string(i) + "]: expected a node name, got " + d[i].dump());
        s.tiling.digital_layers.push_back(d[i].get<std::string>());
      }
    }
  }
  s.device_path = path + ".device.name";
  if (j.contains("device")) {
    const auto& d = j.at("device");
    only_keys(d, path + ".device", {"name"});
    s.device_given = true;
    if (!d.contains("name") || !d.at("name").is_string()) throw Error(path + ".device.name: expected a string");
    s.device = d.at("name").get<std::string>();
  }
  if (j.contains("clock_ghz")) {
    const auto& v = j.at("clock_ghz");
    if (!v.is_number() || !(v.get<double>() > 0) || v.get<double>() > 1000)
      throw Error(path + ".clock_ghz: expected number in (0,1000], got " + v.dump());
    s.energy.clock_ghz = v.get<double>();
  }
  for (const char* conv : {"dac", "adc"})
    if (j.contains(conv)) {
      const auto& c = j.at(conv);
      std::string p = path + "." + conv;
      only_keys(c, p, {"bits"});
      int bits = static_cast<int>(int_in(c, "bits", p, 0, 24, 8));
      (std::string(conv) == "dac" ? s.energy.dac_bits : s.energy.adc_bits) = bits;
    }
  return s;
}

HwSpec load_hw_spec(const std::string& file) {
  return parse_hw_spec(load_json_file(file, "hardware description"), file + ": hw");
}

}  // namespace ptc::hw
