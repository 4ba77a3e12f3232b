#include "sim/cli.h"

int main(int argc, char** argv) { return ptc::sim::run_cli(argc, argv); }
