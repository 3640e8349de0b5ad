#!/usr/bin/env bash
# Installs what the project needs on Debian/Ubuntu, idempotently: libtorch + OpenBLAS + libjpeg-turbo
# (the addon decodes JPEGs with it, as Pillow does) + Fashion-MNIST from apt, npm packages from the
# lock file, the native addon and the TypeScript build.
# Set LIBTORCH=/path/to/libtorch to build against another libtorch (apt's libtorch-dev is then skipped).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
need=()
pkgs=(libopenblas0-pthread libjpeg-dev dataset-fashion-mnist)
# libgloo-dev: the Gloo headers and library of Debian's c10d (multi-process training).
[ -n "${LIBTORCH:-}" ] || pkgs+=(libtorch-dev libgloo-dev)
# --tests: the suite compares with PyTorch/torchvision at run time in a few places, and drives the
# search page in Debian's headless Chromium.
if [ "${1:-}" = --tests ]; then pkgs+=(python3-torch python3-torchvision chromium); fi
if [ "${DML_SETUP_PYTHON:-0}" = 1 ]; then pkgs+=(python3-torch python3-torchvision); fi
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]} with apt-get"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
fi

stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "setup: npm ci"
  # Dependencies need no install scripts (sharp and onnxruntime-node ship prebuilt binaries inside
  # their packages; onnxruntime-node's script would try to download CUDA libraries from the network).
  npm ci --ignore-scripts --no-audit --no-fund
fi

addon=build/Release/dml_native.node
if [ ! -f "$addon" ] || [ -n "$(find src/native binding.gyp scripts/libtorch.cjs -newer "$addon" 2>/dev/null | head -1)" ]; then
  echo "setup: building the native addon (about a minute)"
  npx node-gyp rebuild -j "$(nproc)"
fi

npx tsc -p tsconfig.json
