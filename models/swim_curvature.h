// SWIM's selection metric (docs/swim.md §2): the diagonal second derivative of the cross-entropy
// loss with respect to every weight, as SWIM computes it (Yan, Hu, Shi, "SWIM: Selective
// Write-Verify for Computing-in-Memory Neural Accelerators", DAC 2022, arXiv 2202.08395, §3), the
// scores built from it and the global top-p selection of the weights to write-verify.
//
// Contract:
// - swim_curvature runs GradientEngine::loss_grad_curvature (the diagonal Gauss-Newton pass of
//   models/gradients.h) over images [0, count) of the data set in batches of `batch` and returns,
//   per weight of GradientEngine::weights() in its layout:
//     h = sum over images of the per-sample curvature (p(1-p) seed, not divided by the batch size),
//     g = sum over batches of the batch-MEAN gradient (what SWIM's code accumulates by calling
//         backward() once per batch without zeroing; it depends on the batch size),
//   both with respect to the per-layer max-normalised weights w_n = w / max|W_l|:
//     h_n = h_raw * max|W_l|^2,  g_n = g_raw * max|W_l|
//   (the network computes y = max|W_l| (W_n x), so dy/dW_n = max|W_l| x; the curvature passed to the
//   layer's input is unchanged). A layer whose weights are all 0 has max 0: its w_n, h_n, g_n are 0.
// - swim_scores: per weight, in double precision, for the metric names
//     "swim"      alpha |h_n| max|W_n| + |w_n|   (max|W_n| = 1; alpha = 1e6 by default)
//     "magnitude" |w_n| = |w| / max|W_l|
//     "random"    uniform in [0, 1) from SplitMix64 at counter (seed, global index): the same
//                 weight gets the same score at any thread count and for any other layer sizes
//     "swim_code" |h_n + 2 g_n|  (the published code's variant: fine_S_grad adds 2 g to h)
//     "second"    |h_n|
//     "saliency"  |h_n| w_n^2
//   Any other name is a ptc::Error listing the valid names.
// - swim_select: GLOBAL top-p over all layers together: k = floor(p N + 0.5) of the N weights with
//   the largest scores (p = 0: none, p = 1: all), ties broken by (layer, index) order, earlier
//   first. Returns one 0/1 mask per layer in weight layout. p outside [0, 1] or a NaN score is a
//   ptc::Error. Pure and deterministic.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/dataset.h"
#include "models/gradients.h"

namespace ptc::models {

struct SwimCurvature {
  std::vector<std::vector<float>> h;       // curvature w.r.t. normalised weights, weight layout
  std::vector<std::vector<float>> g;       // gradient w.r.t. normalised weights (sum of batch means)
  std::vector<std::vector<float>> w_norm;  // w / max|W_l|
  std::vector<float> max_abs;              // max|W_l| per layer
  int64_t images = 0, batches = 0;
};

// count <= 0: the whole set. overrides: the weights the curvature is taken at (e.g. drifted ones).
// stop: read before each batch; once set, throws Stopped.
SwimCurvature swim_curvature(GradientEngine& e, const Dataset& d, const Preprocess& p, int64_t count, int64_t batch,
                             const WeightOverrides& overrides = {}, const GradientEngine::CurvatureOptions& options = {},
                             const std::atomic<bool>* stop = nullptr);

constexpr double kSwimAlpha = 1e6;
const std::vector<std::string>& swim_metrics();  // the valid metric names

std::vector<std::vector<double>> swim_scores(const SwimCurvature& c, const std::string& metric, double alpha = kSwimAlpha,
                                             uint64_t seed = 0);
std::vector<std::vector<uint8_t>> swim_select(const std::vector<std::vector<double>>& scores, double p);
// Number of weights swim_select marks out of n: floor(p n + 0.5).
int64_t swim_selected_count(int64_t n, double p);

}  // namespace ptc::models
