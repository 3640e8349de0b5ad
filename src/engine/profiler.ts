// libtorch's own op profiler (its legacy autograd profiler, CPU events): which aten ops a piece of
// code calls, how often and for how long, aggregated like PyTorch's
// torch.autograd.profiler_legacy.profile().key_averages(), so that both sides can be compared op by op.
import { native } from './native.js';

/** One op name's totals over a profiled run (times in microseconds of CPU wall time). */
export interface OpStat {
  /** The op as libtorch records it: `aten::add`, `aten::convolution_backward`, autograd nodes such as `MmBackward0`. */
  readonly name: string;
  readonly calls: number;
  /** Time inside the op, its children included. */
  readonly cpuTotalUs: number;
  /** Time inside the op minus the time of the ops it called directly (PyTorch's self CPU time). */
  readonly selfCpuUs: number;
  /** The inputs' shapes (one entry per input, [] for a non-tensor): only with `recordShapes`, which groups by them. */
  readonly inputShapes?: readonly (readonly number[])[];
}

export interface ProfileOptions {
  /** Record the inputs' shapes and group the table by (name, shapes) instead of name alone. */
  recordShapes?: boolean;
}

/** Whether the profiler is on for this thread (a `profile` call is in progress). */
export const profilerRunning = (): boolean => native.profilerRunning();

/**
 * Runs `fn` with libtorch's profiler on and returns its result with the ops it ran, sorted by self
 * time. `fn` must be synchronous: ops of a promise's continuation would run after the profiler is off
 * (a thenable result is refused). The profiler is stopped whatever happens, also when `fn` throws;
 * profiles do not nest.
 */
export function profile<T>(fn: () => T, opts: ProfileOptions = {}): { result: T; ops: OpStat[] } {
  native.profilerStart(opts.recordShapes ?? false);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    native.profilerStop();
    throw e;
  }
  const ops: OpStat[] = native.profilerStop();
  if (isThenable(result)) {
    throw new TypeError('profile(fn): fn returned a promise; only synchronous work can be profiled');
  }
  return { result, ops };
}

function isThenable(v: unknown): boolean {
  return (
    (typeof v === 'object' || typeof v === 'function') &&
    v !== null &&
    typeof (v as { then?: unknown }).then === 'function'
  );
}

export interface FormatProfileOptions {
  /** Rows shown, the largest first (default 30; the rest are summed in one line). */
  limit?: number;
  sortBy?: 'selfCpuUs' | 'cpuTotalUs' | 'calls';
}

/** A fixed-width text table of a profile, times in milliseconds, like PyTorch's `table()`. */
export function formatProfile(ops: readonly OpStat[], opts: FormatProfileOptions = {}): string {
  const key = opts.sortBy ?? 'selfCpuUs';
  const limit = opts.limit ?? 30;
  const rows = [...ops].sort((a, b) => b[key] - a[key]);
  const shown = rows.slice(0, limit);
  const selfTotal = ops.reduce((s, o) => s + o.selfCpuUs, 0);
  const label = (o: OpStat): string => (o.inputShapes ? `${o.name} ${JSON.stringify(o.inputShapes)}` : o.name);
  const w = Math.max(4, ...shown.map((o) => label(o).length));
  const ms = (us: number): string => (us / 1e3).toFixed(3).padStart(12);
  const pct = (us: number): string => (selfTotal > 0 ? ((us / selfTotal) * 100).toFixed(1) : '0.0').padStart(7);
  const head = ['calls', 'self ms', 'self %', 'total ms'].map((h, i) => h.padStart(i === 0 || i === 2 ? 7 : 12));
  const lines = [`${'name'.padEnd(w)}  ${head.join('  ')}`];
  for (const o of shown) {
    const cells = [String(o.calls).padStart(7), ms(o.selfCpuUs), pct(o.selfCpuUs), ms(o.cpuTotalUs)];
    lines.push(`${label(o).padEnd(w)}  ${cells.join('  ')}`);
  }
  const rest = rows.slice(limit);
  if (rest.length > 0) {
    const calls = rest.reduce((s, o) => s + o.calls, 0);
    const self = rest.reduce((s, o) => s + o.selfCpuUs, 0);
    lines.push(`${`(${rest.length} more)`.padEnd(w)}  ${String(calls).padStart(7)}  ${ms(self)}  ${pct(self)}`);
  }
  lines.push(`self CPU time total: ${(selfTotal / 1e3).toFixed(3)} ms`);
  return lines.join('\n');
}
