// Runs the weight layers of a compiled workload on tensor cores: effective block weights from a
// BlockRealizer (materialised once per layer and draw, vectorised), inputs through the DAC, each
// block's partial sums through the ADC, partial sums accumulated digitally (DOCTOR's
// block layout, docs/doctor.md §1; aihwkit's I/O order of operations, docs/converters_energy.md §1-§2).
//
// Per input vector x: s = max|x| (noise management "abs max"), x_n = DAC(x / s); per block (p, q):
// y_pq = ADC(wn_pq x_n,q); y_p = s * sum_q scale_pq * y_pq. With an ideal ADC the blocks of a
// layer are combined into one dense GEMM (same result, much faster).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "hw/converters.h"
#include "hw/device/block_realizer.h"
#include "hw/physics/rng.h"
#include "models/compiler.h"
#include "models/mapped_gemm.h"

namespace ptc::hw {

// Output-referred weight noise per MVM (aihwkit IOParameters w_noise / w_noise_type;
// docs/converters_energy.md §2): a fresh draw added to every block partial sum before the ADC.
enum class WeightNoise { none, additive_constant, pcm_read };
WeightNoise weight_noise_from_name(const std::string& name);  // throws on an unknown name
// Noise management (aihwkit IOParameters noise_management): the scale s each input vector is
// divided by before the DAC and multiplied back after the ADC. abs_max: s = max|x| (capped at
// nm_thres when nm_thres > 0); constant: s = nm_thres; none: s = 1.
enum class NoiseManagement { abs_max, constant, none };
NoiseManagement noise_management_from_name(const std::string& name);  // throws on an unknown name

// Bound management (aihwkit IOParameters bound_management): when a block's partial sum for an
// input vector leaves the ADC range, the block is recomputed for that vector with the input
// halved (x / (s f), f = 2, 4, ...) and the ADC outputs multiplied back by f, until nothing clips,
// f exceeds max_bm_factor, or the halved input would fall below max_bm_res of the DAC's range
// (f > max_bm_res / DAC step). Each recomputation is one array cycle of one core.
enum class BoundManagement { none, iterative };
BoundManagement bound_management_from_name(const std::string& name);  // throws on an unknown name

struct IoSpec {
  ConverterSpec dac;  // input DAC, bound 1 on abs-max-normalised inputs
  ConverterSpec adc;  // per-block ADC, bound in units of normalised partial sums (k = no clipping)
  // additive_constant: y_i += w_noise ||x_n||_2 xi; pcm_read: y_i += w_noise sqrt(sum_j |wn_ij| x_n,j^2) xi
  // (normalised weights wn and inputs x_n of one block); none or w_noise = 0: off.
  WeightNoise w_noise_type = WeightNoise::none;
  double w_noise = 0;
  bool weight_noise() const { return w_noise_type != WeightNoise::none && w_noise > 0; }
  NoiseManagement noise_management = NoiseManagement::abs_max;
  double nm_thres = 0;
  BoundManagement bound_management = BoundManagement::none;
  double max_bm_factor = 1000;  // aihwkit's default
  double max_bm_res = 0.25;     // aihwkit's default
  // Bound management can act: iterative, with an ADC that clips (a quantising one, bits > 0).
  bool bound_managed() const { return bound_management == BoundManagement::iterative && adc.bits > 0; }
  // True when every normalised input lies in [-1, 1] (abs_max without a cap: the default).
  bool inputs_within_one() const { return noise_management == NoiseManagement::abs_max && !(nm_thres > 0); }
  // The input scale s of a vector whose largest |x| is abs_max (0 for an all-zero vector).
  // none and constant use their scale whatever the input (an all-zero vector still gets its
  // converter noise, as in aihwkit); abs_max gives 0 for an all-zero vector (outputs exactly 0).
  float nm_scale(float abs_max) const {
    if (inputs_within_one()) return abs_max;
    switch (noise_management) {
      case NoiseManagement::none:
        return 1.0f;
      case NoiseManagement::constant:
        return static_cast<float>(nm_thres);
      default:
        return abs_max > 0 ? std::min(abs_max, static_cast<float>(nm_thres)) : 0.0f;
    }
  }
};

class HardwareGemm : public models::MappedGemm {
 public:
  // The workload and the realizer must outlive this object.
  HardwareGemm(const models::CompiledWorkload& wl, const BlockRealizer& realizer, const IoSpec& io, const RandomStream& rng);

  // Sample b of the next batches is inference draw `draw_base + b`.
  void set_draw_base(uint64_t base) { m_draw_base = base; }
  // Call after the realizer's noise instant is set for a batch (not thread-safe): when the
  // realizer's weights do not depend on the draw, they are materialised once here for the batch.
  void prepare_batch();
  // Digital output gain of a layer (drift compensation, applied after accumulation); default 1.
  void set_gain(int64_t layer, double alpha);
  double gain(int64_t layer) const;
  // Digital gain per (block, output row of the block) of one layer group, [P Q k] (drift
  // compensation per tile or per column, docs/pcm_drift_compensation.md §2): applied to each
  // block's partial sums after the ADC, before they are accumulated. Empty: none (the default).
  void set_block_gains(int64_t layer, int64_t group, std::vector<float> gains);
  const std::vector<float>& block_gains(int64_t layer, int64_t group) const;
  // The mapping's digital scale per (block, output row), [P Q k] (Technology::row_scales; PCM
  // column-wise weight scaling): multiplies the block gains. Empty: none (the default).
  void set_row_scales(int64_t layer, int64_t group, std::vector<float> scales);

