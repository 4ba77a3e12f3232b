// A shared library that registers nothing.
int ptc_test_plugin_answer() {
  return 42;
}
