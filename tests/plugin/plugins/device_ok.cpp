// A working device plug-in, one file: an ideal weight cell (the effective weight is the programmed
// one, exactly), non-volatile, with no traits for noise to act on. With ideal converters a chip of
// it computes what the digital model computes.
#include "sim/plugins.h"

namespace {
using namespace ptc;

class IdealCells : public hw::Technology {
 public:
  explicit IdealCells(const models::CompiledWorkload& wl) : m_wl(wl) {
    for (const auto& L : wl.layers) {
      m_w.emplace_back();
      for (const auto& t : L.gemms) {
        m_w.back().push_back(t.blocks);
        m_writes += static_cast<int64_t>(t.blocks.size());
      }
    }
  }
  std::string name() const override { return "test_ideal"; }
  int64_t program(int64_t layer, int64_t group, const std::vector<float>& blocks, double) override {
    auto& w = m_w.at(layer).at(group);
    int64_t n = 0;
    for (size_t i = 0; i < w.size() && i < blocks.size(); ++i) n += w[i] != blocks[i];
    w = blocks;
    m_writes += n;
    return n;
  }
  const std::vector<float>& programmed(int64_t layer, int64_t group) const override { return m_w.at(layer).at(group); }
  void set_times(uint64_t, const std::vector<hw::NoiseTime>&) override {}
  int64_t writes() const override { return m_writes; }
  void realize(int64_t layer, int64_t group, uint64_t, float* wn, float* scale) const override {
    const auto& w = m_w.at(layer).at(group);
    const int64_t kk = m_wl.spec.block_size * m_wl.spec.block_size;
    for (size_t b = 0; b * kk < w.size(); ++b) {  // unit scale: wn = w exactly (no rounding)
      scale[b] = 1.0f;
      for (int64_t i = 0; i < kk; ++i) wn[b * kk + i] = w[b * kk + i];
    }
  }
  bool shared_across_draws() const override { return true; }

 private:
  const models::CompiledWorkload& m_wl;
  std::vector<std::vector<std::vector<float>>> m_w;
  int64_t m_writes = 0;
};

class IdealDevice : public hw::DeviceModel {
 public:
  std::unique_ptr<hw::Technology> build(const hw::DeviceBuild& b) const override { return std::make_unique<IdealCells>(b.wl); }
};

const sim::Registrar<hw::DeviceModel> reg{{"test_ideal",
                                           "test plug-in: ideal weight cells (effective = programmed)",
                                           {},
                                           [](sim::Params&) { return std::make_unique<IdealDevice>(); },
                                           {"nonvolatile"}}};
}  // namespace
