// libFuzzer target: the scenario parser with fragments and --set (sim/scenario.h:
// load_scenario_json, parse_scenario, schema_errors) -- what `ptcsim validate` does before the
// preflight loads the model and dataset.
// An input is up to three kinds of part separated by NUL bytes (which JSON text cannot contain):
// the scenario file, a fragment file "frag.json" beside it, then one `--set` assignment per part.
// Both files sit in a scratch folder two levels below links to the source tree's scenarios/ and
// models/, so the shipped scenarios (the seed corpus) find their fragments and models.
// Contract: any input gives a Scenario or a ptc::Error -- never another exception (a bare
// filesystem_error or nlohmann exception), a crash, a stack overflow or a hang.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "models/error.h"
#include "sim/scenario.h"

#ifndef PTC_SOURCE_DIR
#error "PTC_SOURCE_DIR must name the source tree"
#endif

namespace fs = std::filesystem;

namespace {

const fs::path& scratch() {
  static const fs::path dir = [] {
    char tmpl[] = "/tmp/ptc_fuzz_scenario.XXXXXX";
    if (!::mkdtemp(tmpl)) std::abort();
    const fs::path root(tmpl), src(PTC_SOURCE_DIR);
    fs::create_directories(root / "s" / "g");
    fs::create_directory_symlink(src / "models", root / "models");
    fs::create_directory_symlink(src / "models", root / "s" / "models");
    for (const char* d : {"hw", "noise", "pcm", "traffic"}) {
      fs::create_directory_symlink(src / "scenarios" / d, root / "s" / d);
      fs::create_directory_symlink(src / "scenarios" / d, root / "s" / "g" / d);
    }
    static char root_copy[sizeof tmpl];  // outlives `dir`, which is destroyed before atexit handlers run
    std::copy(tmpl, tmpl + sizeof tmpl, root_copy);
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(root_copy, ec);
    });
    return root / "s" / "g";
  }();
  return dir;
}

void write(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
}

}  // namespace

// libsystemc refers to sc_main; the parser never starts the kernel, so it is never called (main
// is libFuzzer's or replay_main.cpp's).
extern "C" int sc_main(int, char**) {  // C linkage, as <systemc> declares it
  std::fprintf(stderr, "fuzz_scenario: sc_main called: libsystemc's main ran instead of the fuzzer's or replay's\n");
  std::abort();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> parts(1);
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0)
      parts.emplace_back();
    else
      parts.back() += static_cast<char>(data[i]);
  }
  const fs::path file = scratch() / "input.json";
  write(file, parts[0]);
  write(scratch() / "frag.json", parts.size() > 1 ? parts[1] : std::string("{}"));
  std::vector<std::string> sets(parts.begin() + std::min<size_t>(parts.size(), 2), parts.end());
  try {
    ptc::sim::Json j = ptc::sim::load_scenario_json(file.string(), sets);
    ptc::sim::schema_errors(j);
    ptc::sim::parse_scenario(j, file.string());
  } catch (const ptc::Error& e) {
    if (std::getenv("PTC_FUZZ_VERBOSE")) std::fprintf(stderr, "rejected: %s\n", e.what());
    return 0;  // rejected with a message: the expected outcome for most inputs
  }
  if (std::getenv("PTC_FUZZ_VERBOSE")) std::fprintf(stderr, "parsed\n");
  return 0;  // anything else propagates: libFuzzer reports an uncaught exception as a crash
}
