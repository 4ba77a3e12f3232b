#!/usr/bin/env bash
# Accuracy vs the block-floating-point group of the RNS core (docs/rns.md §3, README "RNS tensor
# cores"): runs scenarios/rns/${NET}_rns6.json noise-free with --set overrides for every mantissa
# width b in BITS (converters and moduli for b bits, Blueprint's rule) and every group g in GROUP_SIZES
# (a multiple of the core size 8: one exponent per g values along each dot product), REQUESTS
# served images each; writes one CSV row per run.
# Usage: [NET=cnn3|vgg8] [BITS="4 5 6"] [GROUP_SIZES="8 16 32 64 128"] tools/rns/run_group_sweep.sh PTCSIM REQUESTS OUT.csv
set -eu
ptcsim="$1"; n="$2"; out="$3"
src="$(cd "$(dirname "$0")/../.." && pwd)"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
net="${NET:-cnn3}"
[ "$net" = cnn3 ] || [ "$net" = vgg8 ] || { echo "NET must be cnn3 or vgg8" >&2; exit 2; }
echo "net,bits,group,accuracy,ideal_accuracy,words" > "$out"
for b in ${BITS:-4 5 6}; do
  for g in ${GROUP_SIZES:-8 16 32 64 128}; do
    "$ptcsim" run "$src/scenarios/rns/${net}_rns6.json" --set traffic.requests="$n" --set trace.every_requests=0 \
      --set device.bits="$b" --set device.mantissa_bits="$b" --set device.group="$g" --set device.sigma_phi_rad=0 \
      --out "$tmp/r" -q --force >/dev/null
    /usr/bin/python3 - "$tmp/r" "$net" "$b" "$g" >> "$out" <<'PY'
import json, sys
d, net, b, g = sys.argv[1:5]
s = json.load(open(d + "/summary.json"))
print(",".join([net, b, g, "%.4f" % s["accuracy_mean"], "%.4f" % s["accuracy_ideal"], str(s.get("rns_words", 0))]))
PY
  done
done
