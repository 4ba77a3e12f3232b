#!/usr/bin/env bash
# ELight streaming as a user meets it (docs/elight.md): `ptcsim streaming` reports every order's
# per-pass level steps with per_cell at the closed-form bound and the buildable orders between it
# and native; a streaming run charges the per-pass programming in every served request's latency and
# energy and counts its writes once (summary, stats, trace; check_books.py); endurance wears cells
# out at the pass the closed form names; spare rows and the row_remap policy move worn rows to
# fresh cells (docs/elight.md §6); bad streaming input is one error line.
# Usage: test_streaming.sh PTCSIM SOURCE_DIR
set -u
ptcsim="$1"; src="$2"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
py=/usr/bin/python3
sc="$src/scenarios/elight/vgg8_short.json"
. "$src/tests/lib/testlib.sh"

if "$ptcsim" streaming "$sc" --json >"$tmp/orders.json" 2>"$tmp/err"; then ok "ptcsim streaming exits 0"; else bad "ptcsim streaming: $(cat "$tmp/err")"; fi
if $py - "$tmp/orders.json" <<'PY'
import json, sys
o = {x["order"]: x for x in json.load(open(sys.argv[1]))["orders"]}
assert set(o) == {"native", "per_cell", "greedy", "sort_mean"}, o.keys()
bound = o["native"]["per_cell_bound_steps"]
assert all(x["per_cell_bound_steps"] == bound for x in o.values())
assert o["per_cell"]["level_steps"] == bound
for b in ("greedy", "sort_mean"):
    assert bound <= o[b]["level_steps"] < o["native"]["level_steps"], (b, o[b]["level_steps"], bound)
for x in o.values():
    assert x["level_steps"] == sum(l["level_steps"] for l in x["layers"])
    assert x["level_steps"] == x["up_steps"] + x["down_steps"]
PY
then ok "per_cell order = bound, buildable orders between bound and native"; else bad "streaming orders"; fi

# A run: 20 back-to-back requests; latency = compute + programming per pass (no queueing).
if "$ptcsim" run "$sc" --set traffic.requests=20 --out "$tmp/r" -q >"$tmp/out" 2>"$tmp/err"; then ok "streaming run exits 0"
else bad "streaming run: $(cat "$tmp/err")"; fi
$py "$src/tests/regression/check_books.py" "$tmp/r" && ok "streaming run: one set of books" || bad "streaming run books"
if $py - "$tmp/r" "$tmp/orders.json" <<'PY'
import json, sys, os
d = sys.argv[1]
s = json.load(open(os.path.join(d, "summary.json")))
st = json.load(open(os.path.join(d, "stats.json")))["accelerator"]
native = {x["order"]: x for x in json.load(open(sys.argv[2]))["orders"]}["native"]
assert s["requests"] == 20
assert s["streaming"]["level_steps_per_pass"] == native["level_steps"]
assert s["writes_streamed"] == 20 * native["level_steps"] == s["writes"], s
assert s["writes_initial_programming"] == 0
lat = st["inference_latency"]["value"]
cycles = st["cycles_per_inference"]["value"]
assert abs(lat - (cycles / 5e9 + native["program_time_s"])) <= 1e-12 * lat, (lat, cycles, native["program_time_s"])
assert abs(s["latency_p50_s"] - lat) <= 0.02 * lat, (s["latency_p50_s"], lat)  # histogram bins
e_inf = st["inference_energy"]["value"]
assert e_inf > native["program_energy_j"] > 0
PY
then ok "streaming run: writes = requests x per-pass steps, latency = compute + programming"; else bad "streaming run numbers"; fi

# Endurance: every cell's budget 3 passes' worth of the worst cell -> the worst cell wears out at pass 3.
worst=$($py -c "import json,sys; print({x['order']: x for x in json.load(open(sys.argv[1]))['orders']}['native']['worst_physical_cell_steps'])" "$tmp/orders.json")
if "$ptcsim" run "$sc" --set traffic.requests=10 --set device.endurance_steps=$((3 * worst)) --out "$tmp/w" -q >"$tmp/out" 2>"$tmp/err" &&
   $py - "$tmp/w" <<'PY'
import json, sys, os
s = json.load(open(os.path.join(sys.argv[1], "summary.json")))
assert s["streaming"]["first_worn_pass"] == 3, s["streaming"]
assert s["streaming"]["worn_cells"] >= 1 and s["streaming"]["first_worn_time_s"] > 0, s["streaming"]
PY
then ok "endurance: the worst cell wears out at budget / steps per pass"; else bad "endurance: $(cat "$tmp/err")"; fi

