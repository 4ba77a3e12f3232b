#!/usr/bin/env bash
# tools/ptc-plot on synthetic run directories (tests/tools/make_fake_runs.py): what is plotted
# (series, bands, markers, legend names, time ticks), that the PNG/SVG/PDF/HTML outputs have real
# content, and one-line errors with exit code 2. Usage: test_plot.sh SOURCE_DIR
set -u
src="$1"
plot="$src/tools/ptc-plot"
py=/usr/bin/python3
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
fails=0; passes=0
ok()  { passes=$((passes+1)); echo "ok   - $1"; }
bad() { fails=$((fails+1)); echo "FAIL - $1"; }
# check NAME PYTHON_EXPR_FILE...: run a python assertion snippet (stdin) with argv; ok when it exits 0.
check() {
  local name="$1"; shift
  if "$py" - "$@" >"$tmp/check.out" 2>&1; then ok "$name"; else bad "$name: $(tail -n 3 "$tmp/check.out" | tr '\n' ' ')"; fi
}

"$py" "$src/tests/tools/make_fake_runs.py" "$tmp/runs" || { echo "FAIL - generator"; exit 1; }
r="$tmp/runs"

# --- PNG + what was plotted -----------------------------------------------------------------
start=$(date +%s.%N)
if "$plot" "$r/doctor" "$r/periodic" "$r/none" -o "$tmp/fig.png" --dump-json >"$tmp/dump.json" 2>"$tmp/err"; then
  ok "renders PNG"
else bad "renders PNG: $(cat "$tmp/err")"; fi
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
if [ "$(echo "$elapsed < 10" | bc)" = 1 ]; then ok "one figure in ${elapsed}s"; else bad "one figure took ${elapsed}s"; fi
[ ! -s "$tmp/err" ] && ok "nothing on stderr" || bad "stderr not empty: $(cat "$tmp/err")"

check "dump: 3 accuracy lines, 1 MC band, 4 panels, log axis with human ticks" "$tmp/dump.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
acc = [s for s in d["series"] if s["panel"] == "accuracy"]
lines = [s for s in acc if s["kind"] == "line"]
bands = [s for s in acc if s["kind"] == "band"]
assert [s["run"] for s in lines] == [0, 1, 2], lines
assert [s["points"] for s in lines] == [25, 121, 121], lines   # doctor: MC evaluation every 5th row
assert [(b["run"], b["points"]) for b in bands] == [(0, 25)], bands
assert d["panels"] == ["accuracy", "energy", "writes", "latency"], d["panels"]
assert d["time_axis"] == "log", d["time_axis"]
labels = [t["label"] for t in d["xticks"]]
for want in ("1 min", "1 h", "1 d", "30 d", "1 y"):
    assert want in labels, labels
pos = {t["label"]: t["t_s"] for t in d["xticks"]}
assert pos["1 h"] == 3600 and pos["1 d"] == 86400 and pos["30 d"] == 30 * 86400 and pos["1 y"] == 365 * 86400, pos
EOF

# Scheduled evaluations are logged when they ran; a drift-compensated one at t = 0 runs after its
# readout (48.6 us). Both runs' t = 0 evaluations are drawn at the one "0" tick, and with no
# calibration or remap markers the accuracy panel reserves no marker strip. The compensated run
# was written with 9 significant digits, as builds before trace.csv kept 1 ns did: its row for the
# instant 9187081.383609865 s reads 9187081.38, before the instant, and is snapped all the same.
"$py" - "$tmp/sched" <<'EOF'
import json, os, sys
big = 9187081.383609865
for name, late in (("plain", 0.0), ("compensated", 4.8596e-05)):
    d = os.path.join(sys.argv[1], name)
    os.makedirs(d)
    json.dump({"name": name, "accuracy": {"mode": "scheduled", "times_s": [0, 60, 3600, big]},
               "controller": {"policy": {"name": name}}}, open(os.path.join(d, "config.resolved.json"), "w"))
    json.dump({"status": "complete", "name": name}, open(os.path.join(d, "run.json"), "w"))
    with open(os.path.join(d, "trace.csv"), "w") as f:
        f.write("t_s,requests,accuracy,accuracy_std,accuracy_n,energy_j,writes\n")
        for k, (t, a) in enumerate(((0, 0.9), (30, None), (60, 0.88), (3600, 0.85), (big, 0.8))):
            acc = "" if a is None else a
            ts = t + (late if a is not None else 0.0)
            f.write("%s,0,%s,,100,%r,0\n" % (("%.9g" % ts) if late else repr(ts), acc, 0.001 * (k + 1)))
    open(os.path.join(d, "events.jsonl"), "w").close()
EOF
"$plot" "$tmp/sched/plain" "$tmp/sched/compensated" -o "$tmp/sched.png" --log-time --dump-json >"$tmp/sched.json" 2>"$tmp/err" \
  || bad "scheduled runs: $(cat "$tmp/err")"
check "scheduled evaluations drawn at their instants: t = 0 at one tick for both runs, no empty marker strip" "$tmp/sched.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
lines = [s for s in d["series"] if s["panel"] == "accuracy" and s["kind"] == "line"]
assert len(lines) == 2 and all(s["points"] == 4 for s in lines), lines
assert d["t_zero_at_s"] > 0 and all(s["t_first"] == d["t_zero_at_s"] for s in lines), (d["t_zero_at_s"], lines)
assert d["marker_rows"] == 0 and d["marker_strip"] == 0, (d["marker_rows"], d["marker_strip"])
EOF
check "marker strip: one row per run with markers" "$tmp/dump.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
rows = len({m["run"] for m in d["markers"] if m["count"] > 0})
assert rows >= 1 and d["marker_rows"] == rows and abs(d["marker_strip"] - (0.03 + 0.045 * rows)) < 1e-12, d["marker_rows"]
EOF

