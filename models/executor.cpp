#include "models/executor.h"

#include <cblas.h>
#include <algorithm>

#include <omp.h>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <exception>
#include <limits>
#include <set>
#include <thread>

#include "models/error.h"

namespace ptc::models {

struct Executor::Plan {
  struct Step {
    std::string op, node;
    Kernel run;
    std::vector<int> in, out;
    std::vector<Shape> shapes;
    std::vector<DType> dtypes;
    KernelArgs args;
    // Relu, or Clip with bounds known at plan time: may be fused into the Conv producing its input.
    KernelArgs::Post fusable = KernelArgs::Post::None;
    float lo = 0.0f, hi = 0.0f;
  };
  std::vector<Shape> input_shapes;
  std::vector<const Tensor*> values;           // by value index
  std::vector<std::unique_ptr<Tensor>> owned;  // statics and buffers (stable addresses)
  std::vector<Step> steps;
  std::vector<int> input_idx, output_idx;
  std::vector<const Tensor*> input_values;  // per graph input: the int64 values this plan is for
  size_t scratch_floats = 0;                // per-thread kernel scratch, all threads (the executor's m_scratch)
  std::map<std::string, Shape> shapes;
};

namespace {

struct Builder {
  std::map<std::string, int> index;
  std::vector<ValueState> state;

