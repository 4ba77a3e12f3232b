// Minimum-cost linear assignment (the 4 x 4 problem DOCTOR's tile remapping solves once per chunk,
// docs/doctor.md §6, where DOCTOR's code calls scipy.optimize.linear_sum_assignment).
//
// Contract: min_cost_assignment(cost, n) returns a permutation p of 0..n-1 (row i -> column p[i])
// minimising sum_i cost[i * n + p[i]]. It is a pure function of its input. Solved with Boost.Graph
// as a min-cost flow (successive shortest paths with Dijkstra on reduced costs) on integer costs:
//   q_ij = round((c_ij - min c) * 2^s), s chosen so that max q_ij < 2^b (b = 49 for n = 4),
// a power-of-two scale, so costs on a common dyadic grid (integers, multiples of 2^-m) are exact and
// otherwise the total is within n * range * 2^-b of the true optimum.
// Ties: for n <= 7 the result is the lexicographically smallest optimal permutation (smallest
// p[0], then p[1], ...): the solver minimises q_ij * n^n + j * n^(n-1-i), whose second term is the
// permutation's base-n rank and is smaller than one unit of q. For n > 7 ties go to whichever
// optimum the solver reaches (still a pure function of the input).
// Errors (ptc::Error): n < 1, cost.size() != n * n, a non-finite cost or cost range.
#pragma once

#include <vector>

namespace ptc::models {

std::vector<int> min_cost_assignment(const std::vector<double>& cost, int n);

// sum_i cost[i * n + assignment[i]] (no checks beyond sizes).
double assignment_cost(const std::vector<double>& cost, int n, const std::vector<int>& assignment);

}  // namespace ptc::models
