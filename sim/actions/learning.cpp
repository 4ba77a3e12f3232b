#include <cmath>

#include "sim/actions/actions.h"

namespace ptc::sim::actions {

void Adam::step(std::vector<float>& w, const std::vector<float>& g, double lr, const std::vector<double>* mult, size_t kk) {
  if (m.size() != w.size()) m.assign(w.size(), 0.0), v.assign(w.size(), 0.0);
  ++t;
  const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
  const double c1 = 1 - std::pow(b1, static_cast<double>(t)), c2 = 1 - std::pow(b2, static_cast<double>(t));
  for (size_t i = 0; i < w.size(); ++i) {
    m[i] = b1 * m[i] + (1 - b1) * g[i];
    v[i] = b2 * v[i] + (1 - b2) * static_cast<double>(g[i]) * g[i];
    if (m[i] == 0) continue;
    if (mult)
      w[i] = static_cast<float>(w[i] - (*mult)[i / kk] * lr * (m[i] / c1) / (std::sqrt(v[i] / c2) + eps));
    else
      w[i] = static_cast<float>(w[i] - lr * (m[i] / c1) / (std::sqrt(v[i] / c2) + eps));
  }
}

void Learning::ensure_gradients(int64_t images) {
  const auto& wl = m_c.wl;
  if (!m_grad) {
    std::vector<std::string> names;
    for (const auto& L : wl.layers) names.push_back(L.weight);
    m_grad = std::make_unique<models::GradientEngine>(m_c.graph, names, m_c.s.threads);
    m_train_opt.resize(wl.layers.size());
    for (size_t l = 0; l < wl.layers.size(); ++l) m_train_opt[l].resize(wl.layers[l].gemms.size());
  }
  if (m_train && (m_train_all || (images > 0 && m_train->count >= images))) return;
  m_train.reset();
  m_train = std::make_unique<models::Dataset>(models::load_fashion_mnist("train", m_c.s.dataset_dir, images));
  m_train_all = images <= 0 || m_train->count < images;
}

void Learning::ensure_salience(hw::Accelerator& acc, bool hessian) {
  if (!m_grad_blocks.empty() && (!hessian || !m_hess_blocks.empty())) return;
  const auto& s = m_c.s;
  ensure_gradients(s.salience.images);
  // Computed once: the executors give their buffers back meanwhile, and the gradient plans go
  // afterwards (peak memory = the larger working set, not the sum).
  acc.release_buffers();
  models::Salience sal = models::compute_salience(*m_grad, *m_train, m_c.pre, s.salience.images, s.salience.batch,
                                                  static_cast<int>(s.salience.hutchinson_samples), s.seed ^ 0x5a11e7ce, hessian,
                                                  {}, &m_c.interrupted);
  m_grad->release();
  const int64_t k = m_c.wl.spec.block_size;
  m_grad_blocks.clear();
  m_hess_blocks.clear();
  for (size_t l = 0; l < m_c.wl.layers.size(); ++l) {
    m_grad_blocks.push_back(models::weight_to_blocks(m_c.wl.layers[l], sal.grad[l], k));
    if (hessian) m_hess_blocks.push_back(models::weight_to_blocks(m_c.wl.layers[l], sal.hess_diag[l], k));
  }
}

}  // namespace ptc::sim::actions
