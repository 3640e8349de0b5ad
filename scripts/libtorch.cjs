#!/usr/bin/env node
// Prints compiler/linker settings for binding.gyp: Debian's libtorch by default, or LIBTORCH=/path
// (a libtorch zip from pytorch.org, CPU or CUDA). Usage: node scripts/libtorch.cjs include|libs|ldflags|defines
// c10d backends: Gloo when its headers are there (Debian: libgloo-dev, linked with -lgloo; pytorch.org's
// libtorch has gloo inside libtorch_cpu), NCCL when the libtorch has CUDA and nccl.h + the CUDA headers
// are found (CUDA_HOME).
const fs = require('node:fs');
const path = require('node:path');

const root = process.env.LIBTORCH;
const what = process.argv[2];

function debian() {
  const inc = '/usr/include';
  if (!fs.existsSync(path.join(inc, 'torch/csrc/api/include/torch/torch.h'))) {
    console.error(
      'libtorch headers not found: run `apt-get install libtorch-dev libopenblas0-pthread` or set ' +
        'LIBTORCH=/path/to/libtorch',
    );
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
const defines = [];
const c10d = path.join(t.include[0], 'torch/csrc/distributed/c10d');
const glooHeaders = [t.include[0], '/usr/include'].find((d) => fs.existsSync(path.join(d, 'gloo/algorithm.h')));
if (fs.existsSync(path.join(c10d, 'ProcessGroupGloo.hpp')) && glooHeaders) {
  defines.push('USE_C10D_GLOO');
  if (glooHeaders !== t.include[0]) t.include.push(glooHeaders);
  if (!t.libdir) libs.push('-lgloo');
}
// DML_NCCL=0 leaves NCCL out (it is compiled in whenever its headers are found, but has never run here).
if (
  process.env.DML_NCCL !== '0' &&
  t.libdir &&
  fs.existsSync(path.join(t.libdir, 'libtorch_cuda.so')) &&
  fs.existsSync(path.join(c10d, 'ProcessGroupNCCL.hpp'))
) {
  const cuda = process.env.CUDA_HOME || '/usr/local/cuda';
  const inc = [t.include[0], path.join(cuda, 'include'), '/usr/include'];
  const nccl = inc.find((d) => fs.existsSync(path.join(d, 'nccl.h')));
  if (nccl && fs.existsSync(path.join(cuda, 'include/cuda_runtime_api.h'))) {
    defines.push('USE_C10D_NCCL', 'USE_CUDA');
    t.include.push(path.join(cuda, 'include'));
    if (nccl !== t.include[0]) t.include.push(nccl);
  }
}
if (t.libdir) {
  ldflags.push(`-L${t.libdir}`, `-Wl,-rpath,${t.libdir}`);
  // CUDA kernels register themselves from static initialisers, so the linker must keep the library.
  if (fs.existsSync(path.join(t.libdir, 'libtorch_cuda.so'))) {
    ldflags.push('-Wl,--no-as-needed', '-ltorch_cuda', '-lc10_cuda', '-Wl,--as-needed');
  }
}
const out = {
  include: [...new Set(t.include)].join(' '),
  libs: libs.join(' '),
  ldflags: ldflags.join(' '),
  defines: defines.join(' '),
}[what];
if (out === undefined) {
  console.error('usage: libtorch.cjs include|libs|ldflags|defines');
  process.exit(2);
}
process.stdout.write(out);
