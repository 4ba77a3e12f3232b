#!/usr/bin/env bash
# Accuracy and energy vs converter bits for the RNS core (noise-free, with per-read phase noise,
# with noise and RRNS) and the conventional analog core (docs/rns.md §7, README "RNS tensor
# cores"). Runs scenarios/rns/cnn3_*.json with --set overrides, REQUESTS served images each, and
# writes one CSV row per run.
# NET=vgg8 runs scenarios/rns/vgg8_*.json instead (the same configurations).
# Usage: [NET=cnn3|vgg8] [BITS="4 6 8"] tools/rns/run_bits_sweep.sh PTCSIM REQUESTS OUT.csv
set -eu
ptcsim="$1"; n="$2"; out="$3"
src="$(cd "$(dirname "$0")/../.." && pwd)"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
echo "config,bits,accuracy,energy_per_inference_j,latency_s,adc_energy_j,words,residue_errors,detected,corrected,retried,failed,silent" > "$out"
run() {  # config bits scenario sets...
  local cfg="$1" b="$2" f="$3"; shift 3
  "$ptcsim" run "$src/scenarios/rns/$f" --set traffic.requests="$n" --set trace.every_requests=0 "$@" --out "$tmp/$cfg-$b" -q --force >/dev/null
  /usr/bin/python3 - "$tmp/$cfg-$b" "$cfg" "$b" >> "$out" <<'PY'
import json, sys
d, cfg, b = sys.argv[1:4]
s = json.load(open(d + "/summary.json"))
st = json.load(open(d + "/stats.json"))
def find(j, key):
    if isinstance(j, dict):
        if key in j: return j[key]
        for v in j.values():
            r = find(v, key)
            if r is not None: return r
    return None
acc = find(st, "accelerator") or st
e = acc["inference_energy"]["value"]; lat = acc["inference_latency"]["value"]
adc = find(st, "adc")
adc_e = adc["energy"]["value"] / max(s["requests"], 1) if adc else float("nan")
c = [s.get("rns_" + k, 0) for k in ("words", "residue_errors", "detected", "corrected", "retried", "failed", "silent")]
print(",".join([cfg, b, "%.4f" % s["accuracy_mean"], "%.6g" % e, "%.6g" % lat, "%.6g" % adc_e] + [str(x) for x in c]))
PY
}
net="${NET:-cnn3}"
[ "$net" = cnn3 ] || [ "$net" = vgg8 ] || { echo "NET must be cnn3 or vgg8" >&2; exit 2; }
for b in ${BITS:-4 5 6 7 8}; do
  run analog "$b" ${net}_analog6.json --set hw.dac.bits="$b" --set hw.adc.bits="$b"
  run rns_ideal "$b" ${net}_rns6.json --set device.bits="$b" --set device.mantissa_bits="$b" --set device.sigma_phi_rad=0
  run rns "$b" ${net}_rns6.json --set device.bits="$b" --set device.mantissa_bits="$b" --set device.sigma_phi_rad=0.013
  run rns_rrns "$b" ${net}_rns6_rrns.json --set device.bits="$b" --set device.mantissa_bits="$b" --set device.sigma_phi_rad=0.013
done
