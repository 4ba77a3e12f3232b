// Minimum-cost assignment (Boost.Graph min-cost flow) against brute force over all permutations.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "models/assignment.h"
#include "models/error.h"

using ptc::models::assignment_cost;
using ptc::models::min_cost_assignment;

namespace {

// The lexicographically first permutation of minimal total cost, summed in row order; `gap` is
// the cost of the best other permutation minus the minimum.
std::vector<int> brute_force(const std::vector<double>& c, int n, double* gap = nullptr) {
  std::vector<int> p(n), best;
  std::iota(p.begin(), p.end(), 0);
  double best_cost = std::numeric_limits<double>::infinity(), second = best_cost;
  do {
    double s = assignment_cost(c, n, p);
    if (s < best_cost) {
      second = best_cost;
      best_cost = s;
      best = p;
    } else if (s < second) {
      second = s;
    }
  } while (std::next_permutation(p.begin(), p.end()));
  if (gap) *gap = second - best_cost;
  return best;
}

bool is_permutation_of_n(const std::vector<int>& p, int n) {
  std::vector<int> q = p;
  std::sort(q.begin(), q.end());
  for (int i = 0; i < n; ++i)
    if (q[i] != i) return false;
  return static_cast<int>(p.size()) == n;
}

}  // namespace

TEST_CASE("assignment: known example", "[assignment]") {
  // The 3 x 3 example of scipy.optimize.linear_sum_assignment: rows -> columns (1, 0, 2), total 5.
  std::vector<double> c = {4, 1, 3,  //
                           2, 0, 5,  //
                           3, 2, 2};
  auto p = min_cost_assignment(c, 3);
  CHECK(p == std::vector<int>{1, 0, 2});
  CHECK(assignment_cost(c, 3, p) == 5.0);
  // A 4 x 4 with a unique anti-diagonal optimum (total 4) far below every other permutation.
  std::vector<double> d = {9, 9, 9, 1,  //
                           9, 9, 1, 9,  //
                           9, 1, 9, 9,  //
                           1, 9, 9, 9};
  CHECK(min_cost_assignment(d, 4) == std::vector<int>{3, 2, 1, 0});
  // Negative costs and maximisation by negation.
  std::vector<double> e = {-4, -1, -3, -2, 0, -5, -3, -2, -2};
  CHECK(min_cost_assignment(e, 3) == brute_force(e, 3));
  CHECK(min_cost_assignment({7.5}, 1) == std::vector<int>{0});
}

TEST_CASE("assignment: matches brute force on random real matrices, n = 1..6", "[assignment]") {
  std::mt19937_64 gen(12345);
  std::uniform_real_distribution<double> u(-3.0, 5.0);
  std::lognormal_distribution<double> wide(0.0, 3.0);  // costs spanning many decades
  int separated = 0, total = 0;
  for (int n = 1; n <= 6; ++n) {
    const int trials = n <= 4 ? 400 : 60;
    total += trials;
    for (int t = 0; t < trials; ++t) {
      std::vector<double> c(static_cast<size_t>(n) * n);
      for (double& x : c) x = (t % 2) ? u(gen) : wide(gen);
      auto p = min_cost_assignment(c, n);
      REQUIRE(is_permutation_of_n(p, n));
      double gap = 0;
      auto b = brute_force(c, n, &gap);
      // Documented accuracy: within n * range * 2^-b of the optimum, b >= 36 for n <= 7.
      const auto mm = std::minmax_element(c.begin(), c.end());
      const double tol = n * (*mm.second - *mm.first) * std::ldexp(1.0, -36);
      INFO("n = " << n << ", trial " << t);
      CHECK(assignment_cost(c, n, p) <= assignment_cost(c, n, b) + tol);
      if (gap > tol) CHECK(p == b);
      separated += gap > tol;
    }
  }
  CHECK(separated >= total - 5);  // near-ties below the quantisation are rare: nearly all compare exactly
}

TEST_CASE("assignment: ties go to the lexicographically smallest optimal permutation", "[assignment]") {
  std::mt19937_64 gen(777);
  for (int n = 2; n <= 6; ++n) {
    // Few distinct integer (and dyadic) values: many exact ties.
    std::uniform_int_distribution<int> v(0, n <= 3 ? 2 : 3);
    for (int t = 0; t < 300; ++t) {
      std::vector<double> c(static_cast<size_t>(n) * n);
      for (double& x : c) x = v(gen) * ((t % 3 == 0) ? 0.125 : 1.0) + ((t % 3 == 1) ? 1e6 : 0.0);
      INFO("n = " << n << ", trial " << t);
      CHECK(min_cost_assignment(c, n) == brute_force(c, n));
    }
  }
  // All equal: the identity. Rows with equal cost vectors: the first row takes the first column.
  CHECK(min_cost_assignment(std::vector<double>(16, 2.5), 4) == std::vector<int>{0, 1, 2, 3});
  std::vector<double> same = {1, 2, 3, 1, 2, 3, 1, 2, 3};
  CHECK(min_cost_assignment(same, 3) == std::vector<int>{0, 1, 2});
  // Deterministic: the same input gives the same answer on repeated calls.
  std::vector<double> r = {1, 1, 0, 0, 1, 1, 1, 0, 1};
  auto first = min_cost_assignment(r, 3);
  for (int k = 0; k < 5; ++k) CHECK(min_cost_assignment(r, 3) == first);
}

TEST_CASE("assignment: larger n agrees with the optimum cost of a 7 x 7 and stays a permutation at 12 x 12", "[assignment]") {
  std::mt19937_64 gen(99);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> c(49);
  for (double& x : c) x = u(gen);
  CHECK(min_cost_assignment(c, 7) == brute_force(c, 7));
  std::vector<double> big(144);
  for (double& x : big) x = u(gen);
  auto p = min_cost_assignment(big, 12);
  CHECK(is_permutation_of_n(p, 12));
  // No single swap of two rows' columns improves a 12 x 12 optimum.
  double best = assignment_cost(big, 12, p);
  for (int i = 0; i < 12; ++i)
    for (int j = i + 1; j < 12; ++j) {
      auto q = p;
      std::swap(q[i], q[j]);
      CHECK(assignment_cost(big, 12, q) >= best - 1e-12);
    }
}

TEST_CASE("assignment: errors", "[assignment]") {
  CHECK_THROWS_AS(min_cost_assignment({}, 0), ptc::Error);
  CHECK_THROWS_WITH(min_cost_assignment({1, 2, 3}, 2), Catch::Contains("expected n*n = 4"));
  CHECK_THROWS_WITH(min_cost_assignment({1, 2, std::nan(""), 4}, 2), Catch::Contains("cost[1][0]"));
  CHECK_THROWS_AS(min_cost_assignment({1, std::numeric_limits<double>::infinity(), 3, 4}, 2), ptc::Error);
  CHECK_THROWS_WITH(min_cost_assignment({-1e308, 1e308, 0, 0}, 2), Catch::Contains("range"));
}
