// ptcsim entry point. SystemC's library wants an sc_main; ptcsim's main sets the environment
// (no SystemC banner on stdout unless the user asks for it) and enters through SystemC's own
// sc_elab_and_sim so the kernel is set up the standard way.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <systemc>

#include "sim/cli.h"

int sc_main(int argc, char* argv[]) {
  return ptc::sim::run_cli(argc, argv);
}

int main(int argc, char* argv[]) {
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
  const int rc = sc_core::sc_elab_and_sim(argc, argv);
  // What a command printed (schema, list --json, compile without -o, device --json) must have
  // reached its destination: a full disk or a closed pipe is an error, not an empty file and exit 0.
  std::cout.flush();
  errno = 0;
  if (std::fflush(stdout) != 0 || std::ferror(stdout) || !std::cout) {
    std::fprintf(stderr, "ptcsim: error: standard output: write failed (%s)\n", errno ? std::strerror(errno) : "stream error");
    return rc == 0 ? 1 : rc;
  }
  return rc;
}