check "windowed served accuracy: binomial 95 % band (Wilson score, by hand)" "$tmp/dump.json" "$r/periodic/trace.csv" <<'EOF'
import csv, json, math, sys
d = json.load(open(sys.argv[1]))
bb = [s for s in d["series"] if s["kind"] == "binomial_band"]
assert [(b["run"], b["points"]) for b in bb] == [(1, 121), (2, 121)], bb   # doctor's rows are Monte-Carlo: std band only
row = next(csv.DictReader(open(sys.argv[2])))
p, n, z = float(row["accuracy"]), float(row["accuracy_n"]), 1.959963984540054
c = (p + z * z / (2 * n)) / (1 + z * z / n)
h = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
lo, hi = bb[0]["first"]
assert abs(lo - (c - h)) < 1e-12 and abs(hi - (c + h)) < 1e-12, (lo, hi, c - h, c + h)
assert 0.85 < lo < p < hi < 0.91
EOF

check "dump: calibration/remap markers per run from events.jsonl" "$tmp/dump.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
got = {(m["run"], m["type"]): m["count"] for m in d["markers"]}
assert got == {(0, "calibration"): 4, (0, "remap"): 1, (1, "calibration"): 12, (1, "remap"): 0,
               (2, "calibration"): 0, (2, "remap"): 0}, got
EOF

check "legend: policy + only the differing --set values" "$tmp/dump.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
labels = [r["label"] for r in d["runs"]]
assert labels == ["doctor (sigma=0.01)", "periodic (period_s=2592000, sigma=0.01)", "none (sigma=0.02)"], labels
assert not any("rate_hz" in l for l in labels), labels          # same in every run: not shown
assert d["runs"][2]["policy"] == "none"                         # from config.resolved.json (no summary.json)
EOF

check "PNG is non-blank and shows every run's colour" "$tmp/fig.png" "$tmp/dump.json" <<'EOF'
import json, sys
import matplotlib; matplotlib.use("Agg")
import matplotlib.image as mpimg, numpy as np
img = mpimg.imread(sys.argv[1])[:, :, :3]
d = json.load(open(sys.argv[2]))
assert img.shape[0] > 500 and img.shape[1] > 800, img.shape
nonwhite = (img.min(axis=2) < 0.95).mean()
assert 0.02 < nonwhite < 0.6, nonwhite
assert img.std() > 0.05, img.std()
for r in d["runs"]:
    c = np.array([int(r["colour"][k:k + 2], 16) / 255 for k in (1, 3, 5)])
    n = int((np.abs(img - c).max(axis=2) < 0.06).sum())
    assert n > 300, (r["label"], n)
EOF

# --- SVG: one group per plotted artist (matplotlib writes gids as ids) ------------------------
if "$plot" "$r/doctor" "$r/periodic" "$r/none" -o "$tmp/fig.svg" 2>"$tmp/err"; then ok "renders SVG"
else bad "renders SVG: $(cat "$tmp/err")"; fi
check "SVG: accuracy series, band and marker groups" "$tmp/fig.svg" <<'EOF'
import re, sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ids = {e.get("id") for e in root.iter() if e.get("id")}
acc = sorted(i for i in ids if re.fullmatch(r"acc-\d+", i))
assert acc == ["acc-0", "acc-1", "acc-2"], acc
assert "band-0" in ids and "band-1" not in ids and "band-2" not in ids
assert {"cal-0", "cal-1", "remap-0"} <= ids and "cal-2" not in ids and "remap-1" not in ids, sorted(ids)
assert {"energy-0", "writes-1", "latency-2"} <= ids
# DOCTOR re-maps and calibrates at nearly one instant (a trial saw only the remap triangles): remaps
# are hollow and calibrations are drawn after them, on top
order = [e.get("id") for e in root.iter() if e.get("id") in ("remap-0", "cal-0")]
assert order == ["remap-0", "cal-0"], order
remap = next(e for e in root.iter() if e.get("id") == "remap-0")
assert any("fill-opacity: 0" in (x.get("style") or "") or "fill: none" in (x.get("style") or "") for x in remap.iter()), "remap markers filled"
EOF

if "$plot" "$r/doctor" "$r/periodic" -o "$tmp/fig.pdf" --panels accuracy,writes --dump-json >"$tmp/pdf.json" 2>"$tmp/err" &&
   [ "$(head -c 4 "$tmp/fig.pdf")" = "%PDF" ] && [ "$(stat -c %s "$tmp/fig.pdf")" -gt 5000 ]; then ok "renders PDF"
else bad "renders PDF: $(cat "$tmp/err")"; fi
# the same runs and options give the same bytes in every format (no creation date, no random SVG ids)
sleep 1
if "$plot" "$r/doctor" "$r/periodic" "$r/none" -o "$tmp/fig2.svg" 2>/dev/null && cmp -s "$tmp/fig.svg" "$tmp/fig2.svg" &&
   "$plot" "$r/doctor" "$r/periodic" -o "$tmp/fig2.pdf" --panels accuracy,writes 2>/dev/null && cmp -s "$tmp/fig.pdf" "$tmp/fig2.pdf"
then ok "SVG and PDF are reproducible byte for byte"; else bad "SVG / PDF bytes differ between two renderings"; fi
check "--panels selects panels; 2-run legend drops the now-equal sigma" "$tmp/pdf.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["panels"] == ["accuracy", "writes"], d["panels"]
assert [r["label"] for r in d["runs"]] == ["doctor", "periodic (period_s=2592000)"], d["runs"]
EOF

# Without an accuracy panel the runs are still named: the first panel's legend has one entry per
# run (it had none, and the coloured lines were unlabelled)
"$plot" "$r/doctor" "$r/periodic" -o "$tmp/nolegend.png" --panels energy,writes --dump-json >"$tmp/nolegend.json" 2>/dev/null
check "no accuracy panel: the runs are in the legend" "$tmp/nolegend.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["panels"] == ["energy", "writes"], d["panels"]
assert d["legend_labels"] == ["doctor", "periodic (period_s=2592000)"], d["legend_labels"]
EOF

# --- default output, axis choice ----------------------------------------------------------
"$plot" "$r/short" --dump-json >"$tmp/short.json" 2>"$tmp/err" && [ -s "$r/short/accuracy.png" ] &&
  ok "default output RUN_DIR/accuracy.png" || bad "default output: $(cat "$tmp/err")"
