// ptcsim entry point. SystemC's library wants an sc_main; ptcsim's main sets the environment
// (no SystemC banner on stdout unless the user asks for it) and enters through SystemC's own
// sc_elab_and_sim so the kernel is set up the standard way.
#include <cstdlib>
#include <systemc>

#include "sim/cli.h"

int sc_main(int argc, char* argv[]) {
  return ptc::sim::run_cli(argc, argv);
}

int main(int argc, char* argv[]) {
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
  return sc_core::sc_elab_and_sim(argc, argv);
}
