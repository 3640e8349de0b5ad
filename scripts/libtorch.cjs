#!/usr/bin/env node
// Finds the libtorch (2.x) the addon is built against, and prints compiler/linker settings for binding.gyp.
//
//   node scripts/libtorch.cjs ensure             pick one, fetching PyTorch's CPU wheel if needed; says which
//   node scripts/libtorch.cjs root               the chosen folder (no fetching)
//   node scripts/libtorch.cjs wheel-version      the PyTorch version step 3 fetches
//   node scripts/libtorch.cjs include|libs|ldflags|defines
//
// The choice, first match wins (as tch-rs does with LIBTORCH / LIBTORCH_USE_PYTORCH):
//   1. LIBTORCH=/path: a libtorch folder (include/ + lib/: a pytorch.org zip, or a PyTorch wheel's torch/).
//   2. The libtorch inside the PyTorch ≥ 2 that `${PYTHON:-python3}` has installed (found without importing it).
//   3. PyTorch's CPU wheel (torch==2.13.0+cpu), fetched by pip once and unpacked into .cache/libtorch/.
// PyTorch's wheels are complete libtorchs: headers, libtorch_cpu (MKL, oneDNN, c10d with Gloo inside) and their
// own libgomp. Nothing Python is loaded at run time: the addon's rpath points at the chosen lib/ folder.
// c10d's Gloo header includes gloo's own headers, which the wheels do not ship: Debian's libgloo-dev provides
// them (declarations only; every gloo symbol the addon needs resolves inside libtorch_cpu, see ARCHITECTURE.md).
// NCCL is compiled in when the libtorch has CUDA and nccl.h + the CUDA headers are found.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const WHEEL_VERSION = '2.13.0+cpu';
const projectRoot = path.resolve(__dirname, '..');
const cacheRoot = path.join(projectRoot, '.cache', 'libtorch');
const cacheDir = path.join(cacheRoot, WHEEL_VERSION);

const fail = (msg) => {
  console.error(`libtorch: ${msg}`);
  process.exit(1);
};

/** The version a libtorch folder declares (PyTorch wheels: version.py; pytorch.org zips: build-version). */
function versionOf(root) {
  for (const f of [path.join(root, 'version.py'), path.join(root, 'build-version')]) {
    if (!fs.existsSync(f)) continue;
    const text = fs.readFileSync(f, 'utf8');
    const m = /__version__\s*=\s*'([^']+)'/.exec(text) ?? /^\s*([0-9][^\s]*)\s*$/m.exec(text);
    if (m) return m[1];
  }
  const h = path.join(root, 'include', 'torch', 'csrc', 'api', 'include', 'torch', 'version.h');
  if (fs.existsSync(h)) {
    const m = /TORCH_VERSION\s+"([^"]+)"/.exec(fs.readFileSync(h, 'utf8'));
    if (m) return m[1];
  }
  return null;
}

const looksLikeLibtorch = (root) =>
  fs.existsSync(path.join(root, 'include', 'torch', 'csrc', 'api', 'include', 'torch', 'torch.h')) &&
  fs.existsSync(path.join(root, 'lib'));

const major = (v) => Number(/^(\d+)\./.exec(v ?? '')?.[1] ?? NaN);

/** The torch package folder of an installed PyTorch, found by importlib without importing torch. */
function installedPyTorch() {
  const py = process.env.PYTHON || 'python3';
  const r = spawnSync(
    py,
    ['-c', "import importlib.util as u, os; s = u.find_spec('torch'); print(os.path.dirname(s.origin) if s else '')"],
    { encoding: 'utf8', timeout: 30_000 },
  );
  const dir = r.status === 0 ? r.stdout.trim() : '';
  if (!dir || !looksLikeLibtorch(dir)) return null;
  const version = versionOf(dir);
  if (major(version) < 2) return { skipped: `${py}'s PyTorch ${version} (< 2)` };
  return { root: dir, version, source: `the PyTorch installed for ${py}` };
}

function cached() {
  return looksLikeLibtorch(cacheDir)
    ? { root: cacheDir, version: versionOf(cacheDir), source: 'the project cache' }
    : null;
}

