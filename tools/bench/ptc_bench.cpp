// ptc_bench: in-process micro-benchmarks for tools/bench/run_bench.py.
//   ptc_bench executor [--model cnn3_fmnist] [--images 2000] [--threads 2] [--step 10000] [--adc-bits 8] [--profile 1]
//   ptc_bench overhead [--threads 2]   (fixed runtime overhead: RSS without model or data)
//   ptc_bench swim [--model lenet5_fmnist] [--images 1000] [--threads 2] [--batch 128]
//     SWIM's curvature (models/swim_curvature.h) over training images against the gradient alone
//     on the same batches, and whether h is bit-identical with 1 thread.
//   ptc_bench convnoise [--model cnn3_fmnist] [--images 1000] [--threads 2] [--noise 0.02]
//     Converter noise against the noiseless converters: the model on the ideal technology
//     (programmed weights, shared by all draws), 4x4 cores of 8x8 blocks, 8-bit DAC (bound 1) and
//     8-bit ADC (bound 8) as scenarios/hw/pcm_4x4x8.json; the same images evaluated without
//     converter noise, with ADC output noise std `noise` and with DAC noise std `noise`; the
//     noisy / noiseless time ratios, accuracies and whether the noisy logits are the same bytes
//     at 1 thread and at `threads`.
//   ptc_bench wnoise [--model cnn3_fmnist] [--images 1000] [--threads 2] [--w 0.0175]
//     Weight noise per MVM (aihwkit's w_noise, pcm_read and additive_constant; 0.0175 as its
//     hardware-aware training preset) with the same 8-bit converters as convnoise, against them
//     without it: time ratios, accuracies, logits the same bytes at 1 thread and at `threads`.
//   ptc_bench boundmgmt [--model cnn3_fmnist] [--images 1000] [--threads 2] [--bound 2]
//     Bound management (hw.mvm.bound_management = iterative) against none with the same 8-bit
//     converters at ADC full scale `bound`, and both at full scale 8 = k (nothing can clip): time
//     ratios over `none`, accuracies, recomputations per image.
//   ptc_bench adckernel [--p 8] [--q 72] [--panels 400] [--reps 5]
//     The fused ADC kernel alone (hw::time_adc_kernel), one thread: noiseless, with the
//     simulator's Gaussian ADC noise, and with raw random bits added instead (no Gaussian shaping,
//     the floor of any per-conversion generator); nanoseconds per partial sum and ratios.
// Noisy tiled forward: the model compiled onto DOCTOR's 4x4 array of 8x8 MRR banks (a = 0.865,
// r = 0.87), DOCTOR's "high" phase variation at `step` (a fresh sample per chunk and inference)
// and thermal crosstalk (kappa 0.1), 8-bit DAC and 8-bit ADC per block; every image is its own
// inference draw. The baseline is OpenBLAS sgemm doing the same multiply-accumulates (per image
// and weight layer a [rows x cols] x [cols x vectors] product), with the same threads in the same
// process. Prints one JSON object.
#include <cblas.h>
#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hw/device/mrr_bank.h"
#include "hw/hardware_gemm.h"
#include "models/compiler.h"
#include "models/dataset.h"
#include "models/executor.h"
#include "models/onnx_import.h"
#include "models/swim_curvature.h"

using namespace ptc;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int64_t kBatch = 16;  // as hw::Accelerator::classify

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

long peak_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

struct Options {
  std::string model = "cnn3_fmnist";
  int64_t images = 2000;
  int threads = 2;
  int64_t step = 10000;
  int adc_bits = 8;
  bool profile = false;  // --profile 1: per-op wall time of the timed noisy run ("op_seconds")
  std::string dump_std;  // write the phase-variation std map at `step` (JSON) for torch_reference.py
};

