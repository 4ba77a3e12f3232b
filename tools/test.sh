#!/usr/bin/env bash
# Installs everything (tools/setup.sh), builds the release preset and runs the whole test suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
# ctest -j runs two multi-threaded runs at once on a 2-core machine: OpenMP threads that spin at
# barriers then steal each other's cores (a DOCTOR run: 39 s spinning, 29 s passive, same bytes).
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
bash tools/setup.sh release
ctest --preset release -j"$(nproc)"
echo "== fuzzing and the robustness catalogue under ASan + UBSan (tools/fuzz_ci.sh) =="
bash tools/fuzz_ci.sh 20
echo "== ONNX conformance (libonnx-testdata) =="
cat build/release/conformance_summary.txt
