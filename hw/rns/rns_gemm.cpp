// Weight layers on RNS tiles (docs/rns.md §6); see rns_gemm.h for the contract.
#include "hw/rns/rns_gemm.h"

#include <algorithm>

#include "models/error.h"

namespace ptc::hw::rns {

RnsGemm::RnsGemm(const models::CompiledWorkload& wl, const RnsTileSpec& spec, std::vector<double> sigma_phi_rad,
                 const RandomStream& rng)
    : m_wl(wl), m_tile(spec, wl.spec.block_size, "rns"), m_sigma(std::move(sigma_phi_rad)), m_rng(rng) {
  const int channels = m_tile.code().n() + m_tile.code().k();
  if (static_cast<int>(m_sigma.size()) != channels)
    throw Error("RnsGemm: expected " + std::to_string(channels) + " channel sigmas, got " + std::to_string(m_sigma.size()));
  if (spec.group_tiles != 1)
    throw Error("RnsGemm: one tile per BFP group only (group_tiles = 1, got " + std::to_string(spec.group_tiles) +
                "); groups of several tiles are served by the rns device (hw/rns/rns_core.h)");
  const int64_t k = wl.spec.block_size;
  for (const auto& L : wl.layers) {
    m_weights.emplace_back();
    for (const auto& t : L.gemms) {
      m_weights.back().emplace_back();
      for (int64_t b = 0; b < t.P * t.Q; ++b)
        m_weights.back().back().push_back(m_tile.quantize_weights(t.blocks.data() + b * k * k, k));
    }
  }
  m_counters.resize(wl.layers.size());
}

void RnsGemm::gemm(int64_t layer, int64_t group, int64_t sample, const float* x, bool x_trans, int64_t n, float* y,
                   bool y_trans) {
  const models::GemmTiles& t = m_wl.layers.at(layer).gemms.at(group);
  const auto& W = m_weights.at(layer).at(group);
  const int64_t k = m_wl.spec.block_size, P = t.P, Q = t.Q;
  const RandomStream s =
      m_rng.derive(static_cast<uint64_t>(layer)).derive(static_cast<uint64_t>(group)).derive(static_cast<uint64_t>(sample));
  const uint64_t per_block = static_cast<uint64_t>(k) * m_tile.words_stride();
  std::vector<float> xv(Q * k), part(k), acc(P * k);
  RrnsCounters local;
  for (int64_t v = 0; v < n; ++v) {
    for (int64_t c = 0; c < Q * k; ++c) xv[c] = c < t.cols ? (x_trans ? x[v * t.cols + c] : x[c * n + v]) : 0.0f;
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (int64_t p = 0; p < P; ++p)
      for (int64_t q = 0; q < Q; ++q) {
        const uint64_t first = static_cast<uint64_t>((v * P + p) * Q + q) * per_block;
        m_tile.matvec(W[p * Q + q], xv.data() + q * k, m_sigma, s, first, part.data(), local);
        for (int64_t i = 0; i < k; ++i) acc[p * k + i] += part[i];
      }
    for (int64_t r = 0; r < t.rows; ++r) (y_trans ? y[v * t.rows + r] : y[r * n + v]) = acc[r];
  }
  std::lock_guard<std::mutex> lock(m_mutex);
  m_counters[layer] += local;
}

RrnsCounters RnsGemm::counters(int64_t layer) const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_counters.at(layer);
}

}  // namespace ptc::hw::rns
