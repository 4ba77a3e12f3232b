#include "models/accuracy.h"

#include "models/error.h"

namespace ptc::models {

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
