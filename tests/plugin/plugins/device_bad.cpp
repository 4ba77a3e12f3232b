// Device plug-ins with one mistake each, selected by BAD when built (tests/plugin/test_plugin.sh):
//   1 build() throws for a parameter combination its factory accepted; 2 build() returns nullptr;
//   3 a parameter default outside its declared range; 4 a misspelled device tag.
// `validate` must report 1 and 2 as `run` would (it builds the device), and loading must refuse 3
// and 4, each in one line naming the library.
#include "sim/plugins.h"

namespace {
using namespace ptc;

class Cells : public hw::Technology {
 public:
  explicit Cells(const models::CompiledWorkload& wl) : m_wl(wl) {
    for (const auto& L : wl.layers) {
      m_w.emplace_back();
      for (const auto& t : L.gemms) m_w.back().push_back(t.blocks);
    }
  }
  std::string name() const override { return "test_bad"; }
  int64_t program(int64_t layer, int64_t group, const std::vector<float>& blocks, double) override {
    m_w.at(layer).at(group) = blocks;
    return 0;
  }
  const std::vector<float>& programmed(int64_t layer, int64_t group) const override { return m_w.at(layer).at(group); }
  void set_times(uint64_t, const std::vector<hw::NoiseTime>&) override {}
  int64_t writes() const override { return 0; }
  void realize(int64_t layer, int64_t group, uint64_t, float* wn, float* scale) const override {
    const auto& w = m_w.at(layer).at(group);
    const int64_t kk = m_wl.spec.block_size * m_wl.spec.block_size;
    for (size_t b = 0; b * kk < w.size(); ++b) {
      scale[b] = 1.0f;
      for (int64_t i = 0; i < kk; ++i) wn[b * kk + i] = w[b * kk + i];
    }
  }

 private:
  const models::CompiledWorkload& m_wl;
  std::vector<std::vector<std::vector<float>>> m_w;
};

class Device : public hw::DeviceModel {
 public:
  explicit Device(sim::Params& p) : m_lo(p.num("lo")), m_hi(p.num("hi")) {}
  std::unique_ptr<hw::Technology> build(const hw::DeviceBuild& b) const override {
#if BAD == 1
    if (m_lo > m_hi) throw Error("device.lo: must be <= device.hi (checked in build)");
#elif BAD == 2
    if (m_lo > m_hi) return nullptr;
#endif
    return std::make_unique<Cells>(b.wl);
  }

 private:
  double m_lo, m_hi;
};

const sim::Registrar<hw::DeviceModel> reg{{"test_bad" BAD_NAME,
                                           "test plug-in: a device with one mistake",
                                           {{"lo", "", 0.1, "lower", 0, 1},
                                            {"hi", "", 0.5, "upper", 0, 1}
#if BAD == 3
                                            ,
                                            {"gamma", "", 5.0, "a default outside its own range", 0, 1}
#endif
                                           },
                                           [](sim::Params& p) { return std::make_unique<Device>(p); },
#if BAD == 4
                                           {"nonvolatile", "mc_instance"}
#else
                                           {"nonvolatile"}
#endif
}};
}  // namespace
