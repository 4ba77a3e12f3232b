// The `ptcsim` command line. Contract: returns the process exit code; every ptc::Error (and any
// other exception) is caught here once and printed as one line "ptcsim: error: ..." on stderr.
#pragma once

namespace ptc::sim {

int run_cli(int argc, char** argv);

}  // namespace ptc::sim
