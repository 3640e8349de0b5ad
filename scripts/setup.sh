#!/usr/bin/env bash
# Installs what the project needs on Debian/Ubuntu, idempotently: a libtorch 2.x (scripts/libtorch.cjs says
# which and where from: LIBTORCH, else an installed PyTorch ≥ 2, else PyTorch's CPU wheel fetched by pip into
# .cache/libtorch), libjpeg-turbo (the addon decodes JPEGs with it, as Pillow does), Gloo's headers (c10d's
# Gloo header includes them), Fashion-MNIST from apt, npm packages from the lock file, the native addon and
# the TypeScript build.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
need=()
pkgs=(libjpeg-dev libgloo-dev dataset-fashion-mnist)
# The wheel is fetched with pip; Debian's python3 has none unless python3-pip is installed.
if [ -z "${LIBTORCH:-}" ] && ! "${PYTHON:-python3}" -m pip --version >/dev/null 2>&1; then pkgs+=(python3-pip); fi
# --tests: the suite compares with torchvision's transforms (Debian's python3-torchvision) and drives the search
# page in Debian's headless Chromium; python3-venv makes the test venv below.
if [ "${1:-}" = --tests ]; then pkgs+=(python3-torchvision python3-venv chromium); fi
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

node scripts/libtorch.cjs ensure
LIBTORCH="$(node scripts/libtorch.cjs root)"
export LIBTORCH

# The test venv: torchrun of the same PyTorch as the addon's libtorch (tests launch dml workers with it).
if [ "${1:-}" = --tests ]; then bash scripts/python-test-env.sh; fi

addon=build/Release/dml_native.node
built_for=build/libtorch-root
if [ ! -f "$addon" ] || [ "$(cat "$built_for" 2>/dev/null)" != "$LIBTORCH" ] ||
  [ -n "$(find src/native binding.gyp scripts/libtorch.cjs -newer "$addon" 2>/dev/null | head -1)" ]; then
  echo "setup: building the native addon against $LIBTORCH (a few minutes)"
  npx node-gyp rebuild -j "$(nproc)"
  echo "$LIBTORCH" >"$built_for"
fi

npx tsc -p tsconfig.json
