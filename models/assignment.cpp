#include "models/assignment.h"

#include <algorithm>
#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/successive_shortest_path_nonnegative_weights.hpp>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>

#include "models/error.h"

namespace ptc::models {
namespace {

using Traits = boost::adjacency_list_traits<boost::vecS, boost::vecS, boost::directedS>;
using Graph =
    boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS, boost::no_property,
                          boost::property<boost::edge_capacity_t, int64_t,
                                          boost::property<boost::edge_residual_capacity_t, int64_t,
                                                          boost::property<boost::edge_reverse_t, Traits::edge_descriptor,
                                                                          boost::property<boost::edge_weight_t, int64_t>>>>>;
using Edge = Traits::edge_descriptor;

constexpr int kMaxLexN = 7;  // n^(n+1) must leave >= 2^36 integer cost levels in 62 bits

// The bipartite network s -> row i -> column j -> t (unit capacities), built once per n and
// thread; each solve only rewrites the row -> column weights (the solver resets the residuals).
struct Network {
  explicit Network(int n) : n(n), g(static_cast<Graph::vertices_size_type>(2 * n + 2)), s(0), t(2 * n + 1) {
    for (int i = 0; i < n; ++i) add(s, 1 + i, 0);
    rc.resize(static_cast<size_t>(n) * n);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) rc[static_cast<size_t>(i) * n + j] = add(1 + i, 1 + n + j, 0);
    for (int j = 0; j < n; ++j) add(1 + n + j, t, 0);
  }
  Edge add(int u, int v, int64_t w) {
    Edge e = boost::add_edge(u, v, g).first, r = boost::add_edge(v, u, g).first;
    boost::put(boost::edge_capacity, g, e, 1);
    boost::put(boost::edge_capacity, g, r, 0);
    boost::put(boost::edge_reverse, g, e, r);
    boost::put(boost::edge_reverse, g, r, e);
    boost::put(boost::edge_weight, g, e, w);
    boost::put(boost::edge_weight, g, r, -w);
    return e;
  }
  void set_weight(size_t ij, int64_t w) {
    boost::put(boost::edge_weight, g, rc[ij], w);
    boost::put(boost::edge_weight, g, boost::get(boost::edge_reverse, g, rc[ij]), -w);
  }
  int n;
  Graph g;
  int s, t;
  std::vector<Edge> rc;  // row i -> column j at i * n + j
};

int bits_for(uint64_t x) {  // smallest b with x <= 2^b
  int b = 0;
  while ((uint64_t{1} << b) < x) ++b;
  return b;
}

}  // namespace

std::vector<int> min_cost_assignment(const std::vector<double>& cost, int n) {
  if (n < 1) throw Error("min_cost_assignment: n must be >= 1, got " + std::to_string(n));
  const size_t nn = static_cast<size_t>(n) * n;
  if (cost.size() != nn)
    throw Error("min_cost_assignment: cost has " + std::to_string(cost.size()) +
                " entries, expected n*n = " + std::to_string(nn));
  double lo = cost[0], hi = cost[0];
  for (size_t k = 0; k < nn; ++k) {
    if (!std::isfinite(cost[k]))
      throw Error("min_cost_assignment: cost[" + std::to_string(k / n) + "][" + std::to_string(k % n) + "] is not finite");
    lo = std::min(lo, cost[k]);
    hi = std::max(hi, cost[k]);
  }
  const double range = hi - lo;
  if (!std::isfinite(range)) throw Error("min_cost_assignment: cost range (max - min) overflows a double");
  if (n == 1) return {0};

  // Tie-break weight P = n^n (the base-n rank of a permutation is < n^n) and cost bits b such that
  // every path potential (at most (2n + 2) edges of weight < 2^b * P + P) stays below 2^62.
  int64_t P = 1;
  if (n <= kMaxLexN)
    for (int i = 0; i < n; ++i) P *= n;
  const int b = 62 - bits_for(static_cast<uint64_t>(2 * n + 2) * static_cast<uint64_t>(P)) - 1;
  int e = 0;
  if (range > 0) std::frexp(range, &e);  // range < 2^e
  const int shift = b - e;               // q = (c - lo) * 2^shift < 2^b

  thread_local std::vector<std::unique_ptr<Network>> cache;
  if (cache.size() <= static_cast<size_t>(n)) cache.resize(static_cast<size_t>(n) + 1);
  if (!cache[n]) cache[n] = std::make_unique<Network>(n);
  Network& net = *cache[n];

  for (int i = 0; i < n; ++i) {
    int64_t place = 1;  // n^(n-1-i)
    if (n <= kMaxLexN)
      for (int m = i + 1; m < n; ++m) place *= n;
    for (int j = 0; j < n; ++j) {
      const size_t ij = static_cast<size_t>(i) * n + j;
      const int64_t q = range > 0 ? std::llround(std::ldexp(cost[ij] - lo, shift)) : 0;
      net.set_weight(ij, q * P + (n <= kMaxLexN ? j * place : 0));
    }
  }
  boost::successive_shortest_path_nonnegative_weights(net.g, static_cast<Graph::vertex_descriptor>(net.s),
                                                      static_cast<Graph::vertex_descriptor>(net.t));

  std::vector<int> out(n, -1);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      if (boost::get(boost::edge_residual_capacity, net.g, net.rc[static_cast<size_t>(i) * n + j]) == 0) out[i] = j;
  for (int i = 0; i < n; ++i)
    if (out[i] < 0) throw Error("min_cost_assignment: internal error, row " + std::to_string(i) + " unassigned");
  return out;
}

double assignment_cost(const std::vector<double>& cost, int n, const std::vector<int>& assignment) {
  if (n < 1 || cost.size() != static_cast<size_t>(n) * n || assignment.size() != static_cast<size_t>(n))
    throw Error("assignment_cost: sizes do not match n = " + std::to_string(n));
  double s = 0;
  for (int i = 0; i < n; ++i) s += cost[static_cast<size_t>(i) * n + assignment[i]];
  return s;
}

}  // namespace ptc::models