// Runs `images` test images through the executor in batches of kBatch (draw = image index);
// returns predictions, and the logits of the first `keep` images.
std::vector<int> classify(models::Executor& ex, hw::MrrBank& bank, hw::HardwareGemm& g, const models::Dataset& d,
                          const models::Preprocess& pre, int64_t images, int64_t step, std::vector<float>* logits, int64_t keep) {
  std::vector<int> pred(static_cast<size_t>(images));
  models::Tensor in;
  for (int64_t first = 0; first < images; first += kBatch) {
    const int64_t n = std::min<int64_t>(kBatch, images - first);
    bank.set_times(static_cast<uint64_t>(first), std::vector<hw::NoiseTime>(static_cast<size_t>(n), hw::NoiseTime{step, 0.0}));
    g.set_draw_base(static_cast<uint64_t>(first));
    models::fill_batch(d, pre, first, n, in);
    const models::Tensor& out = ex.run(in);
    const int64_t classes = out.shape[1];
    for (int64_t s = 0; s < n; ++s) {
      const float* row = out.f.data() + s * classes;
      int64_t best = 0;
      for (int64_t c = 1; c < classes; ++c)
        if (row[c] > row[best]) best = c;
      pred[static_cast<size_t>(first + s)] = static_cast<int>(best);
      if (logits && first + s < keep) logits->insert(logits->end(), row, row + classes);
    }
  }
  return pred;
}