  void gemm(int64_t layer, int64_t group, int64_t sample, const float* x, bool x_trans, int64_t n, float* y,
            bool y_trans) override;
  // The fused per-block-ADC path reading the convolution windows straight from the image (k = 8,
  // quantising noise-free ADC, noise-free DAC of <= 22 bits); false otherwise.
  bool conv_same_width(int64_t layer, int64_t group, int64_t sample, const float* image, const models::SameWidthConv& c, float* y,
                       const models::ConvEpilogue* ep = nullptr) override;
  // Block recomputations made by bound management since construction (each one array cycle of
  // one core, for one input vector).
  int64_t bound_reruns() const { return m_bm_reruns.load(std::memory_order_relaxed); }

 private:
  bool fused_adc() const;
  // The weights of a draw: the batch cache, or realised into this thread's buffers.
  void weights(int64_t layer, int64_t group, uint64_t draw, const float*& wn, const float*& scale) const;
  // Fills this thread's per-(block, row) scale x ADC step (x block gain); returns whether partial sums may need clipping.
  bool adc_setup(int64_t blocks, const float* wn, const float* scale, const float* bgain) const;
  const float* bgain(int64_t layer, int64_t group) const;
  // y = acc * column scale * layer gain from this thread's buffers.
  void write_output(int64_t layer, int64_t rows, int64_t n, int64_t ld, float* y, bool y_trans) const;

  const models::CompiledWorkload& m_wl;
  const BlockRealizer& m_realizer;
  IoSpec m_io;
  float m_adc_edge;  // m_io.adc.clip_edge(): bound management's test, computed once (a bisection)
  RandomStream m_rng;
  uint64_t m_draw_base = 0;
  std::vector<float> m_gain;
  std::vector<std::vector<std::vector<float>>> m_bgain;   // [layer][group] block-row gains (empty: none)
  std::vector<std::vector<std::vector<float>>> m_rscale;  // [layer][group] mapping row scales (empty: none)
  std::vector<std::vector<std::vector<float>>> m_bcomb;   // [layer][group] block gains x row scales (what the kernels use)
  void check_gains(int64_t layer, int64_t group, const std::vector<float>& v, const char* what) const;
  void combine_gains(int64_t layer, int64_t group);
  // Bound management of block (p, q) for input vector j (of n), whose partial sums clipped at
  // f = 1: recomputes it at f = 2, 4, ... (fresh converter and weight noise from `rng`, numbered
  // by (p, q, j)) from the vector's raw inputs xv[in xstride] (in < cols) and writes f x ADC(partial
  // sums at f) to out[i ostride], i < k; returns the recomputations made.
  int64_t bound_rerun(int64_t p, int64_t q, int64_t j, int64_t P, int64_t Q, int64_t n, int64_t cols, const float* xv,
                      int64_t xstride, float rscale, const float* wn, const RandomStream& rng, float* out, int64_t ostride) const;
  // The fused kernel's bound management for one panel (vectors j0 + c, c < 16): for every block
  // (p, q) and column c marked in hits[p Q + q] (the kernel added nothing for it), adds
  // scale x bound_rerun(...) to acc[(p k + i) ld + c]; vector c's raw inputs are
  // xv[c jstride + in xstride], its normalisation rscale[c]. Returns the recomputations made.
  int64_t bound_fix(int64_t P, int64_t Q, int64_t n, int64_t cols, int64_t j0, const uint16_t* hits, const float* xv,
                    int64_t xstride, int64_t jstride, const float* rscale, const float* wn, const float* scale, const float* bg,
                    const RandomStream& rng, float* acc, int64_t ld) const;
  mutable std::atomic<int64_t> m_bm_reruns{0};
  bool m_cached = false;
  std::vector<std::vector<std::vector<float>>> m_cache_wn, m_cache_scale;  // [layer][group]
  std::vector<std::vector<std::vector<float>>> m_cache_wpack;              // dense packed weights (ideal ADC, Conv layers)
};

// The ideal technology: the programmed weights exactly (wn = W / max|W_block|).
class IdealRealizer : public BlockRealizer {
 public:
  explicit IdealRealizer(const models::CompiledWorkload& wl) : m_wl(wl) {}
  void realize(int64_t layer, int64_t group, uint64_t draw, float* wn, float* scale) const override;

 private:
  const models::CompiledWorkload& m_wl;
};

// Kernel-level timing of the fused per-block ADC kernel (tools/bench: ptc_bench adckernel) on
// synthetic panels of P row blocks x Q column blocks (k = 8, 16 vectors per panel, 8-bit ADC at
// full scale k, half of the inputs zero), one thread: nanoseconds per partial sum, each the
// minimum of `reps` alternating runs over `panels` panels. Throws without AVX-512 or AVX2 + FMA
// (on AVX2 the noisy route draws each row block's normals into a buffer before its kernel).
struct AdcKernelTiming {
  double noiseless;          // no noise, no clip: the noiseless route when the full scale is k
  double clipped;            // the noisy route's frame without the noise: row block by row block, lanes seeded, clip
  double gaussian;           // ADC output noise: the simulator's 16-bit normals (hw/physics/normal16.h)
  double raw_bits;           // the same route adding raw random bits as numbers: no Gaussian shaping (a floor)
  double checksum;           // of the outputs (keeps the work observable)
  const char* kernels = "";  // "avx512" or "avx2": the kernels timed
};
AdcKernelTiming time_adc_kernel(int64_t P, int64_t Q, int64_t panels, int reps);

}  // namespace ptc::hw
