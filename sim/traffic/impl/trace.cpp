// `trace`: replay of recorded arrival times from a CSV file (docs/architecture.md §4).
// File: a header `t_s` or `t_s,image`, then one request per line: its arrival time (s since
// deployment, non-decreasing) and optionally the test image it classifies; `#` lines and blank
// lines are ignored. Arrivals are served one by one at their arrival (batch_s = 0) or grouped
// into windows of batch_s served at the window's end, like the Poisson sources; latency is
// measured from each request's own arrival. Arrivals at or after the horizon are not served.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "sim/inputs.h"
#include "sim/traffic/traffic.h"

namespace ptc::sim {
namespace {

class TraceReplay : public TrafficSource {
 public:
  TraceReplay(std::string file, double batch_s, int64_t first) : m_file(std::move(file)), m_batch_s(batch_s), m_first(first) {}

  void bind(const TrafficContext& c) override {
    TrafficSource::bind(c);
    std::filesystem::path p(m_file);
    if (p.is_relative() && !c.base_dir.empty()) p = std::filesystem::path(c.base_dir) / p;
    const std::string name = p.string();
    std::error_code ec;
    if (!std::filesystem::is_regular_file(p, ec)) throw Error(name + ": traffic.file: not a readable regular file");
    note_input_file("traffic.file", name);  // its bytes are recorded in run.json (sim/inputs.h)
    std::ifstream in(p, std::ios::binary);
    if (!in) throw Error(name + ": traffic.file: cannot open");
    // Read in blocks and split into lines here: a line is at most kMaxLine bytes (a damaged or
    // foreign file, e.g. 2 GB without a line break, was read as one line, and a read that failed
    // for want of memory ended the file without a word), and a read error is an error.
    std::string line, block(1 << 16, '\0');
    int64_t lineno = 0;
    bool header = false, with_image = false;
    constexpr size_t kMaxLine = 4096;
    auto take = [&](std::string& l) {
      ++lineno;
      if (lineno == 1 && l.rfind("\xEF\xBB\xBF", 0) == 0) l.erase(0, 3);  // a UTF-8 byte-order mark (spreadsheet exports)
      if (!l.empty() && l.back() == '\r') l.pop_back();
      const std::string where = name + ":" + std::to_string(lineno) + ": ";
      if (l.find('\0') != std::string::npos) throw Error(where + "a NUL byte (not a text file)");
      if (l.size() > kMaxLine)
        throw Error(where + "a line longer than " + std::to_string(kMaxLine) + " bytes (not a trace of t_s[,image] rows)");
      if (l.empty() || l[0] == '#') return;
      if (!header) {
        if (l == "t_s")
          with_image = false;
        else if (l == "t_s,image")
          with_image = true;
        else
          throw Error(where + "expected the header \"t_s\" or \"t_s,image\", got \"" + l + "\"");
        header = true;
        return;
      }
      // Fields split at every comma (a trailing comma is an empty field), blanks around a field
      // ignored; numbers in decimal only (strtod also reads hexadecimal and "inf").
      std::vector<std::string> f(1);
      for (char ch : l) {
        if (ch == ',')
          f.emplace_back();
        else
          f.back() += ch;
      }
      for (auto& x : f) {
        const size_t a = x.find_first_not_of(" \t"), b = x.find_last_not_of(" \t");
        x = a == std::string::npos ? std::string() : x.substr(a, b - a + 1);
      }
      if (f.size() != (with_image ? 2u : 1u))
        throw Error(where + "expected " + std::string(with_image ? "2 columns (t_s,image)" : "1 column (t_s)") + ", got " +
                    std::to_string(f.size()));
      const std::string& a = f[0];
      char* end = nullptr;
      const bool decimal = !a.empty() && a.find_first_not_of("0123456789.eE+-") == std::string::npos;
      const double t = decimal ? std::strtod(a.c_str(), &end) : NAN;
      if (!decimal || *end != '\0' || !std::isfinite(t) || t < 0)
        throw Error(where + "t_s: expected a finite decimal number >= 0, got \"" + a + "\"");
      if (!m_t.empty() && t < m_t.back()) throw Error(where + "t_s: arrival times must not decrease");
      m_t.push_back(t);
      if (with_image) {
        const std::string& b = f[1];
        const bool digits = !b.empty() && b.find_first_not_of("0123456789") == std::string::npos;
        const long long img = digits && b.size() <= 18 ? std::strtoll(b.c_str(), &end, 10) : -1;
        if (img < 0 || (c.test_images > 0 && img >= c.test_images))
          throw Error(where + "image: expected an integer in [0, " + std::to_string(c.test_images) + "), got \"" + b + "\"");
        m_img.push_back(img);
      }
    };
    while (in) {
      in.read(block.data(), static_cast<std::streamsize>(block.size()));
      const size_t got = static_cast<size_t>(in.gcount());
      for (size_t at = 0; at < got;) {
        const char* nl = static_cast<const char*>(std::memchr(block.data() + at, '\n', got - at));
        const size_t stop = nl ? static_cast<size_t>(nl - block.data()) : got;
        line.append(block, at, stop - at);
        if (line.size() > kMaxLine + 4)  // (with a byte-order mark and a CR, which take() strips)
          throw Error(name + ":" + std::to_string(lineno + 1) + ": a line longer than " + std::to_string(kMaxLine) +
                      " bytes (not a trace of t_s[,image] rows)");
        if (!nl) break;
        take(line);
        line.clear();
        at = stop + 1;
      }
    }
    if (in.bad()) throw Error(name + ": traffic.file: read error after line " + std::to_string(lineno));
    if (!line.empty()) take(line);  // a last line without a line break
    if (!header) throw Error(name + ": traffic.file: empty (expected a header \"t_s\" or \"t_s,image\")");
    if (m_t.empty()) throw Error(name + ": traffic.file: no arrivals");
  }