int run_executor(const Options& o) {
  const std::string path = std::string(PTC_SOURCE_DIR) + "/models/zoo/" + o.model + ".onnx";
  models::Graph g = models::import_onnx(path);
  models::Preprocess pre = models::preprocess_for(g, path);
  models::Dataset test = models::load_fashion_mnist("test");
  models::CompiledWorkload wl = models::compile(g, models::TilingSpec{4, 4, 8, "cyclic"});
  const int64_t images = std::min<int64_t>(o.images, test.count);

  hw::MrrBankConfig cfg;
  cfg.noise = {hw::phase_variation_noise(hw::PhaseVariationParams{}),  // "high", edge -> corner
               hw::crosstalk_noise(hw::CrosstalkParams{})};            // kappa 0.1 /um
  hw::MrrBank bank(wl, cfg, hw::RandomStream(1, 0xde));
  if (!o.dump_std.empty()) {
    hw::PhaseVariation pv(hw::CoreArray{4, 4, 8}, hw::PhaseVariationParams{}, hw::RandomStream(1, 0xde).derive(11));
    nlohmann::json j = {{"step", o.step}, {"std_rad", pv.std_map(o.step)}};
    FILE* f = std::fopen(o.dump_std.c_str(), "w");
    if (!f) throw std::runtime_error("cannot write " + o.dump_std);
    std::fprintf(f, "%s\n", j.dump().c_str());
    std::fclose(f);
  }
  hw::IoSpec io;
  io.dac = {8, 1.0, 0};
  io.adc = {o.adc_bits, 8.0, 0};
  hw::HardwareGemm hg(wl, bank, io, hw::RandomStream(1, 0x5e));

  // Determinism: the same logits at 1 thread and at o.threads.
  std::vector<float> l1, lt;
  {
    models::Executor e1(g, 1);
    e1.set_mapped(&hg, wl.layer_index());
    classify(e1, bank, hg, test, pre, 96, o.step, &l1, 96);
  }
  {
    models::Executor et(g, o.threads);
    et.set_mapped(&hg, wl.layer_index());
    classify(et, bank, hg, test, pre, 96, o.step, &lt, 96);
  }
  const bool deterministic = l1.size() == lt.size() && std::memcmp(l1.data(), lt.data(), l1.size() * sizeof(float)) == 0;

  models::Executor ex(g, o.threads);
  ex.set_mapped(&hg, wl.layer_index());
  classify(ex, bank, hg, test, pre, 64, o.step, nullptr, 0);  // warm-up (plans, buffers)

  // Baseline: sgemm with the same shapes, the same threads (parallel over images, BLAS 1 thread).
  auto make_baseline = [&]() -> std::function<void(int64_t)> {
    openblas_set_num_threads(1);
    struct Shape3 {
      int m, n, k;
    };
    std::vector<Shape3> shapes;
    size_t a_max = 0, b_max = 0, c_max = 0;
    for (const auto& L : wl.layers)
      for (const auto& t : L.gemms) {
        Shape3 s{static_cast<int>(t.rows), static_cast<int>(L.num_vectors), static_cast<int>(t.cols)};
        shapes.push_back(s);
        a_max = std::max(a_max, static_cast<size_t>(s.m) * s.k);
        b_max = std::max(b_max, static_cast<size_t>(s.k) * s.n);
        c_max = std::max(c_max, static_cast<size_t>(s.m) * s.n);
      }
    auto A = std::make_shared<std::vector<std::vector<float>>>(static_cast<size_t>(o.threads));
    auto B = std::make_shared<std::vector<std::vector<float>>>(A->size());
    auto Cm = std::make_shared<std::vector<std::vector<float>>>(A->size());
    for (size_t t = 0; t < A->size(); ++t) {
      (*A)[t].assign(a_max, 0.01f);
      (*B)[t].assign(b_max, 0.5f);
      (*Cm)[t].assign(c_max, 0.0f);
    }
    const int threads = o.threads;
    return [A, B, Cm, shapes, threads](int64_t n_images) {
#pragma omp parallel for schedule(static) num_threads(threads)
      for (int64_t i = 0; i < n_images; ++i) {
        const int tid = omp_get_thread_num();
        for (const auto& s : shapes)
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.m, s.n, s.k, 1.0f, (*A)[tid].data(), s.k, (*B)[tid].data(),
                      s.n, 0.0f, (*Cm)[tid].data(), s.n);
      }
    };
  };

  // The noisy forward and its baseline timed alternately, kRepeats times each; the minimum of
  // each (the run least disturbed by other work on the machine) enters the ratio. The peak RSS
  // is taken after the first noisy run, before the baseline's own buffers exist.
  constexpr int kRepeats = 3;
  double noisy_s = 1e300, sgemm_s = 1e300;
  std::vector<int> pred;
  long executor_rss_kb = 0;
  std::function<void(int64_t)> sgemm_pass;
  for (int r = 0; r < kRepeats; ++r) {
    ex.set_profile(o.profile && r == 0);
    auto t0 = Clock::now();
    std::vector<int> p = classify(ex, bank, hg, test, pre, images, o.step, nullptr, 0);
    noisy_s = std::min(noisy_s, seconds_since(t0));
    ex.set_profile(false);
    if (r == 0)
      pred = std::move(p);
    else if (p != pred)
      throw std::runtime_error("noisy predictions differ between repeats of the same draws");
    if (r == 0) {
      executor_rss_kb = peak_rss_kb();
      sgemm_pass = make_baseline();
      sgemm_pass(64);  // warm-up
    }
    t0 = Clock::now();
    sgemm_pass(images);
    sgemm_s = std::min(sgemm_s, seconds_since(t0));
  }
  int64_t correct = 0;
  for (int64_t i = 0; i < images; ++i) correct += pred[static_cast<size_t>(i)] == test.labels[static_cast<size_t>(i)];

  // Effective-weight materialisation alone (MrrBank::realize of every layer group), per image.
  std::vector<float> wn, sc;
  const int64_t realize_images = std::min<int64_t>(images, 200);
  auto t0 = Clock::now();
  for (int64_t i = 0; i < realize_images; ++i)
    for (size_t l = 0; l < wl.layers.size(); ++l)
      for (size_t gi = 0; gi < wl.layers[l].gemms.size(); ++gi) {
        const auto& t = wl.layers[l].gemms[gi];
        wn.resize(t.blocks.size());
        sc.resize(static_cast<size_t>(t.P * t.Q));
        bank.realize(static_cast<int64_t>(l), static_cast<int64_t>(gi), static_cast<uint64_t>(i % 64), wn.data(), sc.data());
      }
  const double realize_s = seconds_since(t0) / static_cast<double>(realize_images);

  // State that must be resident: weights (latent + phases + scales), device state (PV std maps,
  // offsets), the test set.
  int64_t weights = 0;
  for (const auto& L : wl.layers)
    for (const auto& t : L.gemms) weights += static_cast<int64_t>(t.blocks.size());
  const double state_mb = (static_cast<double>(weights) * 4 * 4 + static_cast<double>(test.pixels.size())) / 1e6;

  nlohmann::json j = {{"model", o.model},
                      {"images", images},
                      {"threads", o.threads},
                      {"macs_per_image", wl.macs},
                      {"blocks", wl.blocks},
                      {"noisy_s", noisy_s},
                      {"noisy_images_per_s", static_cast<double>(images) / noisy_s},
                      {"accuracy", static_cast<double>(correct) / static_cast<double>(images)},
                      {"realize_ms_per_image", realize_s * 1e3},
                      {"sgemm_s", sgemm_s},
                      {"sgemm_images_per_s", static_cast<double>(images) / sgemm_s},
                      {"ratio_noisy_over_sgemm", noisy_s / sgemm_s},
                      {"timing", "minimum of 3 alternating runs each (noisy, sgemm)"},
                      {"deterministic_1_vs_n_threads", deterministic},
                      {"state_mb", state_mb},
                      {"peak_rss_mb", static_cast<double>(executor_rss_kb) / 1024.0},
                      {"peak_rss_note", "after the first timed noisy run, before the sgemm baseline's buffers"}};
  if (o.profile) j["op_seconds"] = ex.profile();
  std::printf("%s\n", j.dump().c_str());
  return 0;
}

