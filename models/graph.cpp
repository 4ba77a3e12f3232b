#include "models/graph.h"

#include <algorithm>
#include <boost/graph/topological_sort.hpp>
#include <set>

#include "models/error.h"

namespace ptc::models {

int64_t Node::attr_i(const std::string& a, int64_t dflt) const {
  auto it = attrs.find(a);
  if (it == attrs.end()) return dflt;
  if (it->second.kind != Attr::Kind::Int) throw Error(where() + ": attribute '" + a + "' must be an int");
  return it->second.i;
}

float Node::attr_f(const std::string& a, float dflt) const {
  auto it = attrs.find(a);
  if (it == attrs.end()) return dflt;
  if (it->second.kind == Attr::Kind::Int) return static_cast<float>(it->second.i);
  if (it->second.kind != Attr::Kind::Float) throw Error(where() + ": attribute '" + a + "' must be a float");
  return it->second.f;
}

std::string Node::attr_s(const std::string& a, const std::string& dflt) const {
  auto it = attrs.find(a);
  if (it == attrs.end()) return dflt;
  if (it->second.kind != Attr::Kind::String) throw Error(where() + ": attribute '" + a + "' must be a string");
  return it->second.s;
}

std::vector<int64_t> Node::attr_ints(const std::string& a, const std::vector<int64_t>& dflt) const {
  auto it = attrs.find(a);
  if (it == attrs.end()) return dflt;
  if (it->second.kind == Attr::Kind::Int) return {it->second.i};
  if (it->second.kind != Attr::Kind::Ints) throw Error(where() + ": attribute '" + a + "' must be a list of ints");
  return it->second.ints;
}

std::string Node::where() const {
  return "node '" + name + "' (" + op + ")";
}

size_t Node::given_inputs() const {
  size_t n = inputs.size();
  while (n > 0 && inputs[n - 1].empty()) --n;
  return n;
}

void Graph::rebuild() {
  std::map<std::string, Vertex> producer;
  for (auto v : boost::make_iterator_range(boost::vertices(dag)))
    for (const auto& o : dag[v].outputs)
      if (!o.empty()) {
        if (producer.count(o) || is_constant(o))
          throw Error("value '" + o + "' is produced twice (second time by " + dag[v].where() + ")");
        producer[o] = v;
      }

  // Liveness: walk back from the graph outputs.
  std::set<Vertex> live;
  std::vector<Vertex> stack;
  for (const auto& out : outputs) {
    auto it = producer.find(out.name);
    if (it != producer.end()) stack.push_back(it->second);
  }
  while (!stack.empty()) {
    Vertex v = stack.back();
    stack.pop_back();
    if (!live.insert(v).second) continue;
    for (const auto& in : dag[v].inputs) {
      auto it = producer.find(in);
      if (it != producer.end()) stack.push_back(it->second);
    }
  }

  Dag fresh;
  std::map<Vertex, Vertex> remap;
  for (auto v : boost::make_iterator_range(boost::vertices(dag)))
    if (live.count(v)) remap[v] = boost::add_vertex(dag[v], fresh);
  for (const auto& [old_v, new_v] : remap)
    for (const auto& in : fresh[new_v].inputs) {
      auto it = producer.find(in);
      if (it != producer.end()) boost::add_edge(remap.at(it->second), new_v, fresh);
    }
  dag = std::move(fresh);

  std::vector<Vertex> rev;
  try {
    boost::topological_sort(dag, std::back_inserter(rev));
  } catch (const boost::not_a_dag&) {
    throw Error("the graph has a cycle");
  }
  order.assign(rev.rbegin(), rev.rend());

  // Drop constants nothing reads any more (folded-away weights, e.g. BatchNorm parameters).
  std::set<std::string> used;
  for (auto v : order)
    for (const auto& in : dag[v].inputs) used.insert(in);
  for (const auto& out : outputs) used.insert(out.name);
  for (auto it = constants.begin(); it != constants.end();) it = used.count(it->first) ? std::next(it) : constants.erase(it);
}

std::vector<std::string> Graph::op_sequence() const {
  std::vector<std::string> r;
  for (auto v : order) r.push_back(dag[v].op);
  return r;
}

}  // namespace ptc::models
