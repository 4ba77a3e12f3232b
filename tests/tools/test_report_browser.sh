#!/usr/bin/env bash
# The HTML report in a real browser (Debian's chromium, headless): loads the report of the synthetic
# runs (make_fake_runs.py), lets its charts draw, and checks the tick labels uPlot drew (the report
# mirrors them into data-xticks / data-yticks of each chart) and that nothing failed: no error
# recorded by the page (data-errors) and no uncaught error or console error in chromium's log.
# Skipped (exit 77, SKIP) where chromium is not installed. Usage: test_report_browser.sh SOURCE_DIR
set -u
src="$1"
py=/usr/bin/python3
command -v chromium >/dev/null 2>&1 || { echo "SKIP: chromium not installed (Debian package chromium)"; exit 77; }
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
. "$src/tests/lib/testlib.sh"
"$py" "$src/tests/tools/make_fake_runs.py" "$tmp/runs" || { bad "generator"; finish; exit 1; }
r="$tmp/runs"
browse() {  # browse REPORT.html DOM_OUT LOG_OUT
  timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
    --user-data-dir="$tmp/profile" --virtual-time-budget=10000 --enable-logging=stderr --v=0 \
    --dump-dom "file://$1" >"$2" 2>"$3"
}
"$src/tools/ptc-plot" "$r/doctor" "$r/periodic" "$r/none" --html "$tmp/report.html" 2>"$tmp/err" || bad "report: $(cat "$tmp/err")"
browse "$tmp/report.html" "$tmp/dom.html" "$tmp/chrome.log" && ok "chromium loads the report" || bad "chromium failed: $(tail -3 "$tmp/chrome.log")"
"$src/tools/ptc-plot" "$r/short" --html "$tmp/short.html" 2>/dev/null
browse "$tmp/short.html" "$tmp/short_dom.html" "$tmp/short.log" || bad "chromium failed on the 2-day report"
cat >"$tmp/check.py" <<'PY'
import html, json, re, sys
dom, log, want_x = open(sys.argv[1]).read(), open(sys.argv[2]).read(), json.loads(sys.argv[3])
charts = {m.group(1): m.group(2) for m in re.finditer(r'<div class="chart" id="chart-(\w+)"([^>]*)>', dom)}
assert charts, "no chart elements"
for name, attrs in charts.items():
    xs = json.loads(html.unescape(re.search(r'data-xticks="([^"]*)"', attrs).group(1)))
    ys = json.loads(html.unescape(re.search(r'data-yticks="([^"]*)"', attrs).group(1)))
    labels = [x for x in xs if x]
    assert all(l in want_x for l in labels) and len(labels) >= 3, (name, xs)
    assert not any(re.fullmatch(r"0 \w+", l) for l in labels), (name, xs)      # the old "0 ns" labels
    y = [v for v in ys if v]
    assert len(y) >= 2 and len(set(y)) == len(y) and max(map(len, y)) <= 7, (name, ys)
assert "data-errors" not in re.search(r"<html[^>]*>", dom).group(0), "the page recorded an error"
bad = [l for l in log.splitlines() if "CONSOLE" in l and re.search(r"Uncaught|Error|error", l)]
assert not bad, bad
print(sorted(charts))
PY
"$py" "$tmp/check.py" "$tmp/dom.html" "$tmp/chrome.log" '["1 s", "1 min", "1 h", "1 d", "30 d", "1 y"]' >"$tmp/out" 2>&1 \
  && ok "1-year report: 4 charts, every log-time tick labelled (1 s .. 1 y, no '0 ns'), distinct short y labels, no errors" \
  || bad "1-year report: $(tail -3 "$tmp/out")"
"$py" "$tmp/check.py" "$tmp/short_dom.html" "$tmp/short.log" '["0", "6 h", "12 h", "18 h", "24 h", "1 d", "1.25 d", "1.5 d", "1.75 d", "2 d", "30 h", "36 h", "42 h", "48 h"]' >"$tmp/out" 2>&1 \
  && ok "2-day report: linear time ticks, no errors" || bad "2-day report: $(tail -3 "$tmp/out")"
finish
