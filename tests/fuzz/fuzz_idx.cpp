// libFuzzer target: the IDX reader of the dataset loader (models/dataset.h read_idx: gzip or plain
// IDX files of unsigned bytes, as Debian's dataset-fashion-mnist ships them).
// Contract: any bytes give the data or a ptc::Error -- never a crash, a signed overflow on the
// header's dimensions, an allocation the header merely claims, or a hang. Read whole and with a
// limit on the items kept, the two must agree on what they keep.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "models/dataset.h"
#include "models/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // read_idx takes a path (it streams through zlib): one scratch file per process.
  static const std::string path = "/tmp/ptc_fuzz_idx." + std::to_string(::getpid()) + ".gz";
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  std::vector<int64_t> all_dims, few_dims;
  std::vector<uint8_t> all, few;
  bool all_ok = true, few_ok = true;
  try {
    all = ptc::models::read_idx(path, all_dims);
  } catch (const ptc::Error&) {
    all_ok = false;
  }
  try {
    few = ptc::models::read_idx(path, few_dims, 3);
  } catch (const ptc::Error&) {
    few_ok = false;
  }
  std::remove(path.c_str());
  if (all_ok && !few_ok) std::abort();  // whatever reads whole also reads its first items
  if (all_ok && few_ok) {
    if (few.size() > all.size() || !std::equal(few.begin(), few.end(), all.begin())) std::abort();
    if (few_dims.size() != all_dims.size() || few_dims[0] > 3 || few_dims[0] > all_dims[0]) std::abort();
  }
  return 0;
}
