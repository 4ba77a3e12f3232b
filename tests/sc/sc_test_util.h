// Helpers shared by the SystemC tests of the full top (test_modules.cpp, test_fleet.cpp): kernel
// ticks of a time, the kernel's time, and a temporary folder removed on exit.
#pragma once

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <systemc>

namespace ptc::sctest {

// Kernel ticks (1 ns) of a time in seconds.
inline int64_t ns(double t_s) {
  return std::llround(t_s * 1e9);
}
inline double now() {
  return static_cast<double>(sc_core::sc_time_stamp().value()) / 1e9;  // as hw/sim_seconds.h
}

// A folder under the system's temporary directory, unique to this process, removed on exit.
struct TempDir {
  std::filesystem::path dir;
  explicit TempDir(const std::string& prefix) {
    dir = std::filesystem::temp_directory_path() / (prefix + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

}  // namespace ptc::sctest