// The fixed runtime overhead, measured: peak RSS of this process (code, shared libraries, C++
// runtime) after OpenMP has started its threads and OpenBLAS has run an sgemm of the largest
// benchmark shape on each of them (its per-thread buffers), with no model, weights or data.
int run_overhead(int threads) {
  openblas_set_num_threads(1);
  const int m = 64, n = 784, k = 576;  // CNN3's 64 -> 64 3x3 convolution on 28 x 28
#pragma omp parallel num_threads(threads)
  {
    std::vector<float> a(static_cast<size_t>(m) * k, 0.01f), b(static_cast<size_t>(k) * n, 0.5f), c(static_cast<size_t>(m) * n);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, c.data(), n);
  }
  nlohmann::json j = {{"threads", threads}, {"peak_rss_mb", static_cast<double>(peak_rss_kb()) / 1024.0}};
  std::printf("%s\n", j.dump().c_str());
  return 0;
}

int run_swim(const std::string& model, int64_t images, int threads, int64_t batch) {
  const std::string path = std::string(PTC_SOURCE_DIR) + "/models/zoo/" + model + ".onnx";
  models::Graph g = models::import_onnx(path);
  models::Preprocess pre = models::preprocess_for(g, path);
  std::vector<std::string> w;
  for (const auto& l : models::compile(g, models::TilingSpec{}).layers) w.push_back(l.weight);
  models::Dataset d = models::load_fashion_mnist("train", models::kFashionMnistDir, images);
  images = d.count;
  models::GradientEngine e(g, w, threads);
  models::swim_curvature(e, d, pre, std::min<int64_t>(batch, images), batch);  // warm-up: plans
  double curv_s = 1e300, grad_s = 1e300;
  models::SwimCurvature c;
  models::Tensor x;
  for (int rep = 0; rep < 3; ++rep) {
    auto t0 = Clock::now();
    c = models::swim_curvature(e, d, pre, images, batch);
    curv_s = std::min(curv_s, seconds_since(t0));
    t0 = Clock::now();
    for (int64_t first = 0; first < images; first += batch) {
      int64_t cnt = std::min(batch, images - first);
      models::fill_batch(d, pre, first, cnt, x);
      std::vector<int64_t> y(d.labels.begin() + first, d.labels.begin() + first + cnt);
      e.loss_and_grad(x, y);
    }
    grad_s = std::min(grad_s, seconds_since(t0));
  }
  models::GradientEngine e1(g, w, 1);
  const bool deterministic = models::swim_curvature(e1, d, pre, images, batch).h == c.h;
  int64_t weights = 0;
  for (const auto& l : c.h) weights += static_cast<int64_t>(l.size());
  nlohmann::json j = {{"model", model},
                      {"images", images},
                      {"batch", batch},
                      {"threads", threads},
                      {"weights", weights},
                      {"curvature_s", curv_s},
                      {"gradient_only_s", grad_s},
                      {"ratio_curvature_over_gradient", curv_s / grad_s},
                      {"timing", "minimum of 3 alternating runs each"},
                      {"deterministic_1_vs_n_threads", deterministic}};
  std::printf("%s\n", j.dump().c_str());
  return 0;
}

// The ideal technology with its weights shared by every draw (materialised once per batch).
class SharedIdeal : public hw::IdealRealizer {
 public:
  using hw::IdealRealizer::IdealRealizer;
  bool shared_across_draws() const override { return true; }
};

struct IoConfig {
  const char* name;
  hw::IoSpec io;
};

