#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian 12 machine: installs every Debian package ptcsim uses,
# then configures and builds the given CMake preset (default: release).
# Usage: tools/setup.sh [release|debug|asan] [--no-build]
set -euo pipefail
preset="${1:-release}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

pkgs=(
  build-essential cmake pkg-config git clang-format clang libclang-rt-dev
  libsystemc-dev libboost-graph-dev nlohmann-json3-dev catch2
  libonnx-dev libprotobuf-dev protobuf-compiler libopenblas-dev
  librandom123-dev libcli11-dev libvalijson-dev zlib1g-dev
  dataset-fashion-mnist libonnx-testdata
  python3-matplotlib python3-numpy python3-scipy python3-torch python3-onnx
  slurm-wlm munge chromium
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  echo "setup: installing ${missing[*]}" >&2
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y --no-install-recommends "${missing[@]}"
fi

if [ "${2:-}" != "--no-build" ]; then
  cd "$here"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j"$(nproc)"
fi