# Spare rows at 0 (the default) are no parameter at all: the outputs are byte for byte those of the run
# without it.
if "$ptcsim" run "$sc" --set traffic.requests=10 --set device.endurance_steps=$((3 * worst)) --set device.spare_rows=0 \
     --out "$tmp/w0" -q >"$tmp/out" 2>"$tmp/err" &&
   for f in summary.json stats.json trace.csv events.jsonl config.resolved.json; do cmp -s "$tmp/w/$f" "$tmp/w0/$f" || exit 1; done
then ok "device.spare_rows=0: outputs byte-identical to the run without spare rows"; else bad "spare_rows=0 changes outputs: $(cat "$tmp/err")"; fi

# Row-based remapping (docs/elight.md §6), checked after every pass, every budget 3 worst-cell passes
# (sigma 0): without spares the first unrepaired row is the first worn cell's (pass 3); one spare row
# per core moves the hottest row to fresh cells at pass 3, so the first unrepaired row comes later,
# and no later than the hottest row's second life (pass 6: (S + 1) x its lifetime, docs/elight.md
# §6); the moves read the same in events, summary, stats and trace (check_books.py).
for S in 0 1; do
  "$ptcsim" run "$sc" --set traffic.requests=12 --set device.endurance_steps=$((3 * worst)) --set device.spare_rows=$S \
    --set 'controller.policy={"name":"row_remap","interval_requests":1}' --out "$tmp/rr$S" -q >"$tmp/out" 2>"$tmp/err" ||
    bad "row_remap run with $S spare rows: $(cat "$tmp/err")"
done
$py "$src/tests/regression/check_books.py" "$tmp/rr1" && ok "row_remap run: one set of books" || bad "row_remap books"
if $py - "$tmp/rr0" "$tmp/rr1" <<'PY'
import json, sys, os, csv
s0, s1 = (json.load(open(os.path.join(d, "summary.json")))["streaming"] for d in sys.argv[1:3])
assert s0["first_worn_pass"] == s1["first_worn_pass"] == 3, (s0, s1)
assert s0["first_unrepaired_pass"] == 3 and s0["rows_remapped"] == 0 and s0["spare_rows"] == 0, s0
assert 3 < s1["first_unrepaired_pass"] <= 6, s1
assert s1["spare_rows"] == 1 and 1 <= s1["rows_remapped"] <= 16 and max(s1["spare_rows_used"]) == 1, s1
ev = [json.loads(l) for l in open(os.path.join(sys.argv[2], "events.jsonl")) if l.strip()]
rr = [e for e in ev if e["type"] == "row_remap"]
assert rr[0]["requests"] == 3 and rr[0]["rows_remapped"] >= 1 and rr[0]["cycles"] == 16, rr[0]
rows = list(csv.DictReader(open(os.path.join(sys.argv[2], "trace.csv"))))
assert rows[-1]["rows_remapped"] == str(s1["rows_remapped"]), rows[-1]
PY
then ok "row_remap: no spares -> first unrepaired = first worn (pass 3); one spare -> in (3, 6]"; else bad "row_remap numbers"; fi
if $py "$src/tools/plot_elight_remap.py" -o "$tmp/remap.png" "0 spares=$tmp/rr0" "1 spare=$tmp/rr1" 2>"$tmp/err" && [ -s "$tmp/remap.png" ]
then ok "plot_elight_remap.py draws the row_remap runs"; else bad "plot_elight_remap.py: $(cat "$tmp/err")"; fi
expect_error "spare rows without endurance are one line" "device.spare_rows: spare rows replace worn rows" \
  "$ptcsim" validate "$sc" --set device.spare_rows=2
expect_error "spare rows without a row-remapping policy are one line" "device.spare_rows: 2 spare rows per core are used only by" \
  "$ptcsim" validate "$sc" --set device.endurance_steps=1e8 --set device.spare_rows=2
expect_error "row_remap without endurance is one line naming the missing endurance" "controller.policy: policy \"row_remap\" remaps worn rows of the streamed PCM cores and needs cell endurance (device.endurance_steps > 0" \
  "$ptcsim" validate "$sc" --set 'controller.policy={"name":"row_remap"}'
expect_error "a streaming run with another policy names row_remap" 'other than row_remap' \
  "$ptcsim" validate "$sc" --set 'controller.policy={"name":"periodic_full","interval_requests":10}'

