#!/usr/bin/env bash
# Local-pool benchmark (README "Performance"): the 32 short runs of tools/bench/sweep_32.json, once
# with --jobs 1 and once with --jobs 2, each from a fresh manifest; prints both wall times, their
# ratio and the load average, and checks that the collected results are byte-identical.
# Usage: tools/bench/sweep_bench.sh [BUILD_DIR (default build/release)]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ptcsim="${1:-$here/build/release}/ptcsim"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
"$ptcsim" sweep "$here/tools/bench/sweep_32.json" --out "$tmp/j1" >/dev/null
"$ptcsim" sweep "$here/tools/bench/sweep_32.json" --out "$tmp/j2" >/dev/null
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
t0=$(date +%s.%N); "$ptcsim" sweep run "$tmp/j1/manifest.jsonl" --jobs 1 -q 2>/dev/null; t1=$(date +%s.%N)
"$ptcsim" sweep run "$tmp/j2/manifest.jsonl" --jobs 2 -q 2>/dev/null; t2=$(date +%s.%N)
s1=$(echo "$t1 - $t0" | bc); s2=$(echo "$t2 - $t1" | bc)
printf 'jobs 1: %.1f s, jobs 2: %.1f s, ratio %.2f (goal <= 0.6); load average after: %s\n' "$s1" "$s2" \
  "$(echo "$s2 / $s1" | bc -l)" "$(cut -d' ' -f1-3 /proc/loadavg)"
"$ptcsim" sweep collect "$tmp/j1/manifest.jsonl" >/dev/null
"$ptcsim" sweep collect "$tmp/j2/manifest.jsonl" >/dev/null
for f in results.csv results_aggregate.csv results.json; do cmp -s "$tmp/j1/$f" "$tmp/j2/$f" || { echo "results differ: $f"; exit 1; }; done
echo "results byte-identical at --jobs 1 and 2"
