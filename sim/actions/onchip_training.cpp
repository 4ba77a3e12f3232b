// DOCTOR's on-chip training baseline (docs/doctor.md §7): back-propagation
// through the noisy hardware (effective weights as overrides, straight-through), Adam on the
// latent weights, charged `charged_inferences` inferences' worth of cycles per event. With
// arithmetic = chip (Mirage, docs/onchip_training.md §2) the forward pass runs through the chip's
// data path and the backward products through its arithmetic (hw::ChipBackwardGemm).
#include <algorithm>
#include <cmath>

#include "hw/training_gemm.h"
#include "models/error.h"
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
  const bool on_chip = spec.arithmetic == "chip";
  if (!on_chip && spec.arithmetic != "exact")
    throw Error("onchip_training: arithmetic \"" + spec.arithmetic + "\" is not exact or chip");
  hw::rns::RrnsCounters bwd_words;
  int64_t bwd_reads = 0;
  for (int64_t b = 0; b < spec.batches; ++b) {
    e.set_now();
    const uint64_t draw = e.next_draw();
    std::unique_ptr<hw::ChipBackwardGemm> bwd;
    if (on_chip) {
      // The forward pass reads the chip at this instant, one draw per sample (draw, draw + 1, ...);
      // the backward products draw from the batch's own sub-stream.
      for (int64_t i = 1; i < spec.batch_size; ++i) e.next_draw();
      const std::vector<hw::NoiseTime> times(static_cast<size_t>(spec.batch_size), hw::NoiseTime{acc.step(e.now_s()), e.now_s()});
      models::MappedGemm& fwd = acc.training_forward(times, draw);
      bwd = acc.training_backward(e.rng().derive(0x7a1b).derive(draw));
      lg.engine().set_hardware(&fwd, wl.layer_index(), bwd.get());
    }
    // The engine outlives this batch: restore its exact arithmetic however the batch ends.
    struct Restore {
      models::GradientEngine* g;
      ~Restore() {
        if (g) g->set_hardware(nullptr, {}, nullptr);
      }
    } restore{on_chip ? &lg.engine() : nullptr};
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
    const int64_t made_before = acc.recomputations_made();
    auto r = lg.engine().loss_and_grad(x, labels, ov);
    // Retries of the batch's words (RNS) are array work beyond the event's flat charge: the forward
    // words' (the core's counters) and the backward words' are charged as recomputations, as a
    // scheduled evaluation charges its own.
    int64_t retried = acc.recomputations_made() - made_before;
    if (bwd) {
      const hw::rns::RrnsCounters bc = bwd->counters();
      bwd_words += bc;
      bwd_reads += bwd->reads();
      retried += bc.retried;
      // The rings the backward words ran on saw these reads and corrections (selective re-calibration).
      acc.tech().add_ring_observations(bwd->ring_observations());
    }
    acc.charge_recomputations(retried);
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
  Json ev = {{"cycles", cycles},
             {"batches", spec.batches},
             {"writes", writes},
             {"loss_mean", loss_sum / static_cast<double>(std::max<int64_t>(spec.batches, 1))}};
  if (on_chip) {
    // The backward products' segment reads; for the RNS core also its decoder's counts of those
    // words (the forward words are the core's own, counted in its layer counters).
    ev["backward_reads"] = bwd_reads;
    if (bwd_words.words > 0) {
      ev["backward_words"] = bwd_words.words;
      ev["backward_residue_errors"] = bwd_words.residue_errors;
      ev["backward_detected"] = bwd_words.detected;
      ev["backward_corrected"] = bwd_words.corrected;
      ev["backward_retried"] = bwd_words.retried;
      ev["backward_failed"] = bwd_words.failed;
      ev["backward_silent"] = bwd_words.silent;
    }
  }
  e.log_event("onchip_training", ev);
  return writes;
}

}  // namespace ptc::sim::actions
