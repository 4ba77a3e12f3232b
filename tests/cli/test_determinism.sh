#!/usr/bin/env bash
# Issue 17: same scenario + seed => the same bytes, whatever the load, pauses, progress output or
# thread count. Ten runs of a PCM scenario (a simulated year of Poisson traffic, 8,760 windows,
# scheduled accuracy evaluations: the latency histogram and the evaluations are what used to
# differ), two at a time: five at 1 thread and five at 2 threads, some quiet and some writing
# progress, one of them stopped by SIGSTOP for longer than the 5-s partial-output interval and
# resumed by SIGCONT. Every output file but run.json (which records wall times, argv and pids)
# must equal the first run's byte for byte. Usage: test_determinism.sh PTCSIM SOURCE_DIR
set -u
ptcsim="$1"; src="$2"
tmp="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
. "$src/tests/lib/testlib.sh"
status_of() { /usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['status'])" "$1/run.json" 2>/dev/null || echo none; }
pcm=(run "$src/scenarios/pcm/drift_gdc.json" --set accuracy.images=50 --set accuracy.instances=1)
files=(config.resolved.json trace.csv events.jsonl summary.json stats.json)

start() {  # start N THREADS [-q]
  PTC_THREADS="$2" "$ptcsim" "${pcm[@]}" --out "$tmp/r$1" "${@:3}" >"$tmp/r$1.out" 2>"$tmp/r$1.err" &
  last=$!; pids+=("$last")
}
for pair in "0 1" "2 3" "4 5" "6 7" "8 9"; do
  set -- $pair
  start "$1" 1 -q; a=$last
  if [ $(($2 % 4)) -eq 1 ]; then start "$2" 2 -q; else start "$2" 2; fi; b=$last
  if [ "$1" -eq 4 ]; then  # run 4 (1 thread, quiet) is paused once it simulates, for 6 s
    for _ in $(seq 1 600); do [ "$(status_of "$tmp/r4")" = running ] && break; sleep 0.01; done
    sleep 0.5; kill -STOP "$a"
    [ "$(status_of "$tmp/r4")" = running ] && ok "run 4 stopped mid-simulation" || bad "run 4 was not running when stopped"
    sleep 6; kill -CONT "$a"
  fi
  wait "$a"; ra=$?; wait "$b"; rb=$?
  [ "$ra" -eq 0 ] && [ "$rb" -eq 0 ] || bad "runs $pair exited $ra / $rb: $(head -c 300 "$tmp/r$1.err" "$tmp/r$2.err")"
done
for i in 0 1 2 3 4 5 6 7 8 9; do
  [ "$(status_of "$tmp/r$i")" = complete ] || bad "run $i is $(status_of "$tmp/r$i")"
done
/usr/bin/python3 -c "import json,sys; s=json.load(open(sys.argv[1])); assert s['requests'] > 1000 and s['latency_p99_s'] > 0" "$tmp/r0/summary.json" \
  && ok "the reference run served requests and measured latencies" || bad "reference run summary: $(head -c 300 "$tmp/r0/summary.json")"
for i in 1 2 3 4 5 6 7 8 9; do
  diffs=""
  for f in "${files[@]}"; do cmp -s "$tmp/r0/$f" "$tmp/r$i/$f" || diffs="$diffs $f"; done
  what="run $i ($( [ $((i % 2)) -eq 0 ] && echo 1 || echo 2 ) thread(s)$([ "$i" -eq 4 ] && echo ', paused 6 s by SIGSTOP'))"
  [ -z "$diffs" ] && ok "$what: byte-identical to run 0" || bad "$what differs in:$diffs ($(diff "$tmp/r0/summary.json" "$tmp/r$i/summary.json" | head -4 | tr '\n' ' '))"
done
grep -q "simulated" "$tmp/r3.err" && ok "a run with progress output wrote progress" || bad "run 3 wrote no progress: $(head -c 200 "$tmp/r3.err")"
finish
