#!/usr/bin/env bash
# CI step of issue 17 (called by tools/test.sh): builds the libFuzzer targets of tests/fuzz/ and an
# instrumented ptcsim in build/fuzz (clang, every library with coverage instrumentation, ASan and
# UBSan: -DPTC_FUZZ=ON), fuzzes each target for a bounded time from its seed and regression
# corpora, then runs every 4th case of the bad-input catalogue (tests/robustness/) on that ptcsim,
# so that the errors are also free of memory errors and undefined behaviour.
# Skipped (exit 0, with a line saying so) when clang or libFuzzer is missing; tools/setup.sh
# installs both (clang, libclang-rt-dev). A crash fails the step and leaves the input in
# build/fuzz/artifacts/: copy it into tests/fuzz/corpus/<target>/ with the fix.
# Usage: tools/fuzz_ci.sh [SECONDS_PER_TARGET (default 20)]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
secs="${1:-20}"
if ! command -v clang++ >/dev/null || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  echo "fuzz: SKIP - clang++ or libFuzzer (libclang-rt-dev) not installed"
  exit 0
fi
t0=$(date +%s)
# -O1 and line tables only: the build is most of this step's time.
cmake -S . -B build/fuzz -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="-O1 -gline-tables-only" \
  -DPTC_FUZZ=ON >/dev/null
targets=(json onnx idx scenario)
cmake --build build/fuzz -j"$(nproc)" --target ptcsim "${targets[@]/#/ptc_fuzz_}" >/dev/null
echo "fuzz: build $(( $(date +%s) - t0 )) s"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
seeds_json=(scenarios tests/fuzz/corpus/json)
seeds_onnx=(models/zoo tests/fuzz/corpus/onnx)
seeds_idx=(tests/fuzz/corpus/idx)
seeds_scenario=(scenarios tests/fuzz/corpus/scenario)
mkdir -p build/fuzz/artifacts
fail=0
for t in "${targets[@]}"; do
  work="build/fuzz/corpus_$t"
  rm -rf "$work"; mkdir -p "$work"
  eval "seeds=(\"\${seeds_$t[@]}\")"
  # libFuzzer reads the seeds, writes new inputs to $work only (the first folder). A fixed
  # mutation seed (PTC_FUZZ_SEED, default 1; vary it to explore elsewhere). libFuzzer's scheduling
  # still depends on execution speed, so two runs need not reach the same inputs: a new finding
  # is a real bug, to be fixed and added to the regression corpus.
  if build/fuzz/tests/ptc_fuzz_"$t" "$work" "${seeds[@]}" -seed="${PTC_FUZZ_SEED:-1}" -max_total_time="$secs" -max_len=65536 -timeout=20 \
       -rss_limit_mb=2048 -artifact_prefix=build/fuzz/artifacts/"$t"- -print_final_stats=1 >build/fuzz/"$t".log 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' build/fuzz/"$t".log | grep -o '[0-9]*$' || true)
    if [ -z "$runs" ]; then echo "fuzz: $t: FAILED: libFuzzer did not run (build/fuzz/$t.log)"; fail=1; continue; fi
    echo "fuzz: $t: $runs inputs in ${secs} s, no crash"
  else
    echo "fuzz: $t: FAILED (build/fuzz/$t.log, input in build/fuzz/artifacts/):"; grep -m5 -E 'ERROR|runtime error|SUMMARY' build/fuzz/"$t".log || tail -5 build/fuzz/"$t".log
    fail=1
  fi
done
# The catalogue's every 4th case on the ASan + UBSan ptcsim (a sanitizer report is an extra stderr
# line or a signal, so the case fails).
cases=(tests/robustness/*.cases)
if bash tests/robustness/run_cases.sh "$PWD/build/fuzz/ptcsim" "$PWD" --every 4 "${cases[@]}" >build/fuzz/robustness.log 2>&1; then
  echo "fuzz: robustness catalogue on ASan + UBSan: $(tail -1 build/fuzz/robustness.log)"
else
  echo "fuzz: robustness catalogue on ASan + UBSan FAILED:"; grep FAIL build/fuzz/robustness.log | head -20
  fail=1
fi
echo "fuzz: $(( $(date +%s) - t0 )) s in all"
exit "$fail"
