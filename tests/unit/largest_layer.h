// Test fixture shared by the write-verify tests: CNN3 (models/zoo) compiled onto a 4x4 array of
// 8x8 cores (cyclic mapping), the index of its largest weight layer, and a noise-free read of a
// technology's effective normalised weights of one layer group.
#pragma once

#include <string>
#include <vector>

#include "hw/device/technology.h"
#include "models/compiler.h"
#include "models/onnx_import.h"

namespace ptc::test {

struct Layer {
  models::Graph g;
  models::CompiledWorkload wl;
  size_t li = 0;
};

inline Layer largest_layer() {
  Layer L{models::import_onnx(std::string(PTC_SOURCE_DIR) + "/models/zoo/cnn3_fmnist.onnx"), {}, 0};
  L.wl = models::compile(L.g, models::TilingSpec{4, 4, 8, "cyclic"});
  for (size_t l = 0; l < L.wl.layers.size(); ++l)
    if (L.wl.layers[l].gemms[0].blocks.size() > L.wl.layers[L.li].gemms[0].blocks.size()) L.li = l;
  return L;
}

inline std::vector<float> read_group(hw::Technology& tech, size_t l, const models::GemmTiles& t) {
  std::vector<float> w(t.blocks.size()), s(static_cast<size_t>(t.P * t.Q));
  tech.realize(static_cast<int64_t>(l), 0, 0, w.data(), s.data());
  return w;
}

}  // namespace ptc::test