# validate bounds the end of back-to-back streaming traffic by requests x (compute + the per-pass
# programming time, as ptcsim streaming prints it): an instant before that end is accepted (it was
# refused, the bound left out the programming), one after it is refused with the bound.
# (The compute time, 6 us per inference, is within the 5 % margins.)
tprog=$("$ptcsim" streaming "$sc" 2>/dev/null | awk '$1 == "native" {print $5}')
end=$($py -c "print(600 * $tprog)" 2>/dev/null)
if [ -n "$tprog" ] && "$ptcsim" validate "$sc" --set traffic.requests=600 --set "accuracy={\"mode\":\"scheduled\",\"times_s\":[0,$($py -c "print(0.95 * $end)")],\"images\":10}" >/dev/null 2>"$tmp/err" \
   && ! "$ptcsim" validate "$sc" --set traffic.requests=600 --set "accuracy={\"mode\":\"scheduled\",\"times_s\":[0,$($py -c "print(1.05 * $end)")],\"images\":10}" >/dev/null 2>>"$tmp/err" \
   && grep -q "is after the end of the traffic (horizon_s 0: 600 requests x 0.078" "$tmp/err"
then ok "streaming traffic's end includes the per-pass programming time (600 x $tprog s): instants before it validate"
else bad "streaming traffic end (t_prog $tprog, end $end): $(cat "$tmp/err")"; fi
# A fleet of streaming chips with cell endurance keeps the wear books at the fleet level (it had no
# worn_cells column and no streaming block): sums of the chips', the earliest chip's first wear.
if "$ptcsim" run "$sc" -q --set traffic.requests=200 --set 'accuracy={"mode":"none"}' --set device.endurance_steps=2e4 \
     --set device.endurance_sigma=0.3 --set hw.chips=2 --out "$tmp/fleet" >/dev/null 2>"$tmp/err" && $py - "$tmp/fleet" <<'PY'
import csv, json, sys
d = sys.argv[1]
s = json.load(open(d + "/summary.json")); chips = s["per_chip"]
assert s["writes_streamed"] == sum(c["writes_streamed"] for c in chips) > 0, s
st = s["streaming"]
assert st["worn_cells"] == sum(c["streaming"]["worn_cells"] for c in chips) > 0, st
first = min((c["streaming"] for c in chips if c["streaming"]["first_worn_time_s"] >= 0), key=lambda c: c["first_worn_time_s"])
assert st["first_worn_time_s"] == first["first_worn_time_s"] and st["first_worn_pass"] == first["first_worn_pass"], st
rows = list(csv.DictReader(open(d + "/trace.csv")))
assert int(rows[-1]["worn_cells"]) == st["worn_cells"], rows[-1]
PY
then ok "fleet of streaming chips: worn cells and streamed writes summed in summary.json and trace.csv"
else bad "streaming fleet books: $(cat "$tmp/err")"; fi
# The same fleet with row_remap and a spare row per core: it ended in a JSON type error (the chips'
# spare_rows_used, a count per core, were summed as one number) with the fleet summary unwritten.
# Now core by core, and check_books.py checks the fleet's wear books against the chips'.
if "$ptcsim" run "$sc" -q --set traffic.requests=200 --set 'accuracy={"mode":"none"}' --set device.endurance_steps=2e4 \
     --set device.endurance_sigma=0.3 --set hw.chips=2 --set device.spare_rows=1 \
     --set 'controller.policy={"name":"row_remap","interval_requests":1}' --out "$tmp/fleet_rr" >/dev/null 2>"$tmp/err" \
   && $py "$src/tests/regression/check_books.py" "$tmp/fleet_rr" && $py - "$tmp/fleet_rr" <<'PY'
import json, sys
s = json.load(open(sys.argv[1] + "/summary.json")); chips = [c["streaming"] for c in s["per_chip"]]
st = s["streaming"]
assert st["spare_rows_used"] == [a + b for a, b in zip(chips[0]["spare_rows_used"], chips[1]["spare_rows_used"])], st
assert len(st["spare_rows_used"]) == 16 and st["rows_remapped"] == sum(c["rows_remapped"] for c in chips) > 0, st
PY
then ok "fleet of streaming chips with row_remap: spare rows used summed core by core, books balance"
else bad "row_remap fleet: $(cat "$tmp/err")"; fi
expect_error "streaming on a device without levels is one line, naming the hw fragment" "hw.mapping.name (from fragment .*optical_4x4x16_streaming.json): the streaming mapping" \
  "$ptcsim" run "$sc" --set 'device={"name":"mrr"}' --out "$tmp/x1" -q
expect_error "an unknown order is one line naming the path" "hw.mapping.order" \
  "$ptcsim" validate "$sc" --set hw.mapping.order=sorted
