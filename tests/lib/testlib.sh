# Shared helpers of the shell test scripts (sourced). The caller sets $tmp (a scratch folder).
# ok/bad count and print one line per check; expect_error NAME PATTERN CMD... passes when CMD exits
# non-zero (and was not killed by a signal) with exactly one stderr line matching PATTERN;
# finish prints the closing "N passed, M failed" line and returns non-zero on any failure.
fails=0; passes=0
ok()   { passes=$((passes+1)); echo "ok   - $1"; }
bad()  { fails=$((fails+1)); echo "FAIL - $1"; }
expect_error() {
  local name="$1" pat="$2"; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  local lines; lines=$(wc -l <"$tmp/err")
  if [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] && [ "$lines" -eq 1 ] && grep -q -- "$pat" "$tmp/err"; then ok "$name"
  else bad "$name (exit $rc, $lines stderr lines: $(head -c 400 "$tmp/err"))"; fi
}
finish() {
  echo "$passes passed, $fails failed"
  [ "$fails" -eq 0 ]
}
