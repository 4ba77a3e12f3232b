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
# Two seeds of one configuration and a windowed-accuracy run: the accuracy chart draws the seeds as
# one mean line with its band (no per-seed line in the legend) and the windowed run with its
# binomial band on every windowed row; the band's points are counted in the browser.
cp -r "$r/doctor" "$tmp/seed2"
"$py" - "$tmp/seed2" <<'PY'
import json, os, sys
d = sys.argv[1]
for f in ("run.json", "config.resolved.json", "summary.json"):
    j = json.load(open(os.path.join(d, f))); j["seed"] = 2; json.dump(j, open(os.path.join(d, f), "w"))
PY
"$src/tools/ptc-plot" "$r/doctor" "$tmp/seed2" "$r/periodic" --html "$tmp/seeds.html" -o "$tmp/seeds.png" --dump-json \
  >"$tmp/seeds.json" 2>"$tmp/err" || bad "seed report: $(cat "$tmp/err")"
browse "$tmp/seeds.html" "$tmp/seeds_dom.html" "$tmp/seeds.log" || bad "chromium failed on the seed report"
"$py" - "$tmp/seeds_dom.html" "$tmp/seeds.json" "$r/periodic/trace.csv" >"$tmp/out" 2>&1 <<'PY'
import csv, html, json, math, re, sys
dom, dump = open(sys.argv[1]).read(), json.load(open(sys.argv[2]))
attrs = re.search(r'<div class="chart" id="chart-accuracy"([^>]*)>', dom).group(1)
series = json.loads(html.unescape(re.search(r'data-series="([^"]*)"', attrs).group(1)))
bands = json.loads(html.unescape(re.search(r'data-bands="([^"]*)"', attrs).group(1)))
mean = [s for s in series if "mean of 2 seeds" in s and not s.startswith("ideal")]
assert len(mean) == 1 and not any("seed=" in s for s in series), series
# The seed band spans the instants where both seeds have accuracy (the PNG's seed-mean points).
png = [s for s in dump["series"] if s["kind"] == "seed_mean"]
by = {b["name"]: b["points"] for b in bands}
assert by[mean[0]] == png[0]["points"], (by, png)
# Binomial band: one point per windowed row of the periodic run (finite accuracy, n > 0, no std).
rows = list(csv.DictReader(open(sys.argv[3])))
want = sum(1 for w in rows if w["accuracy"] and w["accuracy_n"] and float(w["accuracy_n"]) > 0 and not w["accuracy_std"])
per = [b for b in bands if b["name"].startswith("periodic")]
assert len(per) == 1 and per[0]["points"] == want, (per, want)
assert "data-errors" not in re.search(r"<html[^>]*>", dom).group(0), "the page recorded an error"
print(series, bands)
PY
[ $? -eq 0 ] && ok "seed report: one mean line + band for two seeds (points as in the PNG), binomial band on every windowed row" \
  || bad "seed report: $(tail -3 "$tmp/out")"
finish
