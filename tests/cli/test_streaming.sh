#!/usr/bin/env bash
# ELight streaming as a user meets it (docs/elight.md): `ptcsim streaming` reports every order's
# per-pass level steps with per_cell at the closed-form bound and the buildable orders between it
# and native; a streaming run charges the per-pass programming in every served request's latency and
# energy and counts its writes once (summary, stats, trace; check_books.py); endurance wears cells
# out at the pass the closed form names; bad streaming input is one error line.
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

expect_error "streaming on a device without levels is one line" "hw.mapping.name: the streaming mapping" \
  "$ptcsim" run "$sc" --set 'device={"name":"mrr"}' --out "$tmp/x1" -q
expect_error "an unknown order is one line naming the path" "hw.mapping.order" \
  "$ptcsim" validate "$sc" --set hw.mapping.order=sorted
expect_error "ptcsim streaming on a cyclic scenario is one line" "hw.mapping.name: ptcsim streaming needs the streaming mapping" \
  "$ptcsim" streaming "$sc" --set hw.mapping.name=cyclic
finish
