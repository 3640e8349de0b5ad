#!/usr/bin/env bash
# The GPU check: one command for a GPU machine (one H100/H200, CUDA 13, g++, a Python with a CUDA
# PyTorch ≥ 2.11; no Node.js, no network), run from the repository root with .gpu-carry/ beside it
# (made here by scripts/pack-gpu-check.sh, at most 64 MiB):
#
#   bash bench/gpu-check.sh [--dry-run]       (PYTHON=... picks the Python; default python3)
#
# 1. Node: bin/node of .gpu-carry/node.tar.xz (this project's Node version).
# 2. The addon: g++ against that Python's PyTorch (its include/ and lib/, CUDA and NCCL as
#    scripts/libtorch.cjs finds them in the NVIDIA wheels), in parallel, into build/Release/.
# 3. test/gpu (node:test): CUDA against the CPU, a training step, 20-step parity, a GPU checkpoint
#    loaded on the CPU, a one-rank NCCL group.
# 4. bench/gpu.js: ResNet-50 and ViT-S/16 (224 px, batch 64) training steps/s, TS and PyTorch, fp32
#    and bf16, written to gpu-check/bench.json.
# Everything it prints also goes to gpu-check/log.txt; about 5 minutes on an H100.
#
# --dry-run, on a CPU machine with this repository built: the same steps on the CPU at a tiny size
# (DML_GPU_CHECK_DEVICE=cpu for test/gpu, bench at batch 1); the addon is compiled and linked into
# .cache/gpu-check-build/ (not build/) and only loaded, so the project's own addon is untouched.
set -euo pipefail
cd "$(dirname "$0")/.."
dry=0
[ "${1:-}" = --dry-run ] && dry=1
py=${PYTHON:-python3}
carry=.gpu-carry
logdir=${GPU_CHECK_OUT:-gpu-check}
mkdir -p "$logdir"
exec > >(tee "$logdir/log.txt") 2>&1
t0=$(date +%s)
say() { echo "gpu-check [$(($(date +%s) - t0)) s]: $*"; }
[ -f "$carry/node.tar.xz" ] || {
  echo "gpu-check: $carry/node.tar.xz is missing: run bash scripts/pack-gpu-check.sh first" >&2
  exit 1
}

# 1. Node.
nodedir=$(mktemp -d "${TMPDIR:-/tmp}/dml-gpu-node-XXXXXX")
tar -xJf "$carry/node.tar.xz" -C "$nodedir"
node="$nodedir/bin/node"
say "node $("$node" --version)"
[ -d dist/src ] || cp -r "$carry/dist" dist

# 2. The addon.
torch=$("$py" -c 'import torch, os; print(os.path.dirname(torch.__file__))')
say "PyTorch $("$py" -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda)') at $torch"
export LIBTORCH="$torch" DML_GLOO_INCLUDE="$PWD/$carry/include"
includes=$("$node" scripts/libtorch.cjs include)
defines=$("$node" scripts/libtorch.cjs defines)
ldflags=$("$node" scripts/libtorch.cjs ldflags)
libs=$("$node" scripts/libtorch.cjs libs)
say "defines: $defines"
if [ "$dry" = 1 ]; then objdir=.cache/gpu-check-build; else objdir=build/Release/obj.gpu-check; fi
rm -rf "$objdir"
mkdir -p "$objdir"
cxxflags=(-std=c++20 -fPIC -O2 -fexceptions -frtti
  -Wno-unused-parameter -Wno-deprecated-declarations -Wno-interference-size
  -DNAPI_CPP_EXCEPTIONS -DNAPI_VERSION=8 -DNODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS
  -DNODE_ADDON_API_CPP_EXCEPTIONS_ALL -I"$nodedir/include/node" -I"$carry/include")
for d in $defines; do cxxflags+=("-D$d"); done
for i in $includes; do cxxflags+=("-I$i"); done
jobs=$(nproc)
[ "$dry" = 1 ] && jobs=2
say "compiling src/native/*.cc with g++ ($jobs at a time)"
printf '%s\n' src/native/*.cc | xargs -P "$jobs" -I{} sh -c \
  'g++ "$@" -c "{}" -o "'"$objdir"'/$(basename "{}" .cc).o" || exit 255' _ "${cxxflags[@]}"
addon="$objdir/dml_native.node"
# shellcheck disable=SC2086 # the flag lists are word lists
g++ -shared -o "$addon" "$objdir"/*.o $ldflags $libs -L"$carry/lib" -Wl,-rpath,"$PWD/$carry/lib" -ljpeg
[ "$dry" = 1 ] || cp "$addon" build/Release/dml_native.node
say "linked $addon; $("$node" --input-type=module -e "
import { createRequire } from 'node:module';
const b = createRequire(import.meta.url)('$PWD/$addon').buildInfo();
console.log('libtorch ' + b.torchVersion + ', CUDA built ' + b.cudaBuilt + ', GPUs visible ' + b.cudaDeviceCount);
")"

# 3. The CUDA tests (the dry run: the same tests against the CPU).
if [ "$dry" = 1 ]; then export DML_GPU_CHECK_DEVICE=cpu; fi
say "test/gpu"
tests=0
"$node" --test --test-concurrency=1 dist/test/gpu/ || tests=$?

# 4. The bench.
say "bench/gpu.js"
bench=(--python "$py" --json "$logdir/bench.json")
[ "$dry" = 1 ] && bench+=(--dry-run)
"$node" dist/bench/gpu.js "${bench[@]}"
rm -rf "$nodedir"
say "done (tests exit code $tests)"
exit "$tests"