// The model on the ideal technology under each converter configuration, timed alternately (the
// first is the baseline of the ratios); `info` is added to the printed JSON object.
int run_io_configs(const std::string& model, int64_t images, int threads, const std::vector<IoConfig>& cfgs,
                   nlohmann::json info) {
  const std::string path = std::string(PTC_SOURCE_DIR) + "/models/zoo/" + model + ".onnx";
  models::Graph g = models::import_onnx(path);
  models::Preprocess pre = models::preprocess_for(g, path);
  models::Dataset test = models::load_fashion_mnist("test");
  models::CompiledWorkload wl = models::compile(g, models::TilingSpec{4, 4, 8, "cyclic"});
  images = std::min<int64_t>(images, test.count);
  SharedIdeal ideal(wl);
  // Batches of kBatch images, image i = inference draw i; returns the predictions (and the logits of all images).
  auto classify_io = [&](hw::HardwareGemm& hg, int nthreads, int64_t count, std::vector<float>* logits) {
    models::Executor ex(g, nthreads);
    ex.set_mapped(&hg, wl.layer_index());
    std::vector<int> pred(static_cast<size_t>(count));
    models::Tensor in;
    for (int64_t first = 0; first < count; first += kBatch) {
      const int64_t n = std::min<int64_t>(kBatch, count - first);
      hg.set_draw_base(static_cast<uint64_t>(first));
      hg.prepare_batch();
      models::fill_batch(test, pre, first, n, in);
      const models::Tensor& out = ex.run(in);
      const int64_t classes = out.shape[1];
      for (int64_t s = 0; s < n; ++s) {
        const float* row = out.f.data() + s * classes;
        pred[static_cast<size_t>(first + s)] = static_cast<int>(std::max_element(row, row + classes) - row);
        if (logits) logits->insert(logits->end(), row, row + classes);
      }
    }
    return pred;
  };
  std::vector<std::unique_ptr<hw::HardwareGemm>> hgs;
  for (const auto& c : cfgs) hgs.push_back(std::make_unique<hw::HardwareGemm>(wl, ideal, c.io, hw::RandomStream(1, 0x5e)));
  nlohmann::json runs = nlohmann::json::object();
  std::vector<double> best(cfgs.size(), 1e300);
  std::vector<std::vector<int>> preds(cfgs.size());
  for (size_t c = 0; c < cfgs.size(); ++c) {
    std::vector<float> l1, lt;
    classify_io(*hgs[c], 1, 48, &l1);
    classify_io(*hgs[c], threads, 48, &lt);
    runs[cfgs[c].name]["deterministic_1_vs_n_threads"] =
        l1.size() == lt.size() && std::memcmp(l1.data(), lt.data(), l1.size() * sizeof(float)) == 0;
  }
  // Timed alternately, 3 times each; the minimum of each enters the ratio.
  for (int r = 0; r < 3; ++r)
    for (size_t c = 0; c < cfgs.size(); ++c) {
      const auto t0 = Clock::now();
      std::vector<int> p = classify_io(*hgs[c], threads, images, nullptr);
      best[c] = std::min(best[c], seconds_since(t0));
      if (r == 0)
        preds[c] = std::move(p);
      else if (p != preds[c])
        throw std::runtime_error(std::string(cfgs[c].name) + ": predictions differ between repeats of the same draws");
    }
  for (size_t c = 0; c < cfgs.size(); ++c) {
    int64_t correct = 0;
    for (int64_t i = 0; i < images; ++i) correct += preds[c][static_cast<size_t>(i)] == test.labels[static_cast<size_t>(i)];
    auto& j = runs[cfgs[c].name];
    j["seconds"] = best[c];
    j["images_per_s"] = static_cast<double>(images) / best[c];
    j["accuracy"] = static_cast<double>(correct) / static_cast<double>(images);
    j[std::string("ratio_over_") + cfgs[0].name] = best[c] / best[0];
    j["bound_management_reruns_per_image"] =
        static_cast<double>(hgs[c]->bound_reruns()) / static_cast<double>(hgs[c]->bound_reruns() ? images * 3 + 96 : 1);
  }
  info["model"] = model;
  info["images"] = images;
  info["threads"] = threads;
  info["timing"] = "minimum of 3 alternating runs each";
  info["runs"] = runs;
  std::printf("%s\n", info.dump().c_str());
  return 0;
}

