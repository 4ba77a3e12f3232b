// The input files a run reads beside its configuration (the model, a recorded trace, a device's
// table, a plug-in's file parameter): config.resolved.json names them, run.json records the hash
// of their bytes, so that a sweep can tell a complete run whose inputs changed since from one that
// still holds (docs/sweeps.md §2, docs/run_directory.md).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace ptc::sim {

// Records that the run reads `path` for parameter `param` (a JSON path such as "model" or
// "traffic.file"). Process-wide: a process runs one scenario.
void note_input_file(const std::string& param, const std::string& path);
// [{"param", "path" (absolute), "fnv1a64"}] of every noted file, sorted by param then path.
nlohmann::json input_files_record();
// FNV-1a (64 bits) of a file's bytes, 16 hex digits; throws Error naming the file if unreadable.
std::string file_fnv1a64(const std::string& path);
// "" when every file of a recorded list still has its recorded bytes, else the first that does
// not ("model (/x/m.onnx) changed since the run (fnv1a64 ..., now ...)").
std::string input_files_changed(const nlohmann::json& recorded);

}  // namespace ptc::sim