expect_error "ptcsim streaming on a cyclic scenario is one line naming the file" \
  "vgg8_short.json: hw.mapping.name: ptcsim streaming needs the streaming mapping" \
  "$ptcsim" streaming "$sc" --set hw.mapping.name=cyclic
expect_error "ptcsim streaming: an unknown key is one line naming the file and the path" \
  "vgg8_short.json: hw.mapping.ordr: unknown key; did you mean \"order\"?" \
  "$ptcsim" streaming "$sc" --set hw.mapping.ordr=column
# An overloaded chip (20 req/s against 12.8 a second, seed 2) still has service booked past the
# horizon: the run ends at the horizon whatever the trace interval (a trace row after the horizon
# held the run open to its instant: sim_time_s read 11 s at a row a second). summary.json is the
# same bytes with and without periodic rows.
ipp="$src/scenarios/elight/vgg8_images_per_pass.json"
for e in 0 1; do
  "$ptcsim" run "$ipp" --seed 2 --set hw.mapping.images_per_pass=1 --set traffic.rate_hz=20 --set horizon_s=10 \
    --set 'accuracy={"mode":"scheduled","times_s":[10],"images":20}' --set trace.every_s=$e --set trace.every_requests=0 \
    --out "$tmp/ovl$e" -q >/dev/null 2>"$tmp/err" || bad "overloaded run, trace every $e s: $(cat "$tmp/err")"
done
if cmp -s "$tmp/ovl0/summary.json" "$tmp/ovl1/summary.json" && $py - "$tmp/ovl1" <<'PY'
import json, sys
s = json.load(open(sys.argv[1] + "/summary.json"))
assert s["sim_time_s"] == 10.0 and 0 < s["requests"] < 200, (s["sim_time_s"], s["requests"])
PY
then ok "an overloaded run ends at the horizon at any trace interval (summary.json the same bytes)"
else bad "overloaded run: sim_time_s depends on trace.every_s ($(grep sim_time "$tmp/ovl1/summary.json"))"; fi

# Several images per pass (docs/elight.md §1): a trace of three 1-s windows holding 5, 20 and 33
# requests, B = 16 images per pass, takes ceil(5/16) + ceil(20/16) + ceil(33/16) = 1 + 2 + 3 = 6
# passes. Each window's service = n x compute + passes x programming (the per-pass values of
# `ptcsim streaming`), the energy n x (inference energy - programming energy) + passes x
# programming energy, the writes passes x level steps.
$py - "$tmp/ipp.csv" <<'PYEND'
import sys
with open(sys.argv[1], "w") as f:
    f.write("t_s\n")
    for w, n in enumerate((5, 20, 33)):
        for i in range(n):
            f.write("%.6f\n" % (w + 0.01 + 0.9 * i / n))
PYEND
if "$ptcsim" run "$sc" --set "traffic={\"name\": \"trace\", \"file\": \"$tmp/ipp.csv\", \"batch_s\": 1}" \
     --set hw.mapping.images_per_pass=16 --set horizon_s=10 --out "$tmp/ipp" -q >"$tmp/out" 2>"$tmp/err" \
   && "$ptcsim" run "$sc" --set "traffic={\"name\": \"trace\", \"file\": \"$tmp/ipp.csv\", \"batch_s\": 1}" \
     --set horizon_s=10 --out "$tmp/ipp1" -q >"$tmp/out" 2>"$tmp/err"; then ok "images_per_pass runs exit 0"
