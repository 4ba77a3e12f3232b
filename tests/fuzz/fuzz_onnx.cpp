// libFuzzer target: the ONNX importer (models/onnx_import.h) on arbitrary bytes, with the shape
// and op checks that run at import (prepare functions of every op).
// Contract: any bytes give a graph or a ptc::Error (Unsupported included) -- never a crash, a
// signed overflow (UBSan) or an allocation beyond the tensor size limit.
#include <cstddef>
#include <cstdint>
#include <string>

#include "models/error.h"
#include "models/onnx_import.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    ptc::models::import_onnx_bytes(std::string(reinterpret_cast<const char*>(data), size), "fuzz.onnx");
  } catch (const ptc::Error&) {
  }
  return 0;
}
