#!/usr/bin/env bash
# Installs everything (tools/setup.sh), builds the release preset and runs the main job: the ideal
# accuracy of the shipped CNN3 on the Fashion-MNIST test set. (Once the deployment simulation
# exists, this runs the default scenario instead.)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
bash tools/setup.sh release
./build/release/ptcsim eval models/zoo/cnn3_fmnist.onnx
