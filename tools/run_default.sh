#!/usr/bin/env bash
# Installs everything (tools/setup.sh), builds the release preset and runs the main job: the
# shipped default scenario (scenarios/quickstart.json, DOCTOR's CNN3 under drift) once with the
# DOCTOR policy and once without remediation, then draws the accuracy-vs-time figure of both.
# Outputs: runs/quickstart-doctor/, runs/quickstart-none/, runs/quickstart.png.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
bash tools/setup.sh release
./build/release/ptcsim run scenarios/quickstart.json --out runs/quickstart-doctor --force
./build/release/ptcsim run scenarios/quickstart.json --set 'controller.policy={"name":"none"}' --out runs/quickstart-none --force
tools/ptc-plot runs/quickstart-doctor runs/quickstart-none -o runs/quickstart.png
echo "figure: runs/quickstart.png"
