// The reference (ideal, noise-free) executor: runs a Graph on batched float32 inputs.
// Contract: a plan is built once per set of input shapes (and int64 input values, which are
// shape data) (shape inference, static evaluation of
// shape subgraphs, buffer assignment with reuse of dead activations; the cached plans share one
// pool of activation buffers) and cached; run() then calls
// only the prepared kernels (im2col + OpenBLAS sgemm for Conv/Gemm/MatMul) with no allocations.
// With the weight layers on a hardware model and threads > 1, batches run sample-parallel (below).
// Output references stay valid until the next run(). Not thread-safe: one Executor per thread.
#pragma once

#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "models/graph.h"
#include "models/ops.h"

namespace ptc::models {

// Shapes of every value for the given graph-input shapes (throws on a dim that does not fit).
std::map<std::string, Shape> infer_shapes(const Graph& g, const std::vector<Shape>& input_shapes);

// The threads an executor (or gradient engine) asked for `asked` runs on: asked > 0 as it is,
// else $PTC_THREADS, else all hardware threads; within [1, 1024] (the command line's range).
int resolve_threads(int asked);

class Executor {
 public:
  // The graph must outlive the executor. threads <= 0: $PTC_THREADS, else all hardware threads.
  // Outputs are bit-identical for any thread count.
  explicit Executor(const Graph& graph, int threads = 0);
  // The threads it runs on: as asked, within [1, 1024] (the command line's range).
  int threads() const { return m_threads; }
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Inputs in graph-input order; returns outputs in graph-output order.
  const std::vector<const Tensor*>& run(const std::vector<const Tensor*>& inputs);
  // Single-input, single-output convenience.
  const Tensor& run(const Tensor& input);

  const Graph& graph() const { return m_graph; }
  // Shape of every value for the given input shapes (no buffers are allocated).
  std::map<std::string, Shape> shapes_for(const std::vector<Shape>& input_shapes) const;
  // Runs the weight layers named in `layer_of_node` (node name -> compiled layer index) through
  // `mapped` (the hardware model); nullptr restores dense ideal weights. `mapped` must outlive
  // the runs that use it.
  void set_mapped(MappedGemm* mapped, const std::map<std::string, int64_t>& layer_of_node);

  // Per-op-type wall time of run() calls while profiling is on (seconds).
  void set_profile(bool on) { m_profile = on; }
  const std::map<std::string, double>& profile() const { return m_profile_s; }
  // Frees the cached plans and their buffers (rebuilt on the next run()): for an executor that
  // runs rarely, so that it does not hold its memory while others run.
  void release();
  // Bytes held by the cached plans' activation buffers (for memory reporting).
  size_t buffer_bytes() const;

 private:
  struct Plan;
  Plan& plan_for(const std::vector<const Tensor*>& inputs);
  // values: the run's inputs (int64 inputs become plan constants), or null for shapes only.
  std::unique_ptr<Plan> build(const std::vector<Shape>& shapes, bool allocate, const std::vector<const Tensor*>* values) const;

  // Sample-parallel mode (threads > 1, weight layers on the hardware model, every step acting on
  // each sample alone): the batch is split into one slice per thread and each slice runs the
  // whole graph on a single-threaded sub-executor, in one parallel region per run() instead of
  // one per layer (the layers in between -- pooling, slicing, activations -- run in parallel
  // too). The same bits: every kernel computes each sample alone, and the hardware model numbers
  // draws by global sample index (KernelArgs::sample_base).
  bool sample_parallel(const Shape& input_shape);
  const std::vector<const Tensor*>& run_sample_parallel(const Tensor& input);

  const Graph& m_graph;
  std::map<Shape, bool> m_separable;                    // per input shape: sample-parallel mode applies
  std::vector<std::unique_ptr<Executor>> m_sub;         // one single-threaded executor per thread
  std::vector<Tensor> m_sub_in;                         // per thread: its slice of the input batch
  std::vector<std::unique_ptr<Tensor>> m_par_out;       // the outputs, gathered from the slices
  int64_t m_sample_base = 0;                            // this executor's sample 0 in the batch
  std::list<std::unique_ptr<Plan>> m_plans;             // most recently used first
  mutable std::vector<std::unique_ptr<Tensor>> m_pool;  // activation buffers shared by the plans
  mutable std::unique_ptr<float[]> m_scratch;           // kernel scratch shared by the plans
  mutable size_t m_scratch_floats = 0;
  std::vector<const Tensor*> m_outputs;
  int m_threads = 1;
  MappedGemm* m_mapped = nullptr;
  std::map<std::string, int64_t> m_layer_of;
  bool m_profile = false;
  std::map<std::string, double> m_profile_s;
};

}  // namespace ptc::models
