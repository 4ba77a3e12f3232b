#!/usr/bin/env bash
# Per-inference energy, latency and EDP of CNN3 on the RNS core and on a conventional analog core
# under each ADC energy law (hw.energy.adc_law: linear, walden, thermal; docs/converters_energy.md
# §3, docs/rns.md §7), for converter bits b. Per b: the analog core at b-bit DAC and ADC (same
# bits), the analog core with a b_out-bit ADC (same precision as RNS: b_out = 2b + ceil(log2 8) - 1
# for 8-input tiles, Blueprint's rule), RNS (Blueprint's moduli for b) and RNS + RRNS (2 redundant
# moduli); every core with b-bit DACs. The costs are static (one request each, no phase noise).
# Usage: [BITS="4 6 8"] [LAWS="linear walden"] tools/rns/run_energy_laws.sh PTCSIM OUT.csv
set -eu
ptcsim="$1"; out="$2"
src="$(cd "$(dirname "$0")/../.." && pwd)"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
echo "law,config,bits,adc_bits,adcs_per_output,energy_per_inference_j,adc_energy_per_inference_j,latency_s,edp_js" > "$out"
run() {  # law config bits scenario sets...
  local law="$1" cfg="$2" b="$3" f="$4"; shift 4
  "$ptcsim" run "$src/scenarios/rns/$f" --set traffic.requests=1 --set trace.every_requests=0 --set hw.energy.adc_law="$law" \
    --set hw.dac.bits="$b" "$@" --out "$tmp/run" -q --force >/dev/null
  /usr/bin/python3 - "$tmp/run" "$law" "$cfg" "$b" >> "$out" <<'PY'
import json, sys
d, law, cfg, b = sys.argv[1:5]
a = json.load(open(d + "/stats.json"))["accelerator"]
e, lat = a["inference_energy"]["value"], a["inference_latency"]["value"]
per_out = a.get("adcs_per_output", {"value": 1})["value"]
cyc = a["cycles_per_inference"]["value"]
adc = a["adc"]
adc_e = adc["conversions_per_cycle"]["value"] * cyc * adc["energy_per_conversion"]["value"]
print(",".join([law, cfg, b, "%d" % adc["bits"]["value"], "%d" % per_out, "%.6g" % e, "%.6g" % adc_e, "%.6g" % lat, "%.6g" % (e * lat)]))
PY
}
for law in ${LAWS:-linear walden thermal}; do
  for b in ${BITS:-4 5 6 7 8}; do
    bout=$((2 * b + 2))
    run "$law" analog "$b" cnn3_analog6.json --set hw.adc.bits="$b"
    run "$law" analog_bout "$b" cnn3_analog6.json --set hw.adc.bits="$bout"
    run "$law" rns "$b" cnn3_rns6.json --set device.bits="$b" --set device.mantissa_bits="$b" --set device.sigma_phi_rad=0
    run "$law" rns_rrns "$b" cnn3_rns6_rrns.json --set device.bits="$b" --set device.mantissa_bits="$b" --set device.sigma_phi_rad=0
  done
done