int run_convnoise(const std::string& model, int64_t images, int threads, double noise) {
  std::vector<IoConfig> cfgs(3);
  for (auto& c : cfgs) c.io = hw::IoSpec{{8, 1.0, 0}, {8, 8.0, 0}};
  cfgs[0].name = "noiseless";
  cfgs[1].name = "adc_noise";
  cfgs[1].io.adc.noise_std = noise;
  cfgs[2].name = "dac_noise";
  cfgs[2].io.dac.noise_std = noise;
  return run_io_configs(
      model, images, threads, cfgs,
      {{"noise_std", noise}, {"converters", "DAC 8 bit bound 1, ADC 8 bit bound 8, 4x4 cores of 8x8 blocks, ideal weights"}});
}

// Weight noise per MVM (aihwkit's w_noise, both types) against the same 8-bit converters without
// it. Weight noise takes the general per-block route (docs/converters_energy.md); the noiseless
// configuration runs on the fused kernel, the fastest route the simulator has.
int run_wnoise(const std::string& model, int64_t images, int threads, double w) {
  std::vector<IoConfig> cfgs(3);
  for (auto& c : cfgs) c.io = hw::IoSpec{{8, 1.0, 0}, {8, 8.0, 0}};
  cfgs[0].name = "noiseless";
  cfgs[1].name = "pcm_read";
  cfgs[1].io.w_noise_type = hw::WeightNoise::pcm_read;
  cfgs[1].io.w_noise = w;
  cfgs[2].name = "additive_constant";
  cfgs[2].io.w_noise_type = hw::WeightNoise::additive_constant;
  cfgs[2].io.w_noise = w;
  return run_io_configs(
      model, images, threads, cfgs,
      {{"w_noise", w}, {"converters", "DAC 8 bit bound 1, ADC 8 bit bound 8, 4x4 cores of 8x8 blocks, ideal weights"}});
}

// Bound management (aihwkit's iterative) against none at the same ADC full scale `bound`, and at
// full scale 8 = k where nothing can clip (its cost when idle).
int run_boundmgmt(const std::string& model, int64_t images, int threads, double bound) {
  std::vector<IoConfig> cfgs(4);
  cfgs[0] = {"none", hw::IoSpec{{8, 1.0, 0}, {8, bound, 0}}};
  cfgs[1] = {"iterative", cfgs[0].io};
  cfgs[1].io.bound_management = hw::BoundManagement::iterative;
  cfgs[2] = {"none_bound8", hw::IoSpec{{8, 1.0, 0}, {8, 8.0, 0}}};
  cfgs[3] = {"iterative_bound8", cfgs[2].io};
  cfgs[3].io.bound_management = hw::BoundManagement::iterative;
  return run_io_configs(
      model, images, threads, cfgs,
      {{"adc_bound", bound}, {"converters", "DAC 8 bit bound 1, 8-bit ADC, 4x4 cores of 8x8 blocks, ideal weights"}});
}

// ADC noise at the kernel: the fused per-block ADC kernel on synthetic panels shaped as CNN3's
// 64 x 576 convolutions (P = 8 row blocks, Q = 72 column blocks), one thread, nanoseconds per
// partial sum: noiseless, the noisy route's frame without noise, the simulator's Gaussian ADC
// noise, and the same route adding raw random bits (no Gaussian shaping: a floor for any exact
// per-conversion generator).
int run_adckernel(int64_t P, int64_t Q, int64_t panels, int reps) {
  const hw::AdcKernelTiming t = hw::time_adc_kernel(P, Q, panels, reps);
  nlohmann::json j;
  j["shape"] = {{"row_blocks", P}, {"column_blocks", Q}, {"panels", panels}, {"k", 8}, {"vectors_per_panel", 16}};
  j["timing"] = "one thread, minimum of " + std::to_string(reps) + " alternating runs";
  j["kernels"] = t.kernels;
  j["ns_per_partial_sum"] = {{"noiseless", t.noiseless},
                             {"clipped_frame", t.clipped},
                             {"gaussian_adc_noise", t.gaussian},
                             {"raw_bits_floor", t.raw_bits}};
  j["ratio_over_noiseless"] = {{"clipped_frame", t.clipped / t.noiseless},
                               {"gaussian_adc_noise", t.gaussian / t.noiseless},
                               {"raw_bits_floor", t.raw_bits / t.noiseless}};
  j["checksum"] = t.checksum;
  std::printf("%s\n", j.dump().c_str());
  return 0;
}

