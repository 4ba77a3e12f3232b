// References a function ptcsim does not define: dlopen(RTLD_NOW) must fail with the loader's text.
#include "sim/policy/policy.h"

namespace ptc::sim {
double no_such_function(int);
}
double ptc_test_uses_missing(int x) {
  return ptc::sim::no_such_function(x);
}
