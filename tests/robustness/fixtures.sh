# Helpers of the robustness cases (sourced by run_cases.sh; exported to each case's shell).
#   sj 'PYTHON'  writes $T/$ID.json: the tiny scenario (tests/cli/tiny_doctor.json, its paths made
#                absolute) after the Python statement(s) ran on it as `j`; prints the path.
#   raw 'TEXT'   writes TEXT (printf %b: \n, \x00 ...) to $T/$ID.json; prints the path.
#   bad_inputs   writes the bad ONNX models and IDX folders once ($T/bad/onnx, $T/bad/idx).
sj() {
  /usr/bin/python3 - "$SC" "$T/$ID.json" "$1" <<'PY'
import json, os, sys
src, dst, edit = sys.argv[1], sys.argv[2], sys.argv[3]
j = json.load(open(src)); d = os.path.dirname(os.path.abspath(src)); T = os.environ["T"]
j.pop("$schema")
j["model"] = os.path.normpath(os.path.join(d, j["model"])); j["hw"] = os.path.normpath(os.path.join(d, j["hw"]))
j["noise"][2] = os.path.normpath(os.path.join(d, j["noise"][2]))
exec(edit)
open(dst, "w").write(json.dumps(j))
PY
  echo "$T/$ID.json"
}
raw() { printf '%b' "$1" >"$T/$ID.json"; echo "$T/$ID.json"; }
# hold_lock DIR: another process holds DIR/.ptcsim.lock (as a running ptcsim would, naming pid 4242)
# until the runner ends (run_cases.sh kills what $T/bg.pids lists).
hold_lock() {
  mkdir -p "$1" && printf 'pid 4242, started 2026-01-01T00:00:00Z\n' >"$1/.ptcsim.lock"
  (exec 9>>"$1/.ptcsim.lock" && flock 9 && exec sleep 600) </dev/null >/dev/null 2>&1 &  # $! is the sleep holding fd 9
  echo $! >>"$T/bg.pids"
  for _ in $(seq 1 100); do flock -n "$1/.ptcsim.lock" true 2>/dev/null || return 0; sleep 0.05; done
}
bad_inputs() { [ -d "$T/bad" ] || /usr/bin/python3 "$SRC/tests/robustness/make_bad_inputs.py" "$SRC" "$T/bad"; }
export -f sj raw hold_lock bad_inputs
