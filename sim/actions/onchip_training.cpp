// DOCTOR's on-chip training baseline (docs/doctor.md §7): back-propagation
// through the noisy hardware (effective weights as overrides, straight-through), Adam on the
// latent weights, charged `charged_inferences` inferences' worth of cycles per event.
#include <algorithm>
#include <cmath>

#include "sim/actions/actions.h"

namespace ptc::sim::actions {

int64_t train_onchip(Env& e, const OnchipTrainingSpec& spec) {
  hw::Accelerator& acc = e.chip();
  const auto& wl = e.ctx().wl;
  Learning& lg = e.learning();
  lg.ensure_gradients(0);
  const int64_t k = wl.spec.block_size;
  const int64_t cpi = std::max<int64_t>(wl.cycles_per_inference, 1);
  std::vector<float> eff;
  models::Tensor x;
  double loss_sum = 0;
  int64_t writes = 0;
  const models::Dataset& train = lg.train();
  for (int64_t b = 0; b < spec.batches; ++b) {
    e.set_now();
    const uint64_t draw = e.next_draw();
    std::vector<std::vector<float>> wt(wl.layers.size());
    models::WeightOverrides ov;
    for (size_t l = 0; l < wl.layers.size(); ++l) {
      std::vector<std::vector<float>> blocks;
      for (size_t g = 0; g < wl.layers[l].gemms.size(); ++g) {
        acc.effective(static_cast<int64_t>(l), static_cast<int64_t>(g), draw, eff, false);
        blocks.push_back(eff);
      }
      wt[l] = models::blocks_to_weight(wl.layers[l], blocks, k);
    }
    for (auto& w : wt) ov.push_back(&w);
    std::vector<int64_t> labels;
    x.reshape_storage(models::DType::f32, {spec.batch_size, train.channels, train.height, train.width});
    models::Tensor one;
    for (int64_t i = 0; i < spec.batch_size; ++i) {
      int64_t img = lg.next_train_image();
      models::fill_batch(train, e.ctx().pre, img, 1, one);
      std::copy(one.f.begin(), one.f.end(), x.f.begin() + i * train.image_size());
      labels.push_back(train.labels[img]);
    }
    auto r = lg.engine().loss_and_grad(x, labels, ov);
    loss_sum += r.loss;
    for (size_t l = 0; l < wl.layers.size(); ++l) {
      auto gb = models::weight_to_blocks(wl.layers[l], r.grad[l], k);
      for (size_t g = 0; g < gb.size(); ++g) {
        std::vector<float> W = acc.tech().programmed(l, g);
        lg.train_optimisers()[l][g].step(W, gb[g], spec.lr);
        writes += acc.program(static_cast<int64_t>(l), static_cast<int64_t>(g), W, e.now_s());
      }
    }
    acc.advance_steps(spec.steps_per_sample * spec.batch_size);
  }
  e.occupy_writes();
  const int64_t cycles = std::llround(spec.charged_inferences * static_cast<double>(cpi));
  e.charge_cycles(cycles, 0, "onchip_training", 0);
  e.log_event("onchip_training", {{"cycles", cycles},
                                  {"batches", spec.batches},
                                  {"writes", writes},
                                  {"loss_mean", loss_sum / static_cast<double>(std::max<int64_t>(spec.batches, 1))}});
  return writes;
}

}  // namespace ptc::sim::actions