else bad "images_per_pass run: $(cat "$tmp/err")"; fi
$py "$src/tests/regression/check_books.py" "$tmp/ipp" && ok "images_per_pass run: one set of books" || bad "images_per_pass books"
if $py - "$tmp/ipp" "$tmp/ipp1" "$tmp/orders.json" <<'PYEND'
import csv, json, os, sys
s = json.load(open(os.path.join(sys.argv[1], "summary.json")))
s1 = json.load(open(os.path.join(sys.argv[2], "summary.json")))
st = json.load(open(os.path.join(sys.argv[1], "stats.json")))["accelerator"]
native = {x["order"]: x for x in json.load(open(sys.argv[3]))["orders"]}["native"]
T, W = native["program_time_s"], native["level_steps"]
assert s["requests"] == 58 and s1["requests"] == 58, (s["requests"], s1["requests"])
assert s["streaming"]["passes"] == 6 and s["streaming"]["images_per_pass"] == 16, s["streaming"]
assert s1["streaming"]["passes"] == 58, s1["streaming"]
assert s["writes_streamed"] == 6 * W and s1["writes_streamed"] == 58 * W
compute = st["inference_latency"]["value"] - T  # one image alone: compute + a whole pass of programming
e_pass = s["streaming"]["program_energy_per_pass_j"]
e_img = st["inference_energy"]["value"]
want = 58 * (e_img - e_pass) + 6 * e_pass
assert abs(st["inference_energy_total"]["value"] - want) <= 1e-9 * want, (st["inference_energy_total"]["value"], want)
assert abs(s1["energy_j"] - s["energy_j"] - 52 * e_pass) <= 1e-9 * s1["energy_j"], (s1["energy_j"], s["energy_j"])
# Windows are served at their ends (1, 2, 3 s), each done before the next. The slowest request is
# the first of the third window (arrived 2.01 s, done 3 + 33 compute + 3 T); the histogram's p99
# lies between the third window's fastest and slowest latency.
worst = 3 + 33 * compute + 3 * T - 2.01
best = 3 + 33 * compute + 3 * T - (2.01 + 0.9 * 32 / 33)
assert best - 0.01 <= s["latency_p99_s"] <= worst + 0.01, (s["latency_p99_s"], best, worst)
PYEND
then ok "6 passes for windows of 5, 20, 33 at 16 images per pass: writes, energy and latency follow"; else bad "images_per_pass closed forms"; fi
"$ptcsim" streaming "$ipp" --set hw.mapping.images_per_pass=4 2>/dev/null | head -1 | grep -q "per pass of up to 4 images" \
  && ok "ptcsim streaming names the images per pass" || bad "ptcsim streaming header at 4 images per pass"
# A wear the budgets predict after the run's end is not reported as the first worn pass (it read
# 16933 after 20 passes, beside worn_cells 0 and first_worn_time_s -1); stats.json gives the prediction.
"$ptcsim" run "$sc" --set device.endurance_steps=1e8 --set device.endurance_sigma=0.3 --set traffic.requests=20 \
  --out "$tmp/nowear" -q >/dev/null 2>"$tmp/err" || bad "no-wear run: $(cat "$tmp/err")"
if $py - "$tmp/nowear" <<'PYEND'
import json, sys
s = json.load(open(sys.argv[1] + "/summary.json"))["streaming"]
e = json.load(open(sys.argv[1] + "/stats.json"))["accelerator"]["streaming"]["endurance"]
assert s["worn_cells"] == 0 and s["first_worn_pass"] == -1 and s["first_worn_time_s"] == -1, s
assert e["first_worn_pass"]["value"] == -1 and e["predicted_first_worn_pass"]["value"] > 20, e
PYEND
then ok "first_worn_pass -1 when no cell wore within the run (prediction in stats.json)"; else bad "first_worn_pass of a wear past the run"; fi
expect_error "images_per_pass with back_to_back traffic (one image per pass whatever B) is refused" \
  'vgg8_short.json: hw.mapping.images_per_pass: 16 images per pass has no effect with traffic "back_to_back"' \
  "$ptcsim" validate "$sc" --set hw.mapping.images_per_pass=16
# A window of more than 4,096 requests reaches the runtime in several batches: each holds a
# multiple of B, so the window takes ceil(n / B) passes as one batch would (a 4,096 cut gave
# 5 passes for 10,000 requests at B = 3000, and 3 at B = 8192).
for B in 3000 8192; do
  "$ptcsim" run "$ipp" --set traffic.rate_hz=10000 --set horizon_s=2 --set hw.mapping.images_per_pass=$B \
    --set 'accuracy={"mode":"scheduled","times_s":[0],"images":10}' --set trace.every_s=0 --out "$tmp/big$B" -q >/dev/null 2>"$tmp/err" \
    || bad "window of 10k requests at B = $B: $(cat "$tmp/err")"
done
if $py - "$tmp/big3000" "$tmp/big8192" <<'PYEND'
import json, math, sys
for d, B in zip(sys.argv[1:], (3000, 8192)):
    s = json.load(open(d + "/summary.json"))
    n = s["requests"]
    assert n > 8192, n  # one window of about 10,000 requests
    assert s["streaming"]["passes"] == math.ceil(n / B), (B, n, s["streaming"]["passes"])
PYEND
then ok "a window split into batches of a multiple of B: ceil(n / B) passes (B = 3000, 8192)"; else bad "passes of a large window"; fi
expect_error "images_per_pass on the cyclic mapping is one line" \
  'hw.mapping.images_per_pass: 16 images per pass needs mapping "streaming"' \
  "$ptcsim" validate "$sc" --set hw.mapping.name=cyclic --set hw.mapping.images_per_pass=16

finish
