#!/usr/bin/env bash
# Builds the addon against a CUDA PyTorch — by default the 2.14.1+cu130 wheel of the bench venv
# (scripts/python-bench-env.sh), with the NVIDIA wheels' CUDA runtime and NCCL headers — in .cache/cuda-build,
# away from the project's own build, then loads it with node and says what it has: CUDA built in, NCCL
# compiled in and linked (the wheel's libnccl, not a stub), whether a GPU is visible. On a machine without
# a GPU the last line must say so cleanly.
#   bash scripts/check-cuda-build.sh [PYTHON_WITH_CUDA_TORCH]
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
py="${1:-.cache/python-bench/bin/python}"
[ -x "$py" ] || bash scripts/python-bench-env.sh >/dev/null
torch="$("$py" -c 'import importlib.util as u, os; print(os.path.dirname(u.find_spec("torch").origin))')"
[ -f "$torch/lib/libtorch_cuda.so" ] || {
  echo "check-cuda-build: $torch has no libtorch_cuda.so (not a CUDA build)" >&2
  exit 1
}
out=.cache/cuda-build
rm -rf "$out"
mkdir -p "$out/src" "$out/scripts"
cp -r src/native "$out/src/"
cp binding.gyp package.json "$out/"
cp scripts/libtorch.cjs "$out/scripts/"
ln -s "$repo/node_modules" "$out/node_modules"
export LIBTORCH="$torch"
echo "check-cuda-build: libtorch $(cat "$torch/version.py" | sed -n "s/^__version__ = '\(.*\)'/\1/p") at $torch"
echo "check-cuda-build: defines: $(node scripts/libtorch.cjs defines)"
start=$(date +%s)
(cd "$out" && npx node-gyp rebuild -j "$(nproc)" >build.log 2>&1) || {
  tail -30 "$out/build.log"
  echo "check-cuda-build: the build failed (log: $out/build.log)" >&2
  exit 1
}
addon="$out/build/Release/dml_native.node"
echo "check-cuda-build: compiled and linked in $(($(date +%s) - start)) s: $addon"
echo "check-cuda-build: libraries it loads (CUDA, NCCL):"
ldd "$addon" | grep -E 'torch_cuda|c10_cuda' | sed 's/^/  /'
ldd "$torch/lib/libtorch_cuda.so" | grep -E 'nccl|cudart|cublas\.|cudnn\.' | sed 's/^/  (libtorch_cuda) /'
node --input-type=module -e "
import { createRequire } from 'node:module';
const addon = createRequire(import.meta.url)('$repo/$addon');
const b = addon.buildInfo();
const d = addon.distBackends();
console.log('check-cuda-build: loads: libtorch ' + b.torchVersion + ', CPU capability ' + b.cpuCapability +
  ', CUDA built in: ' + b.cudaBuilt + ', GPUs visible: ' + b.cudaDeviceCount + ', backends: gloo ' + d.gloo +
  ', nccl ' + d.nccl);
if (!b.cudaBuilt || !d.nccl) { console.error('check-cuda-build: expected a CUDA build with NCCL'); process.exit(1); }
console.log(b.cudaAvailable ? 'check-cuda-build: a GPU is visible' : 'check-cuda-build: cudaAvailable() == false: no GPU on this machine');
"
