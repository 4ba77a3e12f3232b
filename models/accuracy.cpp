#include "models/accuracy.h"

#include <algorithm>
#include <map>

#include "models/error.h"

namespace ptc::models {

int64_t check_classifier(const Graph& g, const Preprocess& p, int64_t labels, bool fixed_batch_ok) {
  auto names = [](const std::vector<ValueInfo>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "'" : ", '") + x.name + "'";
    return s;
  };
  if (g.inputs.size() != 1)
    throw Error("the model has " + std::to_string(g.inputs.size()) + " graph inputs (" + names(g.inputs) +
                "); a classifier takes one, the image batch [N, C, H, W] (weights belong in initializers)");
  const ValueInfo& in = g.inputs[0];
  Shape want{-1};
  want.insert(want.end(), p.input_shape.begin(), p.input_shape.end());
  const std::string rule = " (the preprocessing's input_shape " + shape_str(p.input_shape) + " with a batch dimension first)";
  if (in.dtype != DType::f32) throw Error("input '" + in.name + "' is not float32; a classifier takes float32 images" + rule);
  if (!in.shape.empty()) {
    bool ok = in.shape.size() == want.size();
    for (size_t d = 1; ok && d < want.size(); ++d) ok = in.shape[d] < 0 || in.shape[d] == want[d];
    if (!ok) throw Error("input '" + in.name + "' is " + shape_str(in.shape) + ", expected " + shape_str(want) + rule);
  }
  const int64_t fixed = in.shape.empty() ? 0 : std::max<int64_t>(in.shape[0], 0);
  if (fixed > 0 && !fixed_batch_ok)
    throw Error("input '" + in.name + "' has a fixed batch dimension of " + std::to_string(fixed) + " (" + shape_str(in.shape) +
                "); the simulator classifies batches of every size: export the model with a dynamic batch dimension "
                "(torch.onnx.export(..., dynamic_axes={'" +
                in.name + "': {0: 'batch'}}))");
  if (g.outputs.size() != 1)
    throw Error("the model has " + std::to_string(g.outputs.size()) + " graph outputs (" + names(g.outputs) +
                "); a classifier has one, the [N, classes] logits");
  const std::string& out = g.outputs[0].name;
  auto batch_of = [](int64_t n) { return "a batch of " + std::to_string(n) + (n == 1 ? " image " : " images "); };
  for (int64_t n : fixed > 0 ? std::vector<int64_t>{fixed} : std::vector<int64_t>{2, 3}) {
    Shape s = want;
    s[0] = n;
    std::map<std::string, Shape> shapes;
    try {
      shapes = infer_shapes(g, {s});
    } catch (const Error& e) {
      throw Error("with " + batch_of(n) + shape_str(s) + ": " + e.what() +
                  " (does the model hard-code its batch size, e.g. a Reshape to [1, -1]? Flatten keeps it free)");
    }
    const auto it = shapes.find(out);
    const Shape o = it == shapes.end() ? Shape{} : it->second;
    if (o.size() != 2 || o[0] != n)
      throw Error("output '" + out + "' is " + shape_str(o) + " for " + batch_of(n) + shape_str(s) + ", expected [" +
                  std::to_string(n) + ", classes] logits");
    if (p.classes > 0 && o[1] != p.classes)
      throw Error("output '" + out + "' has " + std::to_string(o[1]) + " logits per image, the preprocessing says " +
                  std::to_string(p.classes) + " classes");
    if (labels > 0 && o[1] != labels)
      throw Error("output '" + out + "' has " + std::to_string(o[1]) + " logits per image; the data set has " +
                  std::to_string(labels) + " classes (labels 0.." + std::to_string(labels - 1) +
                  "), and the predicted class is the argmax of the logits");
  }
  return fixed;
}

AccuracyResult evaluate_accuracy(Executor& ex, const Dataset& d, const Preprocess& p, int64_t limit, int64_t batch) {
  if (batch < 1) throw Error("batch size must be >= 1");
  int64_t n = limit > 0 ? std::min(limit, d.count) : d.count;
  AccuracyResult r;
  Tensor in;
  for (int64_t first = 0; first < n; first += batch) {
    int64_t cnt = std::min(batch, n - first);
    fill_batch(d, p, first, cnt, in);
    const Tensor& out = ex.run(in);
    if (out.dtype != DType::f32 || out.rank() != 2 || out.shape[0] != cnt)
      throw Error("model output " + shape_str(out.shape) + " is not [batch, classes] logits");
    int64_t classes = out.shape[1];
    if (p.classes && classes != p.classes)
      throw Error("model has " + std::to_string(classes) + " outputs, preprocessing says " + std::to_string(p.classes) +
                  " classes");
    for (int64_t s = 0; s < cnt; ++s) {
      const float* row = out.f.data() + s * classes;
      int64_t best = 0;
      for (int64_t c = 1; c < classes; ++c)
        if (row[c] > row[best]) best = c;
      r.correct += best == d.labels[first + s];
    }
    r.samples += cnt;
  }
  return r;
}

}  // namespace ptc::models
