#!/usr/bin/env node
// Prints compiler/linker settings for binding.gyp: Debian's libtorch by default, or LIBTORCH=/path
// (a libtorch zip from pytorch.org, CPU or CUDA). Usage: node scripts/libtorch.cjs include|libdirs|libs|ldflags
const fs = require('node:fs');
const path = require('node:path');

const root = process.env.LIBTORCH;
const what = process.argv[2];

function debian() {
  const inc = '/usr/include';
  if (!fs.existsSync(path.join(inc, 'torch/csrc/api/include/torch/torch.h'))) {
    console.error('libtorch headers not found: run `apt-get install libtorch-dev libopenblas0-pthread` or set LIBTORCH=/path/to/libtorch');
    process.exit(1);
  }
  return { include: [inc, path.join(inc, 'torch/csrc/api/include')], libdir: null };
}

function custom() {
  const inc = path.join(root, 'include');
  const lib = path.join(root, 'lib');
  if (!fs.existsSync(path.join(inc, 'torch/csrc/api/include/torch/torch.h')) || !fs.existsSync(lib)) {
    console.error(`LIBTORCH=${root} does not look like a libtorch folder (expected include/torch and lib/)`);
    process.exit(1);
  }
  return { include: [inc, path.join(inc, 'torch/csrc/api/include')], libdir: lib };
}

const t = root ? custom() : debian();
const libs = ['-ltorch', '-ltorch_cpu', '-lc10'];
const ldflags = [];
if (t.libdir) {
  ldflags.push(`-L${t.libdir}`, `-Wl,-rpath,${t.libdir}`);
  // CUDA kernels register themselves from static initialisers, so the linker must keep the library.
  if (fs.existsSync(path.join(t.libdir, 'libtorch_cuda.so'))) {
    ldflags.push('-Wl,--no-as-needed', '-ltorch_cuda', '-lc10_cuda', '-Wl,--as-needed');
  }
}
const out = { include: t.include.join(' '), libs: libs.join(' '), ldflags: ldflags.join(' ') }[what];
if (out === undefined) {
  console.error('usage: libtorch.cjs include|libs|ldflags');
  process.exit(2);
}
process.stdout.write(out);