  int idx(const std::string& name) {
    auto it = index.find(name);
    if (it != index.end()) return it->second;
    int k = static_cast<int>(state.size());
    index[name] = k;
    state.emplace_back();
    return k;
  }
};

}  // namespace

std::unique_ptr<Executor::Plan> Executor::build(const std::vector<Shape>& shapes, bool allocate,
                                                const std::vector<const Tensor*>* values) const {
  const Graph& g = m_graph;
  if (shapes.size() != g.inputs.size())
    throw Error("the model has " + std::to_string(g.inputs.size()) + " inputs, got " + std::to_string(shapes.size()));
  auto plan = std::make_unique<Plan>();
  plan->input_shapes = shapes;
  Builder b;
  for (size_t k = 0; k < shapes.size(); ++k) {
    const ValueInfo& vi = g.inputs[k];
    const Shape& s = shapes[k];
    bool ok = vi.shape.empty() || vi.shape.size() == s.size();
    for (size_t d = 0; ok && d < vi.shape.size(); ++d) ok = vi.shape[d] < 0 || vi.shape[d] == s[d];
    if (!ok) throw Error("input '" + vi.name + "' has shape " + shape_str(s) + ", the model expects " + shape_str(vi.shape));
    checked_numel(s, "input '" + vi.name + "'");
    int i = b.idx(vi.name);
    b.state[i] = {s, vi.dtype, nullptr};
    if (vi.dtype == DType::i64 && values) {
      // int64 inputs are shape data: their values are part of the plan.
      plan->owned.push_back(std::make_unique<Tensor>(*(*values)[k]));
      plan->input_values.push_back(plan->owned.back().get());
      b.state[i].value = plan->owned.back().get();
    } else {
      plan->input_values.push_back(nullptr);
    }
    plan->input_idx.push_back(i);
  }
  for (const auto& [name, t] : g.constants) {
    int i = b.idx(name);
    b.state[i] = {t.shape, t.dtype, &t};
  }

  for (Vertex v : g.order) {
    const Node& n = g.node(v);
    std::vector<ValueState> ins;
    std::vector<int> in_idx;
    bool all_known = true;
    for (const auto& name : n.inputs) {
      if (name.empty()) {
        ins.emplace_back();
        in_idx.push_back(-1);
        continue;
      }
      int i = b.idx(name);
      ins.push_back(b.state[i]);
      in_idx.push_back(i);
      all_known &= b.state[i].value != nullptr;
    }
    Prepared p = find_op(n.op)(n, ins, g.opset);
    std::vector<int> out_idx;
    for (size_t k = 0; k < n.outputs.size(); ++k) out_idx.push_back(n.outputs[k].empty() ? -1 : b.idx(n.outputs[k]));
    bool all_static = std::all_of(p.statics.begin(), p.statics.end(), [](const auto& s) { return s.has_value(); });
    if (!all_static && all_known) {
      // Every input is known for this plan (e.g. a shape computation): evaluate now.
      std::vector<const Tensor*> cins;
      for (int i : in_idx) cins.push_back(i < 0 ? nullptr : b.state[i].value);
      std::vector<Tensor> outs = evaluate_node(n, cins, g.opset);
      for (size_t k = 0; k < outs.size(); ++k) p.statics[k] = std::move(outs[k]);
      all_static = true;
    }
    for (size_t k = 0; k < out_idx.size() && k < p.shapes.size(); ++k) {
      if (out_idx[k] < 0) continue;
      checked_numel(p.shapes[k], n.where() + " output " + std::to_string(k));
      ValueState& st = b.state[out_idx[k]];
      st = {p.shapes[k], p.dtypes[k], nullptr};
      if (p.statics[k]) {
        plan->owned.push_back(std::make_unique<Tensor>(std::move(*p.statics[k])));
        st.value = plan->owned.back().get();
      }
      plan->shapes[n.outputs[k]] = p.shapes[k];
    }
    if (all_static) continue;
    Plan::Step step;
    step.op = n.op;
    step.node = n.name;
    step.run = std::move(p.run);
    step.in = in_idx;
    step.out = out_idx;
    step.shapes = p.shapes;
    step.dtypes = p.dtypes;
    if (n.op == "Relu" && in_idx.size() == 1 && in_idx[0] >= 0) step.fusable = KernelArgs::Post::Relu;
    if (n.op == "Clip" && !in_idx.empty() && in_idx[0] >= 0) {
      // The bounds prep_clip would read: attributes before opset 11, else optional scalar inputs
      // that must be known now (constants) for the fusion.
      float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
      bool known = true;
      if (g.opset < 11) {
        lo = n.attr_f("min", lo);
        hi = n.attr_f("max", hi);
      } else {
        for (size_t k = 1; k < 3 && k < in_idx.size(); ++k) {
          if (in_idx[k] < 0) continue;
          const Tensor* t = b.state[in_idx[k]].value;
          if (!t || t->dtype != DType::f32 || t->f.size() != 1) {
            known = false;
            continue;
          }
          (k == 1 ? lo : hi) = t->f[0];
        }
      }
      if (known) {
        step.fusable = KernelArgs::Post::Clip;
        step.lo = lo;
        step.hi = hi;
      }
    }
    plan->steps.push_back(std::move(step));
    plan->scratch_floats = std::max(plan->scratch_floats, p.scratch_floats * static_cast<size_t>(m_threads));
  }
  for (const auto& o : g.outputs) {
    auto it = b.index.find(o.name);
    if (it == b.index.end()) throw Error("graph output '" + o.name + "' is never produced");
    plan->output_idx.push_back(it->second);
  }
  for (const auto& in : g.inputs) plan->shapes[in.name] = b.state[b.index.at(in.name)].shape;

  // Epilogue fusion: a Relu or Clip whose input is a Conv output that nothing else reads (and
  // that is no graph output) becomes the Conv's epilogue (KernelArgs::post): the step is dropped
  // and its readers read the Conv's output, which the Conv clamps sample by sample.
  {
    const size_t nv = b.state.size();
    std::vector<int> readers(nv, 0), producer(nv, -1), alias(nv);
    std::vector<char> is_output(nv, 0), drop(plan->steps.size(), 0);
    for (size_t s = 0; s < plan->steps.size(); ++s) {
      for (int i : plan->steps[s].in)
        if (i >= 0) ++readers[i];
      for (int o : plan->steps[s].out)
        if (o >= 0) producer[o] = static_cast<int>(s);
    }
    for (int i : plan->output_idx) is_output[i] = 1;
    for (size_t i = 0; i < nv; ++i) alias[i] = static_cast<int>(i);
    for (size_t c = 0; c < plan->steps.size(); ++c) {
      Plan::Step& cs = plan->steps[c];
      if (cs.fusable == KernelArgs::Post::None || cs.out.size() != 1 || cs.out[0] < 0) continue;
      const int v = cs.in[0];
      const int s = producer[v];
      if (s < 0 || readers[v] != 1 || is_output[v]) continue;
      Plan::Step& conv = plan->steps[s];
      if (conv.op != "Conv" || conv.args.post != KernelArgs::Post::None || conv.dtypes[0] != DType::f32) continue;
      conv.args.post = cs.fusable;
      conv.args.post_lo = cs.lo;
      conv.args.post_hi = cs.hi;
      alias[cs.out[0]] = v;
      drop[c] = 1;
    }
    std::vector<Plan::Step> kept;
    for (size_t s = 0; s < plan->steps.size(); ++s) {
      if (drop[s]) continue;
      for (int& i : plan->steps[s].in)
        if (i >= 0) i = alias[i];
      kept.push_back(std::move(plan->steps[s]));
    }
    plan->steps = std::move(kept);
    for (int& i : plan->output_idx) i = alias[i];
  }

  // Buffer assignment: a value's buffer returns to the free list after its last reader.
  size_t nv = b.state.size();
  constexpr long kNever = -1, kKeep = LONG_MAX;
  std::vector<long> last_use(nv, kNever);
  for (size_t s = 0; s < plan->steps.size(); ++s)
    for (int i : plan->steps[s].in)
      if (i >= 0) last_use[i] = static_cast<long>(s);
  for (int i : plan->output_idx) last_use[i] = kKeep;
  plan->values.assign(nv, nullptr);
  for (size_t i = 0; i < nv; ++i) plan->values[i] = b.state[i].value;
  struct Buf {
    size_t cap[2] = {0, 0};  // float32, int64 elements
  };
  std::vector<Buf> bufs;
  std::vector<int> free_list, buf_of(nv, -1);
  std::vector<bool> released(nv, false);
  auto release = [&](int i) {
    if (i < 0 || buf_of[i] < 0 || released[i]) return;
    released[i] = true;
    free_list.push_back(buf_of[i]);
  };
  for (size_t s = 0; s < plan->steps.size(); ++s) {
    auto& st = plan->steps[s];
    for (size_t k = 0; k < st.out.size() && k < st.shapes.size(); ++k) {
      int i = st.out[k];
      if (i < 0) continue;
      int t = st.dtypes[k] == DType::f32 ? 0 : 1;
      size_t need = static_cast<size_t>(checked_numel(st.shapes[k], "activation"));
      // Best fit: the smallest free buffer that holds `need`, else the largest one (it grows).
      int best = -1;
      for (size_t f = 0; f < free_list.size(); ++f) {
        if (best < 0) {
          best = static_cast<int>(f);
          continue;
        }
        size_t cap = bufs[free_list[f]].cap[t], cur = bufs[free_list[best]].cap[t];
        bool fits = cap >= need, cur_fits = cur >= need;
        if ((fits && (!cur_fits || cap < cur)) || (!fits && !cur_fits && cap > cur)) best = static_cast<int>(f);
      }
      int id;
      if (best >= 0) {
        id = free_list[best];
        free_list.erase(free_list.begin() + best);
      } else {
        id = static_cast<int>(bufs.size());
        bufs.emplace_back();
      }
      bufs[id].cap[t] = std::max(bufs[id].cap[t], need);
      buf_of[i] = id;
    }
    for (int i : st.in)
      if (i >= 0 && last_use[i] == static_cast<long>(s)) release(i);
    for (int i : st.out)
      if (i >= 0 && last_use[i] == kNever) release(i);  // written but never read
  }
  if (!allocate) return plan;
  for (auto& st : plan->steps) {
    auto it = m_layer_of.find(st.node);
    st.args.layer = it == m_layer_of.end() ? -1 : it->second;
  }
  if (m_scratch_floats < plan->scratch_floats) {  // not value-initialised: pages never touched cost no memory
    m_scratch.reset(new float[plan->scratch_floats]);
    m_scratch_floats = plan->scratch_floats;
  }
  // Activation buffers come from the executor's pool, shared by all cached plans (one plan runs
  // at a time): buffer b of every plan is pool tensor b, as large as the largest need.
  std::vector<Tensor*> buffers;
  for (size_t b = 0; b < bufs.size(); ++b) {
    if (m_pool.size() <= b) m_pool.push_back(std::make_unique<Tensor>());
    Tensor* t = m_pool[b].get();
    t->f.reserve(bufs[b].cap[0]);
    t->i.reserve(bufs[b].cap[1]);
    buffers.push_back(t);
  }
  for (auto& st : plan->steps) {
    st.args.in.assign(st.in.size(), nullptr);
    st.args.out.assign(st.out.size(), nullptr);
    for (size_t k = 0; k < st.out.size(); ++k)
      if (st.out[k] >= 0) {
        Tensor* t = buffers[buf_of[st.out[k]]];
        st.args.out[k] = t;
        plan->values[st.out[k]] = t;
      }
  }
  return plan;
}

std::map<std::string, Shape> infer_shapes(const Graph& g, const std::vector<Shape>& input_shapes) {
  return Executor(g).shapes_for(input_shapes);
}

std::map<std::string, Shape> Executor::shapes_for(const std::vector<Shape>& input_shapes) const {
  return build(input_shapes, false, nullptr)->shapes;
}

int resolve_threads(int asked) {
  int n = asked;
  if (n <= 0) {
    const char* env = std::getenv("PTC_THREADS");
    n = env ? std::atoi(env) : static_cast<int>(std::thread::hardware_concurrency());
  }
  // The command line's range ([1, 1024]: --threads, threads, PTC_THREADS); it clamped to 256, so
  // --threads 512 was accepted and ran on 256.
  return std::max(1, std::min(n, 1024));
}

Executor::Executor(const Graph& graph, int threads) : m_graph(graph), m_threads(resolve_threads(threads)) {
  // ptcsim parallelises over samples itself; BLAS threads on top would oversubscribe the cores.
  openblas_set_num_threads(1);
}
Executor::~Executor() = default;

Executor::Plan& Executor::plan_for(const std::vector<const Tensor*>& inputs) {
  for (auto it = m_plans.begin(); it != m_plans.end(); ++it) {
    bool same = (*it)->input_shapes.size() == inputs.size();
    for (size_t k = 0; same && k < inputs.size(); ++k) {
      same = (*it)->input_shapes[k] == inputs[k]->shape;
      if (same && (*it)->input_values[k]) same = (*it)->input_values[k]->i == inputs[k]->i;
    }
    if (same) {
      if (it != m_plans.begin()) m_plans.splice(m_plans.begin(), m_plans, it);
      return *m_plans.front();
    }
  }
  std::vector<Shape> shapes;
  for (const Tensor* t : inputs) shapes.push_back(t->shape);
  m_plans.push_front(build(shapes, true, &inputs));
  if (m_plans.size() > 4) m_plans.pop_back();
  return *m_plans.front();
}

const std::vector<const Tensor*>& Executor::run(const std::vector<const Tensor*>& inputs) {
  if (inputs.size() != m_graph.inputs.size())
    throw Error("the model has " + std::to_string(m_graph.inputs.size()) + " inputs, got " + std::to_string(inputs.size()));
  for (size_t k = 0; k < inputs.size(); ++k)
    if (inputs[k]->dtype != m_graph.inputs[k].dtype)
      throw Error("input '" + m_graph.inputs[k].name + "' must be " + dtype_name(m_graph.inputs[k].dtype));
  if (m_threads > 1 && !m_profile && m_mapped && inputs.size() == 1 && inputs[0]->dtype == DType::f32 && inputs[0]->rank() >= 1 &&
      inputs[0]->shape[0] >= 2 && sample_parallel(inputs[0]->shape))
    return run_sample_parallel(*inputs[0]);
  Plan& p = plan_for(inputs);
  for (size_t k = 0; k < inputs.size(); ++k)
    if (!p.input_values[k]) p.values[p.input_idx[k]] = inputs[k];
  for (auto& st : p.steps) {
    for (size_t k = 0; k < st.in.size(); ++k) st.args.in[k] = st.in[k] < 0 ? nullptr : p.values[st.in[k]];
    for (size_t k = 0; k < st.out.size(); ++k)
      if (st.args.out[k]) st.args.out[k]->reshape_storage(st.dtypes[k], st.shapes[k]);
    st.args.scratch = m_scratch.get();
    st.args.threads = m_threads;
    st.args.mapped = m_mapped;
    st.args.sample_base = m_sample_base;
    if (m_profile) {
      auto t0 = std::chrono::steady_clock::now();
      st.run(st.args);
      m_profile_s[st.op] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    } else {
      st.run(st.args);
    }
  }
  m_outputs.clear();
  for (int i : p.output_idx) m_outputs.push_back(p.values[i]);
  return m_outputs;
}

void Executor::set_mapped(MappedGemm* mapped, const std::map<std::string, int64_t>& layer_of_node) {
  m_mapped = mapped;
  m_layer_of = layer_of_node;
  m_separable.clear();  // depends on which layers are mapped
  for (auto& sub : m_sub) sub->set_mapped(mapped, layer_of_node);
  for (auto& p : m_plans)
    for (auto& st : p->steps) {
      auto it = m_layer_of.find(st.node);
      st.args.layer = it == m_layer_of.end() ? -1 : it->second;
    }
}

const Tensor& Executor::run(const Tensor& input) {
  if (m_graph.outputs.size() != 1)
    throw Error("the model has " + std::to_string(m_graph.outputs.size()) + " outputs, expected 1");
  return *run(std::vector<const Tensor*>{&input})[0];
}

bool Executor::sample_parallel(const Shape& input_shape) {
  auto known = m_separable.find(input_shape);
  if (known != m_separable.end()) return known->second;
  const int64_t N = input_shape[0];
  std::map<std::string, const Node*> node_of;
  for (Vertex v : m_graph.order) node_of[m_graph.node(v).name] = &m_graph.node(v);
  bool ok = true;
  try {
    std::unique_ptr<Plan> plan = build({input_shape}, false, nullptr);
    // Ops that compute each sample of dim 0 alone (given the checks below).
    static const std::set<std::string> per_sample = {"Conv",
                                                     "Gemm",
                                                     "MatMul",
                                                     "MaxPool",
                                                     "AveragePool",
                                                     "GlobalAveragePool",
                                                     "GlobalMaxPool",
                                                     "Relu",
                                                     "LeakyRelu",
                                                     "Clip",
                                                     "Sigmoid",
                                                     "Tanh",
                                                     "BatchNormalization",
                                                     "Add",
                                                     "Sub",
                                                     "Mul",
                                                     "Div",
                                                     "Flatten",
                                                     "Reshape",
                                                     "Slice",
                                                     "Concat",
                                                     "ReduceMean",
                                                     "Softmax",
                                                     "Identity",
                                                     "Dropout"};
    for (const auto& st : plan->steps) {
      const Node* n = node_of.count(st.node) ? node_of.at(st.node) : nullptr;
      ok = n && per_sample.count(st.op);
      // Every value a step makes has the batch as dim 0 ...
      for (const Shape& sh : st.shapes) ok = ok && !sh.empty() && sh[0] == N;
      // ... and so does every data input; parameter inputs (weights, bias, shape, slice bounds,
      // clip bounds, normalisation statistics) apply to all samples alike, and a data input with
      // fewer dims or size 1 in dim 0 broadcasts over the batch.
      for (size_t k = 0; ok && k < st.in.size(); ++k) {
        if (st.in[k] < 0) continue;
        const std::string& op = st.op;
        const bool parameter =
            (k >= 1 && (op == "Conv" || op == "BatchNormalization" || op == "Reshape" || op == "Slice" || op == "Clip")) ||
            (k == 1 && (op == "Gemm" || op == "MatMul"));
        if (parameter) continue;
        const std::string& name = n->inputs[k];
        const auto c = m_graph.constants.find(name);
        const auto it = plan->shapes.find(name);
        const Shape* sh = c != m_graph.constants.end() ? &c->second.shape : it != plan->shapes.end() ? &it->second : nullptr;
        ok = sh && (sh->size() < st.shapes[0].size() || (!sh->empty() && ((*sh)[0] == N || (*sh)[0] == 1)));
        if (ok && c != m_graph.constants.end()) ok = sh->size() < st.shapes[0].size() || (*sh)[0] == 1;
      }
      if (!ok) break;
      // Weight layers only on the hardware model (each sample alone); the ideal sgemm paths
      // multiply the whole batch at once.
      if (st.op == "Conv" || st.op == "Gemm" || st.op == "MatMul") ok = m_layer_of.count(st.node) > 0;
      if (st.op == "Gemm") ok = ok && n->attr_i("transA", 0) == 0;
      if (st.op == "MatMul") ok = ok && plan->shapes.at(n->inputs[0]).size() == 2;
      if (st.op == "Concat" || st.op == "Softmax") {
        const int64_t r = static_cast<int64_t>(st.shapes[0].size());
        int64_t axis = n->attr_i("axis", st.op == "Softmax" ? (m_graph.opset < 13 ? 1 : -1) : 0);
        if (axis < 0) axis += r;
        ok = ok && axis != 0;
      }
      if (st.op == "Flatten") ok = ok && n->attr_i("axis", 1) != 0;
      if (st.op == "Slice") {  // axis 0 must not be sliced (a full reverse slice keeps its size)
        std::vector<int64_t> axes;
        if (m_graph.opset < 10) {
          axes = n->attr_ints("axes", {});
          if (axes.empty()) axes = {0};  // starts/ends without axes cover axis 0 first
        } else if (n->input_given(3)) {
          const auto c = m_graph.constants.find(n->inputs[3]);
          if (c == m_graph.constants.end())
            ok = false;
          else
            axes = c->second.as_i64();
        } else {
          axes = {0};
        }
        const int64_t r = static_cast<int64_t>(st.shapes[0].size());
        for (int64_t a : axes) ok = ok && (a < 0 ? a + r : a) != 0;
      }
      if (!ok) break;
    }
    for (const auto& o : m_graph.outputs) {
      const auto it = plan->shapes.find(o.name);
      ok = ok && !m_graph.constants.count(o.name) && it != plan->shapes.end() && !it->second.empty() && it->second[0] == N;
    }
  } catch (const Error&) {
    ok = false;
  }
  m_separable[input_shape] = ok;
  return ok;
}

const std::vector<const Tensor*>& Executor::run_sample_parallel(const Tensor& x) {
  const int64_t N = x.shape[0];
  const int T = static_cast<int>(std::min<int64_t>(m_threads, N));
  while (static_cast<int>(m_sub.size()) < T) {
    m_sub.push_back(std::make_unique<Executor>(m_graph, 1));
    m_sub.back()->set_mapped(m_mapped, m_layer_of);
  }
  m_sub_in.resize(static_cast<size_t>(T));
  const int64_t per = x.numel() / N;
  std::vector<const std::vector<const Tensor*>*> outs(static_cast<size_t>(T), nullptr);
  std::vector<std::exception_ptr> err(static_cast<size_t>(T));
#pragma omp parallel num_threads(T)
  {
    const int t = omp_get_thread_num();
    try {
      const int64_t b0 = N * t / T, b1 = N * (t + 1) / T;
      Shape s = x.shape;
      s[0] = b1 - b0;
      Tensor& in = m_sub_in[static_cast<size_t>(t)];
      in.reshape_storage(DType::f32, s);
      std::copy(x.f.begin() + b0 * per, x.f.begin() + b1 * per, in.f.begin());
      Executor& sub = *m_sub[static_cast<size_t>(t)];
      sub.m_sample_base = m_sample_base + b0;
      outs[static_cast<size_t>(t)] = &sub.run(std::vector<const Tensor*>{&in});
    } catch (...) {
      err[static_cast<size_t>(t)] = std::current_exception();
    }
  }
  for (const auto& e : err)
    if (e) std::rethrow_exception(e);
  const size_t no = outs[0]->size();
  m_par_out.resize(no);
  m_outputs.clear();
  for (size_t k = 0; k < no; ++k) {
    const Tensor& first = *(*outs[0])[k];
    Shape s = first.shape;
    s[0] = N;
    if (!m_par_out[k]) m_par_out[k] = std::make_unique<Tensor>();
    Tensor& o = *m_par_out[k];
    o.reshape_storage(first.dtype, s);
    size_t at = 0;
    for (int t = 0; t < T; ++t) {
      const Tensor& part = *(*outs[static_cast<size_t>(t)])[k];
      if (part.dtype == DType::f32) {
        std::copy(part.f.begin(), part.f.end(), o.f.begin() + static_cast<long>(at));
        at += part.f.size();
      } else {
        std::copy(part.i.begin(), part.i.end(), o.i.begin() + static_cast<long>(at));
        at += part.i.size();
      }
    }
    m_outputs.push_back(&o);
  }
  return m_outputs;
}

void Executor::release() {
  m_plans.clear();
  m_pool.clear();
  m_scratch.reset();
  m_scratch_floats = 0;
  m_sub.clear();
  m_sub_in.clear();
  m_par_out.clear();
  m_outputs.clear();
}

size_t Executor::buffer_bytes() const {
  size_t n = 0;
  for (const auto& e : m_sub) n += e->buffer_bytes();
  for (const auto& p : m_plans)
    for (const auto& t : p->owned) n += t->f.capacity() * sizeof(float) + t->i.capacity() * sizeof(int64_t);
  for (const auto& t : m_pool) n += t->f.capacity() * sizeof(float) + t->i.capacity() * sizeof(int64_t);
  return n + m_scratch_floats * sizeof(float);
}

}  // namespace ptc::models