// The --key value pairs after a subcommand; every key must be one of `opts`.
using Setter = std::function<void(const std::string&)>;
void parse_options(int argc, char** argv, const std::vector<std::pair<std::string, Setter>>& opts) {
  for (int i = 2; i < argc; i += 2) {
    const std::string k = argv[i];
    if (i + 1 >= argc) throw std::runtime_error("option " + k + " needs a value");
    const auto it = std::find_if(opts.begin(), opts.end(), [&](const auto& o) { return o.first == k; });
    if (it == opts.end()) throw std::runtime_error("unknown option " + k);
    it->second(argv[i + 1]);
  }
}
Setter set(std::string& v) {
  return [&v](const std::string& s) { v = s; };
}
Setter set(int64_t& v) {
  return [&v](const std::string& s) { v = std::stoll(s); };
}
Setter set(int& v) {
  return [&v](const std::string& s) { v = std::stoi(s); };
}
Setter set(double& v) {
  return [&v](const std::string& s) { v = std::stod(s); };
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string cmd = argc >= 2 ? argv[1] : "";
    std::string model = "cnn3_fmnist";
    int64_t images = 1000;
    int threads = 2;
    if (cmd == "overhead") {
      parse_options(argc, argv, {{"--threads", set(threads)}});
      return run_overhead(threads);
    }
    if (cmd == "swim") {
      model = "lenet5_fmnist";
      int64_t batch = 128;
      parse_options(argc, argv,
                    {{"--model", set(model)}, {"--images", set(images)}, {"--threads", set(threads)}, {"--batch", set(batch)}});
      return run_swim(model, images, threads, batch);
    }
    if (cmd == "boundmgmt") {
      double bound = 2.0;
      parse_options(argc, argv,
                    {{"--model", set(model)}, {"--images", set(images)}, {"--threads", set(threads)}, {"--bound", set(bound)}});
      return run_boundmgmt(model, images, threads, bound);
    }
    if (cmd == "convnoise") {
      double noise = 0.02;
      parse_options(argc, argv,
                    {{"--model", set(model)}, {"--images", set(images)}, {"--threads", set(threads)}, {"--noise", set(noise)}});
      return run_convnoise(model, images, threads, noise);
    }
    if (cmd == "wnoise") {
      double w = 0.0175;
      parse_options(argc, argv,
                    {{"--model", set(model)}, {"--images", set(images)}, {"--threads", set(threads)}, {"--w", set(w)}});
      return run_wnoise(model, images, threads, w);
    }
    if (cmd == "adckernel") {
      int64_t P = 8, Q = 72, panels = 400;
      int reps = 5;
      parse_options(argc, argv, {{"--p", set(P)}, {"--q", set(Q)}, {"--panels", set(panels)}, {"--reps", set(reps)}});
      return run_adckernel(P, Q, panels, reps);
    }
    if (cmd != "executor") {
      std::fprintf(stderr,
                   "usage: ptc_bench executor [--model NAME] [--images N] [--threads T] [--step S] [--adc-bits B] [--profile 1]\n"
                   "       ptc_bench overhead [--threads T]\n"
                   "       ptc_bench swim [--model NAME] [--images N] [--threads T] [--batch B]\n"
                   "       ptc_bench convnoise [--model NAME] [--images N] [--threads T] [--noise STD]\n"
                   "       ptc_bench boundmgmt [--model NAME] [--images N] [--threads T] [--bound B]\n"
                   "       ptc_bench wnoise [--model NAME] [--images N] [--threads T] [--w W_NOISE]\n"
                   "       ptc_bench adckernel [--p ROW_BLOCKS] [--q COLUMN_BLOCKS] [--panels N] [--reps R]\n");
      return 2;
    }
    Options o;
    std::string profile;
    parse_options(argc, argv,
                  {{"--model", set(o.model)},
                   {"--images", set(o.images)},
                   {"--threads", set(o.threads)},
                   {"--step", set(o.step)},
                   {"--adc-bits", set(o.adc_bits)},
                   {"--dump-std", set(o.dump_std)},
                   {"--profile", set(profile)}});
    o.profile = profile == "1";
    return run_executor(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ptc_bench: %s\n", e.what());
    return 1;
  }
}
