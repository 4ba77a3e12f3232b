// Classification accuracy of a graph on a dataset with the ideal executor.
#pragma once

#include <cstdint>

#include "models/dataset.h"
#include "models/executor.h"

namespace ptc::models {

struct AccuracyResult {
  int64_t samples = 0;
  int64_t correct = 0;
  double accuracy() const { return samples ? static_cast<double>(correct) / static_cast<double>(samples) : 0.0; }
};

// Runs the first `limit` samples (all if limit <= 0) in batches of `batch`; argmax of the single
// output against the label (ties go to the lowest class index, as torch.argmax does).
AccuracyResult evaluate_accuracy(Executor& ex, const Dataset& d, const Preprocess& p, int64_t limit = 0, int64_t batch = 256);

}  // namespace ptc::models