/** Downloads PyTorch's CPU wheel with pip and unpacks the libtorch part of it (headers, libraries) atomically. */
function fetchWheel() {
  const py = process.env.PYTHON || 'python3';
  const wheels = path.join(projectRoot, '.cache', 'wheels');
  fs.mkdirSync(wheels, { recursive: true });
  console.log(`libtorch: fetching PyTorch's wheel torch==${WHEEL_VERSION} with pip (about 190 MB, once)`);
  // The wheel is fixed to one Python/platform tag so any python3 with pip can fetch it; only its libtorch is used.
  const args = ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--retries', '1'];
  args.push('--python-version', '3.11', '--platform', 'manylinux_2_28_x86_64', '-d', wheels, `torch==${WHEEL_VERSION}`);
  const r = spawnSync(py, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  const wheel = fs.readdirSync(wheels).find((f) => f.startsWith(`torch-${WHEEL_VERSION}-`) && f.endsWith('.whl'));
  if (r.status !== 0 || !wheel) {
    fail(
      `pip could not fetch torch==${WHEEL_VERSION} (${py} -m pip download exited ${r.status}). PyTorch's own index ` +
        'has it (PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu npm run setup); or install a PyTorch ≥ 2 ' +
        `for ${py}, or set LIBTORCH=/path/to/libtorch (a libtorch zip from pytorch.org, or a wheel's torch/ folder).`,
    );
  }
  const tmp = fs.mkdtempSync(path.join(cacheRoot + '-'));
  const unpack = `
import sys, zipfile
keep = ('torch/include/', 'torch/lib/', 'torch/share/cmake/', 'torch/version.py')
# Python's binding and PyTorch's own test libraries are not part of libtorch.
skip = ('libtorch_python', 'libtorchbind_test', 'libjitbackend_test', 'libbackend_with_compiler', 'libaoti_custom_ops')
with zipfile.ZipFile(sys.argv[1]) as z:
    for n in z.namelist():
        if n.startswith(keep) and not (n.startswith('torch/lib/') and n[10:].startswith(skip)):
            z.extract(n, sys.argv[2])
`;
  const u = spawnSync(py, ['-c', unpack, path.join(wheels, wheel), tmp], { stdio: 'inherit' });
  if (u.status !== 0) fail(`unpacking ${wheel} failed`);
  fs.mkdirSync(cacheRoot, { recursive: true });
  fs.rmSync(cacheDir, { recursive: true, force: true });
  fs.renameSync(path.join(tmp, 'torch'), cacheDir);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.rmSync(path.join(wheels, wheel), { force: true });
  return cached();
}

/** The chosen libtorch; `fetch` allows step 3's download. */
function choose(fetch) {
  const env = process.env.LIBTORCH;
  if (env) {
    const root = path.resolve(env.replace(/^~(?=\/|$)/, os.homedir()));
    if (!looksLikeLibtorch(root))
      fail(`LIBTORCH=${env} does not look like a libtorch folder (expected include/torch and lib/)`);
    return { root, version: versionOf(root), source: 'LIBTORCH' };
  }
  const notes = [];
  const inst = installedPyTorch();
  if (inst?.root) return inst;
  if (inst?.skipped) notes.push(inst.skipped);
  const c = cached();
  if (c) return { ...c, notes };
  if (!fetch) fail('none chosen yet: run `npm run setup` (or set LIBTORCH=/path/to/libtorch)');
  return { ...fetchWheel(), source: "PyTorch's CPU wheel, fetched into the project cache", notes };
}

function check(t) {
  if (major(t.version) < 2) {
    fail(`${t.root} is libtorch ${t.version ?? '(unknown version)'}; this toolkit needs libtorch 2.x`);
  }
  return t;
}

function settings(t) {
  const include = [path.join(t.root, 'include'), path.join(t.root, 'include', 'torch', 'csrc', 'api', 'include')];
  const lib = path.join(t.root, 'lib');
  const libs = ['-ltorch', '-ltorch_cpu', '-lc10'];
  const ldflags = [`-L${lib}`, `-Wl,-rpath,${lib}`];
  const defines = [];
  const c10d = path.join(include[0], 'torch/csrc/distributed/c10d');
  // DML_GLOO_INCLUDE: gloo headers carried to a machine without libgloo-dev (bench/gpu-check.sh).
  const glooHeaders = [include[0], process.env.DML_GLOO_INCLUDE, '/usr/include']
    .filter(Boolean)
    .find((d) => fs.existsSync(path.join(d, 'gloo/algorithm.h')));
  if (fs.existsSync(path.join(c10d, 'ProcessGroupGloo.hpp')) && glooHeaders) {
    defines.push('USE_C10D_GLOO');
    if (glooHeaders !== include[0]) include.push(glooHeaders);
  }
  const cudaLib = fs.existsSync(path.join(lib, 'libtorch_cuda.so'));
  if (cudaLib) {
    // CUDA kernels register themselves from static initialisers, so the linker must keep the library.
    ldflags.push('-Wl,--no-as-needed', '-ltorch_cuda', '-lc10_cuda', '-Wl,--as-needed');
    // The CUDA and NCCL headers: CUDA_HOME's, the system's, or those of the NVIDIA wheels installed beside a
    // PyTorch wheel's torch/ folder (site-packages/nvidia/...: cu13 puts the CUDA runtime in nvidia/cu13).
    const wheels = path.join(t.root, '..', 'nvidia');
    // CUDA_HOME when set; else the wheels' (the CUDA the libtorch was built with), then the system's.
    const cudaIncs = [
      ...(process.env.CUDA_HOME ? [path.join(process.env.CUDA_HOME, 'include')] : []),
      ...['cu13', 'cuda_runtime'].map((d) => path.join(wheels, d, 'include')),
      '/usr/local/cuda/include',
    ];
    const cudaInc = cudaIncs.find((d) => fs.existsSync(path.join(d, 'cuda_runtime_api.h')));
    const ncclInc = [include[0], cudaInc, '/usr/include', path.join(wheels, 'nccl', 'include')]
      .filter(Boolean)
      .find((d) => fs.existsSync(path.join(d, 'nccl.h')));
    const ncclWanted = process.env.DML_NCCL !== '0' && fs.existsSync(path.join(c10d, 'ProcessGroupNCCL.hpp'));
    if (ncclWanted && ncclInc && cudaInc) {
      defines.push('USE_C10D_NCCL', 'USE_CUDA');
      include.push(cudaInc, ncclInc);
    }
  }
  return {
    include: [...new Set(include)].join(' '),
    libs: libs.join(' '),
    ldflags: ldflags.join(' '),
    defines: defines.join(' '),
  };
}

const what = process.argv[2];
if (what === 'ensure') {
  const t = check(choose(true));
  for (const n of t.notes ?? []) console.log(`libtorch: skipped ${n}`);
  console.log(`libtorch: ${t.version} from ${t.source} (${t.root})`);
} else if (what === 'wheel-version') {
  process.stdout.write(WHEEL_VERSION);
} else if (what === 'root') {
  process.stdout.write(check(choose(false)).root);
} else if (['include', 'libs', 'ldflags', 'defines'].includes(what)) {
  process.stdout.write(settings(check(choose(false)))[what]);
} else {
  console.error('usage: libtorch.cjs ensure|root|wheel-version|include|libs|ldflags|defines');
  process.exit(2);
}