check "2-day run: linear axis, ticks every 6 h" "$tmp/short.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["time_axis"] == "linear", d["time_axis"]
assert [t["label"] for t in d["xticks"]][:3] == ["0", "6 h", "12 h"], d["xticks"]
assert all(t["t_s"] % 21600 == 0 for t in d["xticks"])
EOF
"$plot" "$r/short" -o "$tmp/s.png" --log-time --dump-json >"$tmp/s1.json" 2>/dev/null
"$plot" "$r/doctor" -o "$tmp/d.png" --linear-time --dump-json >"$tmp/s2.json" 2>/dev/null
check "--log-time / --linear-time override the default" "$tmp/s1.json" "$tmp/s2.json" <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["time_axis"] == "log" and b["time_axis"] == "linear", (a["time_axis"], b["time_axis"])
lin = [t["label"] for t in b["xticks"]]
assert lin[0] == "0" and all(l == "0" or l.endswith(" d") for l in lin), lin   # 1 y span: day multiples
EOF
ls -a "$tmp" "$r"/* | grep -q '\.tmp$' && bad "temporary files left behind" || ok "no temporary files left"

# --- HTML report ------------------------------------------------------------------------------
if "$plot" "$r/doctor" "$r/periodic" "$r/none" --html "$tmp/report.html" 2>"$tmp/err"; then ok "renders HTML"
else bad "renders HTML: $(cat "$tmp/err")"; fi
check "HTML: self-contained, library inlined, one data block per run, summary table" \
  "$tmp/report.html" "$src/tools/vendor/uplot/uPlot.iife.min.js" <<'EOF'
import re, sys
h = open(sys.argv[1], encoding="utf-8").read()
lib = open(sys.argv[2], encoding="utf-8").read()
assert lib.strip() in h, "uPlot not inlined"
assert h.count('class="ptc-run-data"') == 3, h.count('class="ptc-run-data"')
assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", h, re.I), "external URL"
assert not re.search(r"<script[^>]*\bsrc\s*=", h, re.I) and not re.search(r"<link\b", h, re.I)
assert "<th>accuracy_final</th>" in h and "<th>overhead_ratio</th>" in h
# the wall time is run.json's (60 s in the fake runs), in the runs table; summary.json has none
assert "<th>wall_s</th>" not in h and h.count("<th>wall time (s)</th>") == 1, "wall time column"
assert h.count("<td>60</td>") == 3, h.count("<td>60</td>")
rows = re.findall(r"<tr><td><span class=\"sw\"", h)
assert len(rows) == 3, len(rows)
for label in ("doctor (sigma=0.01)", "periodic (period_s=2592000, sigma=0.01)", "none (sigma=0.02)"):
    assert label in h, label
EOF
if command -v node >/dev/null 2>&1; then
  node "$src/tests/tools/check_report.js" "$tmp/report.html" >"$tmp/charts.json" 2>"$tmp/err" &&
    ok "HTML chart code runs (node, stub DOM)" || bad "HTML chart code: $(head -c 400 "$tmp/err")"
  check "HTML charts: series, MC band, markers, human ticks" "$tmp/charts.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["runs"] == 3 and not d["empty"], d
c = {x["el"]: x for x in d["charts"]}
assert sorted(c) == ["chart-accuracy", "chart-energy", "chart-latency", "chart-writes"], sorted(c)
a = c["chart-accuracy"]
# doctor mean, band top/bottom (Monte-Carlo std), its ideal; periodic and none (windowed accuracy of
# accuracy_n images) each with band top/bottom (binomial), periodic's ideal (none has no summary.json)
assert len(a["series"]) == 11 and a["bands"] == 3, a
assert a["nonnull"] == [25, 25, 25, 25, 121, 121, 121, 121, 121, 121, 121], a["nonnull"]
assert a["legend"] == ["doctor (sigma=0.01)", "ideal: doctor (sigma=0.01)", "periodic (period_s=2592000, sigma=0.01)",
                       "ideal: periodic (period_s=2592000, sigma=0.01)", "none (sigma=0.02)"], a["legend"]  # no +-sigma entries
assert a["markers"] == 17, a["markers"]                  # 4 + 1 + 12 calibrations/remaps
# every tick labelled at full zoom, also the non-decade ones uPlot's log filter would blank ("0 ns" before)
assert a["log"] and a["ticks"] == ["1 s", "1 min", "1 h", "1 d", "30 d", "1 y"], a["ticks"]
assert len(c["chart-energy"]["series"]) == 3
for k, x in c.items():   # y labels distinct and short (k/M suffixes), never cut
    assert len(set(x["yticks"])) == len(x["yticks"]) and max(map(len, x["yticks"])) <= 7, (k, x["yticks"])
assert c["chart-writes"]["yticks"][-1].endswith("k"), c["chart-writes"]["yticks"]
EOF
# a p99 latency that moves in its 5th digit: the labels keep the digits that tell the ticks apart
cp -r "$r/none" "$tmp/flatlat"
"$py" - "$tmp/flatlat/trace.csv" <<'EOF'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
k = rows[0].index("latency_p99_s")
for i, row in enumerate(rows[1:]):
    row[k] = repr(0.00050761 + 1e-10 * (i % 3))
csv.writer(open(sys.argv[1], "w", newline="")).writerows(rows)
EOF
"$plot" "$tmp/flatlat" --panels latency --html "$tmp/flatlat.html" 2>/dev/null && node "$src/tests/tools/check_report.js" "$tmp/flatlat.html" >"$tmp/flatlat.json" 2>"$tmp/err" \
  || bad "flat latency report: $(cat "$tmp/err")"
check "HTML p99 axis: distinct labels for a latency varying in its 5th digit" "$tmp/flatlat.json" <<'EOF'
import json, sys
y = json.load(open(sys.argv[1]))["charts"][0]["yticks"]
assert len(set(y)) == 5 and y[0].startswith("507.61"), y
EOF
else echo "skip - node not installed: HTML chart code not executed"; fi

# --- errors: one line on stderr, exit 2, no output ---------------------------------------------
expect_error() {
  local name="$1" pat="$2"; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  local lines; lines=$(wc -l <"$tmp/err")
  if [ "$rc" -eq 2 ] && [ "$lines" -eq 1 ] && grep -q -- "^ptc-plot: error: .*$pat" "$tmp/err" &&
     ! grep -q Traceback "$tmp/err"; then ok "$name"
  else bad "$name (exit $rc, $lines stderr lines: $(head -c 300 "$tmp/err"))"; fi
}
expect_error "missing run directory" "/nonexistent/run: run directory not found" "$plot" /nonexistent/run -o "$tmp/e.png"
expect_error "one run given twice (trailing slash) is refused, not drawn as two seeds" \
  "doctor/: the same run directory as .*runs/doctor (given twice)" "$plot" "$r/doctor" "$r/doctor/" -o "$tmp/e.png"
mkdir -p "$tmp/empty_run"
expect_error "directory without trace.csv" "empty_run/trace.csv: missing" "$plot" "$tmp/empty_run" -o "$tmp/e.png"
mkdir -p "$tmp/junk"; head -c 3000 /dev/urandom >"$tmp/junk/trace.csv"
expect_error "binary trace.csv" "junk/trace.csv" "$plot" "$tmp/junk" -o "$tmp/e.png"
cp -r "$r/periodic" "$tmp/bad_cell"; sed -i '7s/^\([^,]*\),[^,]*,/\1,12x,/' "$tmp/bad_cell/trace.csv"
expect_error "non-numeric cell names file and line" "bad_cell/trace.csv:7: column 'requests'" "$plot" "$tmp/bad_cell" -o "$tmp/e.png"
cp -r "$r/periodic" "$tmp/short_row"; sed -i '5s/,.*$/,1/' "$tmp/short_row/trace.csv"
expect_error "short row mid-file" "short_row/trace.csv:5: 2 fields, header has 14" "$plot" "$tmp/short_row" -o "$tmp/e.png"
mkdir -p "$tmp/header_only"; head -1 "$r/doctor/trace.csv" >"$tmp/header_only/trace.csv"
expect_error "header only: no numeric rows" "header_only/trace.csv: no numeric rows" "$plot" "$tmp/header_only" -o "$tmp/e.png"
mkdir -p "$tmp/no_t"; printf 'time,accuracy\n1,0.5\n' >"$tmp/no_t/trace.csv"
expect_error "no t_s column" "no_t/trace.csv: no 't_s' column" "$plot" "$tmp/no_t" -o "$tmp/e.png"
cp -r "$r/doctor" "$tmp/bad_events"; sed -i '3s/.*/{"t_s": 1, broken/' "$tmp/bad_events/events.jsonl"
expect_error "corrupt events.jsonl" "bad_events/events.jsonl:3: invalid JSON" "$plot" "$tmp/bad_events" -o "$tmp/e.png"
cp -r "$r/doctor" "$tmp/bad_summary"; echo '{"policy": ' >"$tmp/bad_summary/summary.json"
expect_error "corrupt summary.json" "bad_summary/summary.json: invalid JSON" "$plot" "$tmp/bad_summary" -o "$tmp/e.png"
expect_error "corrupt run among good ones" "junk/trace.csv" "$plot" "$r/doctor" "$tmp/junk" -o "$tmp/e.png"
expect_error "unsupported figure format" "unsupported figure format '.jpg'" "$plot" "$r/doctor" -o "$tmp/e.jpg"
expect_error "unknown panel" "unknown panel 'power'" "$plot" "$r/doctor" -o "$tmp/e.png" --panels accuracy,power
expect_error "output directory missing" "does not exist" "$plot" "$r/doctor" -o "$tmp/nodir/e.png"
# an object set whole (--set device={...}) shows only its leaves that differ; --label replaces
# the automatic labels, once per run directory in order
for v in 0.06 0.1; do
  cp -r "$r/none" "$tmp/dev_$v"
  "$py" - "$tmp/dev_$v/run.json" "$v" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
j["set"] = {"controller.policy.name": "none", "device": {"name": "my_law", "nu": float(sys.argv[2]), "sigma_rel": 0.04}}
json.dump(j, open(sys.argv[1], "w"))
c = json.load(open(sys.argv[1].replace("run.json", "config.resolved.json")))
c["device"] = j["set"]["device"]
json.dump(c, open(sys.argv[1].replace("run.json", "config.resolved.json"), "w"))
EOF
done
"$plot" "$tmp/dev_0.06" "$tmp/dev_0.1" -o "$tmp/dev.png" --dump-json >"$tmp/dev.json" 2>"$tmp/err" || bad "device sets: $(cat "$tmp/err")"
"$plot" "$tmp/dev_0.06" "$tmp/dev_0.1" --label "slow drift" --label "fast drift" -o "$tmp/dev2.png" --dump-json \
  >"$tmp/dev2.json" 2>"$tmp/err" || bad "--label: $(cat "$tmp/err")"
check "legend: an object --set shows only its differing leaves, --label replaces the labels" "$tmp/dev.json" "$tmp/dev2.json" <<'EOF'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
assert [r["label"] for r in a["runs"]] == ["none (nu=0.06)", "none (nu=0.1)"], a["runs"]
assert [r["label"] for r in b["runs"]] == ["slow drift", "fast drift"], b["runs"]
EOF
# A 320-character label wraps at 48 characters in the legend beside the axes, and the axes keep
# about 90 % of the figure's width (the saved image grows to hold the legend; the label used to
# squeeze the axes to a sixth of the width). The binomial (Wilson) band has its own hatched entry.
long=$(printf 'very long label %.0s' $(seq 20))
"$plot" "$r/doctor" "$r/periodic" --label "$long" --label "p" --panels accuracy -o "$tmp/long.png" --dump-json \
  >"$tmp/long.json" 2>"$tmp/err" || bad "long label: $(cat "$tmp/err")"
check "a long legend label wraps and leaves the axes their width, the Wilson band its hatched entry" "$tmp/long.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["axes_width_fraction"] >= 0.85, d["axes_width_fraction"]
first = d["legend_labels"][0].split("\n")
assert len(first) >= 6 and max(map(len, first)) <= 48 and " ".join(first) == ("very long label " * 20).strip(), first
assert any(l.startswith("band (hatched): binomial 95 %") for l in d["legend_labels"]), d["legend_labels"]
assert any(l.startswith("band: ±1 std") for l in d["legend_labels"]), d["legend_labels"]
EOF
expect_error "--label: one per run directory" "--label given 1 times for 2 run directories" \
  "$plot" "$tmp/dev_0.06" "$tmp/dev_0.1" --label "only one" -o "$tmp/e.png"
cp -r "$r/none" "$tmp/seedtwin"
"$py" -c "import json,sys; f=sys.argv[1]; c=json.load(open(f)); c['seed']=c.get('seed', 1) + 1; json.dump(c, open(f, 'w'))" "$tmp/seedtwin/config.resolved.json"
expect_error "--label: two labels for one seed group (one line) is an error" "differ only in their seed and are drawn as one line" \
  "$plot" "$r/none" "$tmp/seedtwin" --label a --label b -o "$tmp/e.png"

# past ten runs the colours repeat: each further ten gets a dash pattern (PNG and HTML alike)
many=()
for k in $(seq 0 11); do
  cp -r "$r/none" "$tmp/many_$k"
  "$py" - "$tmp/many_$k/run.json" "$k" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
j["set"] = {"controller.policy.name": "none", "noise.drift.sigma": 0.01 * (int(sys.argv[2]) + 1)}
json.dump(j, open(sys.argv[1], "w"))
c = json.load(open(sys.argv[1].replace("run.json", "config.resolved.json")))
c["noise"] = {"drift": {"sigma": 0.01 * (int(sys.argv[2]) + 1)}}    # not one configuration's seeds
json.dump(c, open(sys.argv[1].replace("run.json", "config.resolved.json"), "w"))
EOF
  many+=("$tmp/many_$k")
done
"$plot" "${many[@]}" -o "$tmp/many.png" --html "$tmp/many.html" --dump-json >"$tmp/many.json" 2>"$tmp/err" || bad "12 runs: $(cat "$tmp/err")"
check "12 runs: runs 11 and 12 reuse the first colours, dashed (PNG dump and HTML payload)" "$tmp/many.json" "$tmp/many.html" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
st = [(r["colour"], r["linestyle"]) for r in d["runs"]]
assert [ls for _, ls in st] == ["-"] * 10 + ["--"] * 2, st
assert st[10][0] == st[0][0] and st[11][0] == st[1][0] and len({c for c, _ in st[:10]}) == 10, st
h = open(sys.argv[2]).read()
assert h.count('"dash":[6,4]') == 2, h.count('"dash":[6,4]')
EOF

expect_error "no run directory given" "expected RUN_DIR... or --sweep" "$plot"
[ ! -e "$tmp/e.png" ] && ok "no output file after errors" || bad "output written despite an error"

# A truncated last line (run interrupted mid-write) is skipped with a warning, not an error.
cp -r "$r/doctor" "$tmp/cut"; printf '99999999,12' >>"$tmp/cut/trace.csv"
if "$plot" "$tmp/cut" -o "$tmp/cut.png" 2>"$tmp/err" && grep -q "warning: .*cut/trace.csv:123: truncated" "$tmp/err"; then
  ok "truncated last trace line: warning, still plots"
else bad "truncated last trace line: $(cat "$tmp/err")"; fi


# --- a log time axis keeps t = 0 (drawn a decade before the first positive instant, tick "0") -------
cp -r "$r/doctor" "$tmp/zero"
"$py" - "$tmp/zero/trace.csv" <<'EOF'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
first = list(rows[1]); first[0] = "0"; first[1] = "0"
rows.insert(1, first)
csv.writer(open(sys.argv[1], "w", newline="")).writerows(rows)
EOF
"$plot" "$tmp/zero" -o "$tmp/zero.png" --dump-json >"$tmp/zero.json" 2>/dev/null
check "log axis with a row at t = 0: drawn at a tick labelled 0, a decade before 1 s" "$tmp/zero.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["time_axis"] == "log" and d["t_zero_at_s"] == 0.1, d.get("t_zero_at_s")
assert d["xticks"][0] == {"t_s": 0.1, "label": "0"} and d["xticks"][1]["label"] == "1 s", d["xticks"][:3]
assert [s["points"] for s in d["series"] if s["panel"] == "accuracy" and s["kind"] == "line"] == [26]   # 25 + the t = 0 row
EOF

# --- --by-requests: served requests on the x axis (back-to-back runs) -------------------------------
"$plot" "$r/doctor" "$r/periodic" --by-requests -o "$tmp/req.png" --dump-json >"$tmp/req.json" 2>"$tmp/err" || bad "--by-requests: $(cat "$tmp/err")"
check "--by-requests: count ticks (decades), same series and markers as over time" "$tmp/req.json" "$tmp/dump.json" <<'EOF'
import json, sys
d, t = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert d["x_axis"] == "requests" and d["time_axis"] == "log", (d["x_axis"], d["time_axis"])
labels = [x["label"] for x in d["xticks"]]
assert labels[0] == "100" and labels[-1] == "1,000,000,000" and all(l.replace(",", "").isdigit() for l in labels), labels
pick = lambda j: [(s["kind"], s.get("run"), s["points"]) for s in j["series"] if s["panel"] == "accuracy" and s.get("run", 9) < 2]
assert pick(d) == pick(t), (pick(d), pick(t))
mk = lambda j: {(m["run"], m["type"]): m["count"] for m in j["markers"] if m["run"] < 2}
assert mk(d) == mk(t), (mk(d), mk(t))
EOF
expect_error "--by-requests with --html" "--by-requests: the HTML report draws simulated time only" "$plot" "$r/doctor" --by-requests --html "$tmp/e.html"
mkdir -p "$tmp/noreq"; printf 't_s,accuracy\n1,0.5\n2,0.6\n' >"$tmp/noreq/trace.csv"
expect_error "--by-requests without a requests column" "noreq: trace.csv has no requests column" "$plot" "$tmp/noreq" --by-requests -o "$tmp/e.png"

# --- constant panels are left out by default (drawn when asked with --panels) ------------------------
cp -r "$r/none" "$tmp/flat"
"$py" - "$tmp/flat/trace.csv" <<'EOF'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
h = rows[0]
for row in rows[1:]:
    row[h.index("writes")] = "0"
    row[h.index("latency_p99_s")] = "0.0005"
csv.writer(open(sys.argv[1], "w", newline="")).writerows(rows)
EOF
"$plot" "$tmp/flat" -o "$tmp/flat.png" --dump-json >"$tmp/flat.json" 2>/dev/null
"$plot" "$tmp/flat" -o "$tmp/flat2.png" --panels accuracy,writes --dump-json >"$tmp/flat2.json" 2>/dev/null
check "all-zero writes and constant latency: no panel by default, drawn with --panels" "$tmp/flat.json" "$tmp/flat2.json" <<'EOF'
import json, sys
assert json.load(open(sys.argv[1]))["panels"] == ["accuracy", "energy"]
assert json.load(open(sys.argv[2]))["panels"] == ["accuracy", "writes"]
EOF

# --- runs that differ only in their seed: one mean line with a Student-t 95 % band -----------------
cp -r "$r/doctor" "$tmp/seed2"
"$py" - "$tmp/seed2" <<'EOF'
import csv, json, os, sys
d = sys.argv[1]
for f in ("config.resolved.json", "run.json", "summary.json"):
    j = json.load(open(os.path.join(d, f))); j["seed"] = 2; json.dump(j, open(os.path.join(d, f), "w"))
rows = list(csv.reader(open(os.path.join(d, "trace.csv"))))
k = rows[0].index("accuracy")
for row in rows[1:]:
    if row[k] != "":
        row[k] = repr(float(row[k]) + 0.02)
csv.writer(open(os.path.join(d, "trace.csv"), "w", newline="")).writerows(rows)
EOF
"$plot" "$r/doctor" "$tmp/seed2" "$r/none" -o "$tmp/seeds.png" --dump-json >"$tmp/seeds.json" 2>"$tmp/err" || bad "seed plot: $(cat "$tmp/err")"
check "two seeds of one configuration: mean line + 95 % band (hand computation), the other run as a line" "$tmp/seeds.json" "$r/doctor/trace.csv" <<'EOF'
import csv, json, math, sys
d = json.load(open(sys.argv[1]))
acc = [s for s in d["series"] if s["panel"] == "accuracy"]
sm = [s for s in acc if s["kind"] == "seed_mean"]
assert len(sm) == 1 and sm[0]["runs"] == [0, 1], acc
assert [s["run"] for s in acc if s["kind"] == "line"] == [2], acc
assert "mean of 2 seeds" in sm[0]["name"] and "seed=" not in sm[0]["name"], sm[0]["name"]
rows = [r for r in csv.DictReader(open(sys.argv[2])) if r["accuracy"] != ""]
a = [float(r["accuracy"]) for r in rows]
t = [float(r["t_s"]) for r in rows]
s = sm[0]
assert s["t_s"] == t and s["n"] == [2] * len(t), (len(s["t_s"]), len(t))
half = 12.706204736 * math.sqrt(2 * 0.01 ** 2) / math.sqrt(2)   # t_{0.975,1} * std / sqrt(2) for x, x + 0.02
for m, c, x in zip(s["mean"], s["ci95"], a):
    assert abs(m - (x + 0.01)) < 1e-9 and abs(c - half) < 1e-6, (m, x, c, half)
EOF
# the same two seeds as a sweep or `run --seed` makes them: run.json's "set" records the seed too
for s in 1 2; do
  cp -r "$([ $s = 1 ] && echo "$r/doctor" || echo "$tmp/seed2")" "$tmp/setseed$s"
  "$py" -c "import json,sys; p=sys.argv[1]+'/run.json'; j=json.load(open(p)); j['set']=dict(j.get('set') or {}, seed=int(sys.argv[2])); json.dump(j, open(p,'w'))" "$tmp/setseed$s" "$s"
done
"$plot" "$tmp/setseed1" "$tmp/setseed2" -o "$tmp/seeds3.png" --dump-json >"$tmp/seeds3.json" 2>"$tmp/err" || bad "seed plot (set seed): $(cat "$tmp/err")"
check "seeds recorded in run.json's set: one group, its legend without the seed, one colour in every panel" "$tmp/seeds3.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
sm = [s for s in d["series"] if s["panel"] == "accuracy" and s["kind"] == "seed_mean"]
assert len(sm) == 1 and "mean of 2 seeds" in sm[0]["name"] and "seed" not in sm[0]["name"].split("(mean")[0], sm
assert d["runs"][0]["colour"] == d["runs"][1]["colour"], d["runs"]
# the group is named once: no legend entry per member run
assert not [l for l in d["legend_labels"] if "seed=" in l], d["legend_labels"]
EOF
# the second seed run from another checkout (another base_dir, which the run's id leaves out): still one group
cp -r "$tmp/seed2" "$tmp/seed2bd"
"$py" -c "import json,sys; p=sys.argv[1]+'/config.resolved.json'; j=json.load(open(p)); j['base_dir']='/another/checkout/scenarios'; json.dump(j, open(p,'w'))" "$tmp/seed2bd"
"$plot" "$r/doctor" "$tmp/seed2bd" -o "$tmp/seeds4.png" --dump-json >"$tmp/seeds4.json" 2>"$tmp/err" || bad "seed plot (base_dir): $(cat "$tmp/err")"
check "two seeds whose configurations differ only in base_dir: one seed group" "$tmp/seeds4.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
sm = [s for s in d["series"] if s["panel"] == "accuracy" and s["kind"] == "seed_mean"]
assert len(sm) == 1 and "mean of 2 seeds" in sm[0]["name"], [s["name"] for s in d["series"] if s["panel"] == "accuracy"]
EOF
"$plot" "$r/doctor" "$tmp/seed2" -o "$tmp/seeds2.png" --overlay-seeds --dump-json >"$tmp/seeds2.json" 2>/dev/null
check "--overlay-seeds: one line per seed" "$tmp/seeds2.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert [s["run"] for s in d["series"] if s["panel"] == "accuracy" and s["kind"] == "line"] == [0, 1], d["series"]
assert [r["label"] for r in d["runs"]] == ["doctor seed=1", "doctor seed=2"], d["runs"]
EOF

# --- --sweep: a metric against a swept parameter, mean over seeds with a Student-t 95 % CI ----------
# Synthetic results.csv (the columns `ptcsim sweep collect` writes): policy x w_thres x 3 seeds, one
# extra parameter fixed, one failed run; expectations computed by hand with table t values.
cat >"$tmp/results.csv" <<'CSV'
index,id,controller.policy,monitor.w_thres,hw.adc.bits,seed,status,accuracy_mean,overhead_ratio
0,a0,"{""name"":""doctor"",""steps"":20}",0.02,8,1,complete,0.90,0.10
1,a1,"{""name"":""doctor"",""steps"":20}",0.02,8,2,complete,0.92,0.12
2,a2,"{""name"":""doctor"",""steps"":20}",0.02,8,3,complete,0.94,0.14
3,a3,"{""name"":""doctor"",""steps"":20}",0.2,8,1,complete,0.80,0.01
4,a4,"{""name"":""doctor"",""steps"":20}",0.2,8,2,complete,0.84,0.01
5,a5,"{""name"":""doctor"",""steps"":20}",0.2,8,3,failed,,
6,b0,"{""name"":""threshold_full""}",0.02,8,1,complete,0.95,0.30
7,b1,"{""name"":""threshold_full""}",0.02,8,2,complete,0.95,0.30
8,b2,"{""name"":""threshold_full""}",0.02,8,3,complete,0.95,0.30
9,b3,"{""name"":""threshold_full""}",0.2,8,1,complete,0.70,0.02
10,b4,"{""name"":""threshold_full""}",0.2,8,2,complete,0.71,0.03
11,b5,"{""name"":""threshold_full""}",0.2,8,3,complete,0.75,0.04
CSV
# the sweep's name comes from results.json beside results.csv (sweep collect writes the spec's name)
echo '{"name": "policy_grid", "entries": 12}' >"$tmp/results.json"
if "$plot" --sweep "$tmp/results.csv" --x monitor.w_thres --y accuracy_mean,overhead_ratio --hue controller.policy \
     -o "$tmp/sweep.png" --dump-json >"$tmp/sweep.json" 2>"$tmp/err"; then ok "--sweep renders"; else bad "--sweep: $(cat "$tmp/err")"; fi
grep -q "warning: .*results.csv: 1 of 12 runs not complete, left out" "$tmp/err" && ok "--sweep: the failed run is named as left out" \
  || bad "--sweep warning: $(cat "$tmp/err")"
check "--sweep: means and 95 % CIs over seeds = hand computation (t table), hue by policy name" "$tmp/sweep.json" <<'EOF'
import json, math, sys
d = json.load(open(sys.argv[1]))
assert d["title"].startswith("policy_grid: mean over seeds"), d["title"]
T = {1: 12.706204736, 2: 4.302652730}
def ci(x):
    n = len(x); m = sum(x) / n
    return T[n - 1] * math.sqrt(sum((v - m) ** 2 for v in x) / (n - 1)) / math.sqrt(n) if n > 1 else None
assert d["mode"] == "sweep" and d["x_axis"] == "linear" and d["x_values"] == ["0.02", "0.2"], d
want = {("accuracy_mean", "doctor"): ([0.92, 0.82], [ci([.90, .92, .94]), ci([.80, .84])], [3, 2]),
        ("overhead_ratio", "doctor"): ([0.12, 0.01], [ci([.10, .12, .14]), ci([.01, .01])], [3, 2]),
        ("accuracy_mean", "threshold_full"): ([0.95, 0.72], [0.0, ci([.70, .71, .75])], [3, 3]),
        ("overhead_ratio", "threshold_full"): ([0.30, 0.03], [0.0, ci([.02, .03, .04])], [3, 3])}
got = {(s["metric"], s["label"]): s for s in d["series"]}
assert set(got) == set(want), got.keys()
for k, (mean, half, n) in want.items():
    s = got[k]
    assert s["x"] == ["0.02", "0.2"] and s["n"] == n, (k, s)
    for a, b in zip(s["mean"], mean): assert abs(a - b) < 1e-12, (k, s["mean"], mean)
    for a, b in zip(s["ci95"], half): assert abs(a - b) < 1e-9 * max(1, b), (k, s["ci95"], half)
assert got[("accuracy_mean", "doctor")]["ci95"][0] > 0.04   # 4.30 x 0.02 / sqrt 3 = 0.0497: a real band
EOF
check "--sweep PNG is non-blank with both hue colours" "$tmp/sweep.png" "$tmp/sweep.json" <<'EOF'
import json, sys
import matplotlib; matplotlib.use("Agg")
import matplotlib.image as mpimg, numpy as np
img = mpimg.imread(sys.argv[1])[:, :, :3]
d = json.load(open(sys.argv[2]))
assert img.std() > 0.05
for s in d["series"][:2]:
    c = np.array([int(s["colour"][k:k + 2], 16) / 255 for k in (1, 3, 5)])
    assert int((np.abs(img - c).max(axis=2) < 0.06).sum()) > 200, s["label"]
EOF
# sweep collect's per-instant columns are labelled by their instant in words; an integer
# parameter (ADC bits) gets a tick on each value and none between them
cat >"$tmp/instants.csv" <<'CSV'
index,id,hw.adc.bits,seed,status,accuracy_t_1s,accuracy_std_t_31536000s,latency_p99_s,energy_j
0,c0,4,1,complete,0.30,0.02,0.5,2.0
1,c1,6,1,complete,0.80,0.04,0.6,2.5
2,c2,8,1,complete,0.85,0.03,0.7,3.0
CSV
"$plot" --sweep "$tmp/instants.csv" --x hw.adc.bits --y latency_p99_s,energy_j -o "$tmp/units.png" --dump-json >"$tmp/units.json" 2>"$tmp/err" \
  && $py -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['y_labels'] == ['latency_p99 (s)', 'energy (J)'], d['y_labels']" "$tmp/units.json" \
  && ok "--sweep: a metric's unit suffix (_s, _j) becomes its unit in the label" || bad "--sweep unit labels: $(cat "$tmp/err")"
"$plot" --sweep "$tmp/instants.csv" --x hw.adc.bits --y accuracy_t_1s,accuracy_std_t_31536000s -o "$tmp/inst.png" --dump-json \
  >"$tmp/inst.json" 2>"$tmp/err" || bad "--sweep per-instant columns: $(cat "$tmp/err")"
check "--sweep: per-instant columns labelled 'accuracy at t = 1 s' / '... std over chips at t = 1 y', integer ticks" "$tmp/inst.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["y_labels"] == ["accuracy at t = 1 s", "accuracy std over chips at t = 1 y"], d["y_labels"]
assert d["x_ticks"] == ["4", "6", "8"], d.get("x_ticks")
assert "x_ticks" not in json.load(open(sys.argv[1].replace("inst.json", "sweep.json"))), "0.02/0.2 are not integers"
EOF
"$plot" --sweep "$tmp/results.csv" --x controller.policy --y accuracy_mean --where monitor.w_thres=0.2 -o "$tmp/sweep2.png" --dump-json >"$tmp/sweep2.json" 2>/dev/null
check "--sweep: a categorical x (policy names) filtered with --where" "$tmp/sweep2.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["x_axis"] == "categorical" and len(d["series"]) == 1, d
s = d["series"][0]
assert s["n"] == [2, 3] and abs(s["mean"][0] - 0.82) < 1e-12 and abs(s["mean"][1] - 0.72) < 1e-12, s
EOF
"$plot" --sweep "$tmp/results.csv" --x monitor.w_thres --y accuracy_mean,overhead_ratio --hue controller.policy \
  --html "$tmp/sweep.html" 2>/dev/null || bad "--sweep --html failed"
check "--sweep --html: inline SVG figure, one row per point with mean and CI, the failed run listed" "$tmp/sweep.html" "$tmp/sweep.json" <<'EOF'
import json, re, sys
h = open(sys.argv[1], encoding="utf-8").read()
d = json.load(open(sys.argv[2]))
assert h.count("<svg") == 1 and "http" not in h.split("<svg")[0].replace("https://www.w3.org", ""), "not self-contained"
pts = re.findall(r"<tr><td>(doctor|threshold_full)</td><td>([0-9.]+)</td><td>(\w+)</td><td>(\d)</td><td>([0-9.e-]+)</td>", h)
assert len(pts) == 8, pts
for s in d["series"]:
    for xv, mu in zip(s["x"], s["mean"]):
        assert (s["label"], xv, s["metric"]) in [(p[0], p[1], p[2]) for p in pts]
        row = [p for p in pts if (p[0], p[1], p[2]) == (s["label"], xv, s["metric"])][0]
        assert abs(float(row[4]) - mu) <= 1e-5 * abs(mu), (row, mu)
assert re.search(r"<tr><td>5</td><td>a5</td><td>3</td><td>failed</td></tr>", h), "failed run not listed"
EOF
# --where by the name the legend shows, or by the same number written otherwise, selects the same runs
"$plot" --sweep "$tmp/results.csv" --x monitor.w_thres --y accuracy_mean --where controller.policy=doctor -o "$tmp/w1.png" \
  --dump-json >"$tmp/w1.json" 2>/dev/null
"$plot" --sweep "$tmp/results.csv" --x controller.policy --y accuracy_mean --where monitor.w_thres=0.20 -o "$tmp/w2.png" \
  --dump-json >"$tmp/w2.json" 2>/dev/null
check "--sweep --where: a policy by its name, a number as 0.20 for 0.2" "$tmp/w1.json" "$tmp/w2.json" <<'EOF'
import json, sys
d1, d2 = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
s = d1["series"][0]
assert len(d1["series"]) == 1 and s["n"] == [3, 2] and abs(s["mean"][0] - 0.92) < 1e-12 and abs(s["mean"][1] - 0.82) < 1e-12, s
s = d2["series"][0]
assert s["n"] == [2, 3] and abs(s["mean"][0] - 0.82) < 1e-12 and abs(s["mean"][1] - 0.72) < 1e-12, s
EOF
expect_error "--sweep --where: a value no run has lists the values" \
  "--where controller.policy=periodic_full: no run has this value (values: doctor, threshold_full)" \
  "$plot" --sweep "$tmp/results.csv" --x monitor.w_thres --y accuracy_mean --where controller.policy=periodic_full -o "$tmp/e.png"
head -1 "$tmp/results.csv" | cut -d, -f1-7 >"$tmp/nometric.csv"
sed -n 2p "$tmp/results.csv" | sed 's/complete,0.90,0.10/failed/' >>"$tmp/nometric.csv"
expect_error "--sweep: a table collected with no complete run says so" "no metric columns: no run of the sweep was complete" \
  "$plot" --sweep "$tmp/nometric.csv" --x monitor.w_thres --y accuracy_mean -o "$tmp/e.png"
# a parameter zipped with x (one value per x) is no conflict
"$py" - "$tmp/results.csv" "$tmp/zip.csv" <<'EOF'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
rows[0].insert(4, "monitor.t_thres_k")
for r in rows[1:]:
    r.insert(4, "0.01" if r[3] == "0.02" else "0.1")
csv.writer(open(sys.argv[2], "w", newline="")).writerows(rows)
EOF
"$plot" --sweep "$tmp/zip.csv" --x monitor.w_thres --y accuracy_mean --hue controller.policy -o "$tmp/zip.png" 2>"$tmp/err" \
  && ok "--sweep: a parameter zipped with --x is accepted" || bad "zipped parameter: $(cat "$tmp/err")"
expect_error "--sweep: a varying parameter that is neither x nor hue" "parameter controller.policy varies .* --where controller.policy=VALUE" \
  "$plot" --sweep "$tmp/results.csv" --x monitor.w_thres --y accuracy_mean -o "$tmp/e.png"
expect_error "--sweep: --x not swept" "--x seed is not a swept parameter (swept: controller.policy, monitor.w_thres, hw.adc.bits)" \
  "$plot" --sweep "$tmp/results.csv" --x seed --y accuracy_mean -o "$tmp/e.png"
expect_error "--sweep: unknown metric" "--y accuracy is not a metric (metrics: accuracy_mean, overhead_ratio)" \
  "$plot" --sweep "$tmp/results.csv" --x monitor.w_thres --hue controller.policy --y accuracy -o "$tmp/e.png"
expect_error "--sweep: not a results.csv" "not a results.csv of .ptcsim sweep collect." "$plot" --sweep "$r/doctor/trace.csv" --x a --y b -o "$tmp/e.png"
expect_error "--sweep without --y" "--sweep needs --x PARAM and --y METRIC" "$plot" --sweep "$tmp/results.csv" --x monitor.w_thres
[ ! -e "$tmp/e.png" ] && ok "no output file after --sweep errors" || bad "output written despite a --sweep error"

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
