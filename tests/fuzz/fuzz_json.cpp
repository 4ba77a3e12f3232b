// libFuzzer target: the JSON reader every input goes through (models/json_io.h: scenarios,
// fragments, --set values, hw descriptions, sidecars, device tables).
// Contract: any bytes give a value or a ptc::Error -- never a crash, an uncaught nlohmann
// exception, a stack overflow or a hang. A value dumps again and parses back to itself.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "models/json_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  nlohmann::json j;
  try {
    j = ptc::parse_json_text(text, "fuzz");
  } catch (const ptc::Error&) {
    return 0;  // rejected with a message: the expected outcome for most inputs
  }
  if (ptc::parse_json_text(j.dump(), "fuzz round trip") != j) std::abort();
  return 0;
}
