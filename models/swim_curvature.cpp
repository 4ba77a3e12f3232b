// SWIM's curvature accumulation, scores and global top-p selection (docs/swim.md §2; Yan, Hu,
// Shi, DAC 2022, §3). The curvature pass itself is GradientEngine::loss_grad_curvature.
#include "models/swim_curvature.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "models/error.h"

namespace ptc::models {
namespace {

// The i-th output of SplitMix64 seeded with `seed` (Steele, Lea, Flood, "Fast splittable
// pseudorandom number generators", OOPSLA 2014): a counter-based stream.
uint64_t splitmix64_at(uint64_t seed, uint64_t i) {
  uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace

SwimCurvature swim_curvature(GradientEngine& e, const Dataset& d, const Preprocess& p, int64_t count, int64_t batch,
                             const WeightOverrides& overrides, const GradientEngine::CurvatureOptions& options,
                             const std::atomic<bool>* stop) {
  if (batch < 1) throw Error("swim curvature: batch size must be >= 1");
  int64_t n = count > 0 ? std::min(count, d.count) : d.count;
  if (n < 1) throw Error("swim curvature: no images in " + d.name);
  const size_t nw = e.weights().size();
  std::vector<std::vector<float>> w = e.weight_values();
  for (size_t k = 0; k < nw && k < overrides.size(); ++k)
    if (overrides[k]) {
      if (overrides[k]->size() != w[k].size())
        throw Error("swim curvature: override of weight '" + e.weights()[k] + "' has " + std::to_string(overrides[k]->size()) +
                    " values, the weight has " + std::to_string(w[k].size()));
      w[k] = *overrides[k];
    }
  std::vector<std::vector<double>> h(nw), g(nw);
  for (size_t k = 0; k < nw; ++k) {
    h[k].assign(w[k].size(), 0.0);
    g[k].assign(w[k].size(), 0.0);
  }
  SwimCurvature out;
  Tensor x;
  std::vector<int64_t> labels;
  for (int64_t first = 0; first < n; first += batch) {
    if (stop && stop->load(std::memory_order_relaxed)) throw Stopped("swim curvature: stopped");
    int64_t cnt = std::min(batch, n - first);
    fill_batch(d, p, first, cnt, x);
    labels.assign(d.labels.begin() + first, d.labels.begin() + first + cnt);
    GradientEngine::Result r = e.loss_grad_curvature(x, labels, overrides, options);
    for (size_t k = 0; k < nw; ++k)
      for (size_t j = 0; j < h[k].size(); ++j) {
        h[k][j] += r.curv[k][j];
        g[k][j] += r.grad[k][j];
      }
    ++out.batches;
  }
  out.images = n;
  for (size_t k = 0; k < nw; ++k) {
    float mx = 0;
    for (float v : w[k]) mx = std::max(mx, std::abs(v));
    out.max_abs.push_back(mx);
    const double m = mx;
    std::vector<float> hn(w[k].size()), gn(w[k].size()), wn(w[k].size());
    for (size_t j = 0; j < w[k].size(); ++j) {
      hn[j] = static_cast<float>(h[k][j] * m * m);
      gn[j] = static_cast<float>(g[k][j] * m);
      wn[j] = mx > 0 ? static_cast<float>(w[k][j] / m) : 0.0f;
    }
    out.h.push_back(std::move(hn));
    out.g.push_back(std::move(gn));
    out.w_norm.push_back(std::move(wn));
  }
  return out;
}

const std::vector<std::string>& swim_metrics() {
  static const std::vector<std::string> names = {"swim", "magnitude", "random", "swim_code", "second", "saliency"};
  return names;
}

std::vector<std::vector<double>> swim_scores(const SwimCurvature& c, const std::string& metric, double alpha, uint64_t seed) {
  const auto& names = swim_metrics();
  if (std::find(names.begin(), names.end(), metric) == names.end()) {
    std::string list;
    for (const auto& m : names) list += (list.empty() ? "" : ", ") + m;
    throw Error("swim: unknown selection metric '" + metric + "' (valid: " + list + ")");
  }
  if (c.h.size() != c.w_norm.size() || c.g.size() != c.w_norm.size())
    throw Error("swim: curvature, gradient and weights have different layer counts");
  std::vector<std::vector<double>> s(c.w_norm.size());
  uint64_t global = 0;
  for (size_t k = 0; k < c.w_norm.size(); ++k) {
    const size_t n = c.w_norm[k].size();
    if (c.h[k].size() != n || c.g[k].size() != n) throw Error("swim: layer " + std::to_string(k) + " has inconsistent sizes");
    s[k].resize(n);
    for (size_t j = 0; j < n; ++j, ++global) {
      const double h = c.h[k][j], g = c.g[k][j], w = c.w_norm[k][j];
      double v = 0;
      if (metric == "swim")
        v = alpha * std::abs(h) * 1.0 + std::abs(w);  // max|W_n| = 1 after normalisation
      else if (metric == "magnitude")
        v = std::abs(w);
      else if (metric == "random")
        v = static_cast<double>(splitmix64_at(seed, global) >> 11) * 0x1.0p-53;
      else if (metric == "swim_code")
        v = std::abs(h + 2.0 * g);
      else if (metric == "second")
        v = std::abs(h);
      else  // saliency
        v = std::abs(h) * w * w;
      s[k][j] = v;
    }
  }
  return s;
}

int64_t swim_selected_count(int64_t n, double p) {
  if (!(p >= 0.0 && p <= 1.0)) throw Error("swim: the verified fraction p must be in [0, 1], got " + std::to_string(p));
  return std::min<int64_t>(n, static_cast<int64_t>(std::floor(p * static_cast<double>(n) + 0.5)));
}

std::vector<std::vector<uint8_t>> swim_select(const std::vector<std::vector<double>>& scores, double p) {
  std::vector<std::pair<uint32_t, uint32_t>> at;  // (layer, index) of every weight, in global order
  std::vector<std::vector<uint8_t>> mask(scores.size());
  for (size_t k = 0; k < scores.size(); ++k) {
    mask[k].assign(scores[k].size(), 0);
    for (size_t j = 0; j < scores[k].size(); ++j) {
      if (std::isnan(scores[k][j]))
        throw Error("swim: score of layer " + std::to_string(k) + " entry " + std::to_string(j) + " is NaN");
      at.emplace_back(static_cast<uint32_t>(k), static_cast<uint32_t>(j));
    }
  }
  const int64_t n = static_cast<int64_t>(at.size());
  const int64_t sel = swim_selected_count(n, p);
  if (sel == 0) return mask;
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  auto score = [&](int64_t i) { return scores[at[static_cast<size_t>(i)].first][at[static_cast<size_t>(i)].second]; };
  // A strict total order: larger score first, then earlier (layer, index).
  auto before = [&](int64_t a, int64_t b) {
    double sa = score(a), sb = score(b);
    return sa != sb ? sa > sb : a < b;
  };
  if (sel < n) std::nth_element(order.begin(), order.begin() + (sel - 1), order.end(), before);
  for (int64_t i = 0; i < sel; ++i) {
    const auto& [k, j] = at[static_cast<size_t>(order[static_cast<size_t>(i)])];
    mask[k][j] = 1;
  }
  return mask;
}

}  // namespace ptc::models
