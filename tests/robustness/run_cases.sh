#!/usr/bin/env bash
# Runs bad-input cases of the catalogue (issue 17): each case is one line of a *.cases file,
#
#     id | exit | where | rule | command [| dir]
#
# (fields separated by " | "; '#' lines and blank lines are comments). `command` is bash, run with
# $P (ptcsim), $SRC (source tree), $T (scratch folder), $OUT (this case's run directory, $T/runs/ID),
# $SC (the tiny scenario, tests/cli/tiny_doctor.json) and the helpers below. A command
# "check ARGS" is run twice, as `ptcsim validate ARGS` and `ptcsim run ARGS --out $OUT -q`, and both
# must pass: validate makes every check run makes. A case passes when the command
#   - exits with `exit` (not a signal, not the 124 of the 60-s timeout: no hang),
#   - writes exactly one line to stderr, at most 1,000 bytes, without NUL bytes,
#   - and that line matches both `where` (the file / JSON path / graph node) and `rule`
#     (extended regular expressions; @T stands for the scratch folder, @ID for the case id),
#   - and leaves $OUT as `dir` says: `absent` (default when $OUT did not exist), `intact` (default
#     when it did: the same files with the same bytes), or `failed` (it holds config.resolved.json
#     and run.json only, run.json saying "failed" with the same error: a preflight error).
# Lines "@setup COMMAND" run COMMAND (same variables) once, where they appear.
# Usage: run_cases.sh PTCSIM SOURCE_DIR [--every N] FILE.cases...   (--every N: every N-th case only)
set -u
P="$(readlink -f "$1")"; SRC="$(readlink -f "$2")"; export P SRC; shift 2
every=1
if [ "${1:-}" = "--every" ]; then every="$2"; shift 2; fi
T="$(mktemp -d)"; export T
export SC="$SRC/tests/cli/tiny_doctor.json" SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1 PTC_THREADS=1
trap 'if [ -f "$T/bg.pids" ]; then while read -r p; do kill "$p" 2>/dev/null; done <"$T/bg.pids"; fi; rm -rf "$T"' EXIT
. "$SRC/tests/robustness/fixtures.sh"
mkdir -p "$T/runs"

fails=0; passes=0; n=0
# snapshot DIR: every entry with its type and, for files, its bytes' checksum
snapshot() {
  if [ -d "$1" ]; then (cd "$1" && find . -printf '%y %p\n' | sort && find . -type f -print0 | sort -z | xargs -0 -r md5sum) 2>&1
  else stat -c '%F' "$1"; [ -f "$1" ] && md5sum <"$1"; fi
}

one() {  # one ID EXIT WHERE RULE DIRMODE LABEL CMD...: runs CMD, asserts; prints ok/FAIL
  local id="$1" want="$2" where="$3" rule="$4" dirmode="$5" label="$6"; shift 6
  local before="" existed=0
  if [ -e "$OUT" ]; then existed=1; before=$(snapshot "$OUT"); fi
  timeout -k 2 60 bash -c "$*" >"$T/stdout" 2>"$T/stderr"; local rc=$?
  local why=""
  [ "$rc" -eq "$want" ] || why="exit $rc, expected $want"
  local bytes lines line
  bytes=$(wc -c <"$T/stderr"); lines=$(wc -l <"$T/stderr")
  line=$(tr -d '\0' <"$T/stderr")
  [ -z "$why" ] && [ "$lines" -ne 1 ] && why="$lines stderr lines"
  [ -z "$why" ] && [ "$bytes" -gt 1000 ] && why="stderr line of $bytes bytes"
  [ -z "$why" ] && [ "$(tr -d '\0' <"$T/stderr" | wc -c)" -ne "$bytes" ] && why="NUL byte in the error line"
  [ -z "$why" ] && ! grep -qE -- "$where" <<<"$line" && why="does not name /$where/"
  [ -z "$why" ] && ! grep -qE -- "$rule" <<<"$line" && why="does not state /$rule/"
  if [ -z "$why" ]; then
    [ -z "$dirmode" ] && { [ "$existed" -eq 1 ] && dirmode=intact || dirmode=absent; }
    case "$dirmode" in
      absent) [ -e "$OUT" ] && why="run directory created: $(ls -A "$OUT" | tr '\n' ' ')" ;;
      intact) [ "$(snapshot "$OUT")" = "$before" ] || why="run directory changed" ;;
      failed) if [ "$(ls -A "$OUT" | grep -v '^\.ptcsim\.lock$' | tr '\n' ' ')" != "config.resolved.json run.json " ]; then
                why="run directory holds $(ls -A "$OUT" | tr '\n' ' ')"
              elif ! /usr/bin/python3 -c "import json,sys; r=json.load(open(sys.argv[1])); sys.exit(not (r['status']=='failed' and r['error'] in sys.argv[2]))" "$OUT/run.json" "$line"; then
                why="run.json is not 'failed' with the error line"
              fi ;;
    esac
  fi
  if [ -z "$why" ]; then passes=$((passes + 1)); echo "ok   - $id$label"
  else fails=$((fails + 1)); echo "FAIL - $id$label: $why; stderr: $(head -c 400 "$T/stderr" | tr -d '\0')"; fi
}

for file in "$@"; do
  while IFS= read -r raw || [ -n "$raw" ]; do
    case "$raw" in ''|'#'*) continue ;; esac
    if [[ "$raw" == "@setup "* ]]; then
      bash -c "${raw#@setup }" || { echo "FAIL - setup: ${raw#@setup }"; fails=$((fails + 1)); }
      continue
    fi
    # split on " | ": id, exit, where, rule, command, optional dir mode
    rest="$raw"; f=()
    for _ in 1 2 3 4; do f+=("${rest%% | *}"); rest="${rest#* | }"; done
    dirmode=""
    case "$rest" in *' | absent'|*' | intact'|*' | failed') dirmode="${rest##* | }"; rest="${rest% | *}" ;; esac
    id="${f[0]}"; want="${f[1]}"
    n=$((n + 1))
    [ $(( (n - 1) % every )) -eq 0 ] || continue
    where="${f[2]//@T/$T}"; where="${where//@ID/$id}"
    rule="${f[3]//@T/$T}"; rule="${rule//@ID/$id}"
    export OUT="$T/runs/$id" ID="$id"
    if [[ "$rest" == "check "* ]]; then
      one "$id" "$want" "$where" "$rule" absent " (validate)" "\$P validate ${rest#check }"
      one "$id" "$want" "$where" "$rule" "$dirmode" " (run)" "\$P run ${rest#check } --out \"\$OUT\" -q"
    else
      one "$id" "$want" "$where" "$rule" "$dirmode" "" "$rest"
    fi
  done <"$file"
done
echo "$n cases; $passes checks passed, $fails failed"
[ "$fails" -eq 0 ] && [ "$passes" -gt 0 ]
