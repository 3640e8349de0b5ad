// Which device the GPU suite runs on. These tests need a GPU: where none is visible (CI, the CPU
// machines this project is developed on) they skip, saying so — that is their only reason to skip.
// bench/gpu-check.sh runs them on a GPU machine; `bench/gpu-check.sh --dry-run` sets
// DML_GPU_CHECK_DEVICE=cpu to run the same steps against the CPU (a check of the tests themselves).
import { buildInfo, setAllowTf32 } from '../../src/engine/index.js';

const b = buildInfo();
const forced = process.env.DML_GPU_CHECK_DEVICE;

/** The device under test, or null when there is none. */
export const DEVICE: string | null = forced ?? (b.cudaAvailable && b.cudaDeviceCount > 0 ? 'cuda:0' : null);

/** node:test's `skip` for this suite: a reason only when no GPU is visible. */
export const SKIP: string | false =
  DEVICE === null
    ? `no GPU visible (${b.cudaBuilt ? 'CUDA build' : 'CPU-only build'}, libtorch ${b.torchVersion}); ` +
      'bench/gpu-check.sh runs this suite on a GPU machine'
    : false;

export const GPU_COUNT = b.cudaAvailable ? b.cudaDeviceCount : 0;

// float32 against float32: TF32 (on by default for cuDNN convolutions) would round to 10 bits.
if (DEVICE !== null) setAllowTf32(false);

/** Largest |a - b| of two equal-shaped float arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxAbsDiff: lengths ${a.length} and ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
