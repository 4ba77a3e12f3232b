#!/usr/bin/env bash
# Request latency against an independent reference queue: a Poisson trace (written here from a
# fixed seed) replayed on one chip that serves each request at its arrival (CNN3 on DOCTOR's 4x4
# array, no noise, no policy: a constant service time D, an M/D/1 queue). The reference is the
# Lindley recursion over the same arrival times (start = max(arrival, previous end), latency =
# end - arrival; not served if it would start at or after the horizon), with D measured by a
# one-request run. Checked: the summary's latency_mean_s is
# the recursion's mean (to 1e-6: the kernel's 1-ns instants), p50 and p99 its sample quantiles
# within the histogram's bin (2.3 %); at low load, where 80 % of the requests do not wait, p50 is D
# exactly (it read 0.64 % high before the histogram kept the point mass at a bin's minimum); and
# the trace is an M/D/1 sample: the recursion's mean is Pollaczek-Khinchine's D + rho D / (2 (1 - rho))
# within 5 %.
# Usage: test_queue.sh PTCSIM SOURCE_DIR
set -u
ptcsim="$1"; src="$2"
py=/usr/bin/python3
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
. "$src/tests/lib/testlib.sh"

cat >"$tmp/q.json" <<JSON
{"name": "md1", "seed": 1, "model": "$src/models/zoo/cnn3_fmnist.onnx", "hw": "$src/scenarios/hw/doctor_4x4x8.json",
 "device": {"name": "mrr"}, "noise": [], "traffic": {"name": "trace", "file": "arrivals.csv", "batch_s": 0},
 "horizon_s": 30, "accuracy": {"mode": "none"}, "monitor": {"interval_requests": 0, "interval_s": 0},
 "controller": {"policy": {"name": "none"}}, "trace": {"every_s": 1, "every_requests": 0}}
JSON
"$ptcsim" run "$tmp/q.json" --set 'traffic={"name":"back_to_back","requests":1}' --set horizon_s=0 --out "$tmp/one" -q >/dev/null 2>"$tmp/err" \
  || bad "one-request run: $(cat "$tmp/err")"

for load in 1400 400; do
  "$py" - "$tmp/arrivals.csv" "$load" <<'PY'
import random, sys
rng, lam, t, out = random.Random(20261208), float(sys.argv[2]), 0.0, []
while True:
    t += rng.expovariate(lam)
    if round(t, 9) >= 30.0:  # the horizon: later arrivals are not served
        break
    out.append("%.9f\n" % t)  # on the kernel's 1-ns grid
open(sys.argv[1], "w").write("t_s\n" + "".join(out))
PY
  "$ptcsim" run "$tmp/q.json" --out "$tmp/r$load" -q >/dev/null 2>"$tmp/err" || bad "M/D/1 run at $load/s: $(cat "$tmp/err")"
  if msg=$("$py" - "$tmp" "$load" 2>&1 <<'PY'
import json, math, sys
d, lam = sys.argv[1], float(sys.argv[2])
D = json.load(open(d + "/one/summary.json"))["latency_p50_s"]
arr = [float(x) for x in open(d + "/arrivals.csv").read().split()[1:]]
end, lat = 0.0, []
for a in arr:  # Lindley: one server, first come first served; a request that would start at or
    start = max(a, end)  # after the horizon is not served (README, traffic)
    if start >= 30.0:
        break
    end = start + D
    lat.append(end - a)
n = len(lat)
mean = sum(lat) / n
srt = sorted(lat)
q = lambda p: srt[min(n - 1, math.ceil(p * n) - 1)]
S = json.load(open(d + "/r%d/summary.json" % int(lam)))
assert S["requests"] == n, (S["requests"], n)
assert abs(S["latency_mean_s"] / mean - 1) < 1e-6, ("mean", S["latency_mean_s"], mean)
for p, k in ((0.5, "latency_p50_s"), (0.99, "latency_p99_s")):
    assert abs(S[k] / q(p) - 1) < 0.0233, (k, S[k], q(p))
rho = lam * D
pk = D + rho * D / (2 * (1 - rho))
assert abs(mean / pk - 1) < 0.05, ("Pollaczek-Khinchine", mean, pk)
if rho < 0.5:  # most requests do not wait (1 - rho of them): the median is the service time itself
    assert abs(q(0.5) - D) < 1e-12, ("reference median", q(0.5), D)
    assert abs(S["latency_p50_s"] - D) < 1e-12, ("p50 at D", S["latency_p50_s"], D)
print("rho %.2f: mean %.6g s (reference %.6g, P-K %.6g), p50 %.6g (%.6g), p99 %.6g (%.6g)" % (
    rho, S["latency_mean_s"], mean, pk, S["latency_p50_s"], q(0.5), S["latency_p99_s"], q(0.99)))
PY
  ); then ok "M/D/1 at $load/s against the Lindley recursion: $msg"; else bad "M/D/1 at $load/s: $(echo "$msg" | tail -1)"; fi
done
finish