  bool next(double, Arrivals& a) override {
    const double horizon = m_ctx.horizon_s > 0 ? m_ctx.horizon_s : INFINITY;
    if (m_i >= m_t.size() || m_t[m_i] >= horizon) return false;
    a = Arrivals{};
    size_t j = m_i + 1;
    if (m_batch_s > 0) {
      const double lo = std::floor(m_t[m_i] / m_batch_s) * m_batch_s, hi = std::min(lo + m_batch_s, horizon);
      while (j < m_t.size() && m_t[j] < hi) ++j;
      a.ready_s = hi;
      a.window_lo_s = lo;
      a.window_hi_s = hi;
    } else {
      a.ready_s = a.window_lo_s = a.window_hi_s = m_t[m_i];
    }
    a.n = static_cast<int64_t>(j - m_i);
    a.arrival_s.assign(m_t.begin() + static_cast<int64_t>(m_i), m_t.begin() + static_cast<int64_t>(j));
    if (!m_img.empty()) a.images.assign(m_img.begin() + static_cast<int64_t>(m_i), m_img.begin() + static_cast<int64_t>(j));
    m_i = j;
    return true;
  }
  int64_t first_image() const override { return m_first; }
  // The first arrival, or the end of its window: the preflight refuses a served-accuracy run whose
  // trace starts at or after the horizon (it would serve nothing).
  double first_ready_s() const override {
    if (m_t.empty()) return 0;
    return m_batch_s > 0 ? std::floor(m_t.front() / m_batch_s) * m_batch_s + m_batch_s : m_t.front();
  }
  std::vector<std::string> files() const override { return {m_file}; }

 private:
  std::string m_file;
  double m_batch_s;
  int64_t m_first;
  std::vector<double> m_t;
  std::vector<int64_t> m_img;
  size_t m_i = 0;
};

const Registrar<TrafficSource> reg{
    {"trace",
     "replay of recorded arrival times (CSV t_s[,image]), optionally naming each request's test image",
     {{"file",
       "",
       nullptr,
       "CSV with header t_s or t_s,image, relative to base_dir (default: the top-level scenario file's folder)",
       -1e300,
       1e300,
       {},
       "string"},
      {"batch_s", "s", 0.0,
       "0: each request is served at its arrival; > 0: arrivals grouped in windows served at the window's end", 0, 1e9},
      {"first_image", "", 0, "without an image column, request i classifies test image (first_image + i) mod N", 0, 1e12}},
     [](Params& p) {
       const double batch_s = p.num("batch_s");
       if (batch_s > 0 && batch_s < 1e-9) {  // (as the Poisson sources' windows)
         char v[32];
         std::snprintf(v, sizeof v, "%g", batch_s);
         throw Error(
             p.path_of("batch_s") + ": " + v +
             " s is below the kernel's time resolution (1 ns); use 0 (each request served at its arrival) or at least 1e-9 s");
       }
       return std::make_unique<TraceReplay>(p.str("file"), batch_s, p.integer("first_image"));
     }}};

}  // namespace
}  // namespace ptc::sim
