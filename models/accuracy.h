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
// What ptcsim needs of a classifier, checked before anything runs (eval, validate, run; errors
// name the input, the output or the node, without the file, which the caller adds): one graph
// input, float, [N, C, H, W] with [C, H, W] the preprocessing's input_shape and a free batch
// dimension N (the simulator classifies batches of every size: served windows, evaluations,
// salience and training batches) unless `fixed_batch_ok` (ptcsim eval, which then runs batches of
// that size); one output holding [N, classes] logits for batches of 2 and 3 images (shape
// inference, nothing computed: a Reshape that hard-codes the batch fails here), classes equal to
// the preprocessing's `classes` when given and to the data set's `labels` (argmax over other
// outputs would be compared with labels the model cannot produce). Returns the input's fixed batch
// size, or 0 when it is free.
int64_t check_classifier(const Graph& g, const Preprocess& p, int64_t labels, bool fixed_batch_ok = false);

AccuracyResult evaluate_accuracy(Executor& ex, const Dataset& d, const Preprocess& p, int64_t limit = 0, int64_t batch = 256);

}  // namespace ptc::models
