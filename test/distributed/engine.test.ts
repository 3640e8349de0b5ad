// The engine's c10d process group across real processes on loopback: collectives, synchronised
// BatchNorm, bucketed gradient all-reduce, the differentiable all-reduce, and lost ranks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { distributed } from '../../src/engine/index.js';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, runRanks } from './helpers.js';

const WORKER = fileURLToPath(new URL('./engine-worker.js', import.meta.url));

function ok(outcomes: Awaited<ReturnType<typeof runRanks>>): Record<string, unknown>[] {
  for (const o of outcomes) assert.equal(o.code, 0, `rank ${o.rank} exited ${o.code ?? o.signal}: ${o.stderr}`);
  return outcomes.map((o) => o.result!);
}

test('the addon has Gloo', () => {
  assert.equal(distributed.ProcessGroup.backends().gloo, true);
});

test('collectives: all-reduce, broadcast, all-gather (equal and ragged), barrier, store', async () => {
  const [r0, r1, r2] = ok(await runRanks(WORKER, 'collectives', 3));
  for (const r of [r0!, r1!, r2!]) {
    assert.deepEqual(r.sum, [6, 60]);
    assert.deepEqual(r.max, [2, 0]);
    assert.deepEqual(r.avg, [2]);
    assert.deepEqual(r.bcast, [
      [7, 8, 9],
      [1, 2, 3, 4],
    ]);
    assert.deepEqual(r.parts, [
      [0, 0],
      [1, 1],
      [2, 4],
    ]);
    assert.deepEqual(r.vparts, [
      [[0, 0]],
      [
        [1, 0],
        [1, 1],
      ],
      [
        [2, 0],
        [2, 1],
        [2, 2],
      ],
    ]);
  }
  assert.equal(r0!.other, 'hello from 1');
  assert.equal(r2!.other, 'hello from 0');
});

test('synchronised BatchNorm over uneven slices equals BatchNorm on the whole batch (float64)', async () => {
  const results = ok(await runRanks(WORKER, 'syncbn', 2));
  assert.deepEqual(
    results.map((r) => r.rows),
    [3, 4],
  );
  for (const r of results) {
    for (const k of ['out', 'gradInput', 'gradWeight', 'gradBias', 'runningMean', 'runningVar']) {
      assert.ok((r[k] as number) < 1e-12, `rank ${String(r.rank)} ${k}: ${String(r[k])}`);
    }
  }
});

test('bucketed gradient all-reduce (tiny buckets, uneven slices) gives the full-batch gradient', async () => {
  const results = ok(await runRanks(WORKER, 'grads', 3));
  for (const r of results) {
    for (const d of r.diffs as number[]) assert.ok(d < 1e-12, `rank ${String(r.rank)}: ${String(r.diffs)}`);
    assert.deepEqual(r.info, { tensors: 4, bytes: (6 * 5 + 5 + 5 * 2 + 2) * 8 });
  }
});

test(
  'gradient all-reduce overlapped with backward: same gradients, buckets started during backward, unused ' +
    'parameters untouched',
  async () => {
    const results = ok(await runRanks(WORKER, 'overlap', 2));
    for (const r of results) {
      const steps = r.steps as {
        info: { tensors: number; buckets: number; overlapped: number };
        diffs: number[];
        unusedGrad: boolean[];
      }[];
      steps.forEach((st, i) => {
        for (const d of st.diffs) assert.ok(d < 1e-12, `step ${i}: ${String(st.diffs)}`);
        assert.deepEqual(st.unusedGrad, [true, true]);
        assert.equal(st.info.tensors, 6);
        assert.ok(st.info.buckets >= 3, `${st.info.buckets} buckets`);
      });
      assert.equal(steps[0]!.info.overlapped, 0);
      // All buckets of steps 2 and 3 went out during backward.
      assert.equal(steps[1]!.info.overlapped, steps[1]!.info.buckets);
      assert.equal(steps[2]!.info.overlapped, steps[2]!.info.buckets);
    }
  },
);

test('channels-last parameters: broadcast and bucketed all-reduce give the full-batch gradient', async () => {
  const results = ok(await runRanks(WORKER, 'channelsLast', 2));
  for (const r of results) {
    for (const mode of ['plain', 'overlapped']) {
      const m = r[mode] as { diffs: number[]; channelsLast: boolean[] };
      for (const d of m.diffs) assert.ok(d < 1e-12, `rank ${String(r.rank)} ${mode}: ${String(m.diffs)}`);
      assert.ok(m.channelsLast.every(Boolean), `${mode}: the parameters stay channels-last`);
    }
  }
});

test('the differentiable all-reduce sums values forward and gradients backward', async () => {
  const results = ok(await runRanks(WORKER, 'autograd', 2));
  for (const r of results) assert.deepEqual(r.y, [3, 6]);
  // d/dx_r of sum_r' <w_r', y> with y = sum_r (r+1) x_r: (r+1) * sum_r' w_r' = (r+1) * [3, 2]
  assert.deepEqual(results[0]!.gx, [3, 2]);
  assert.deepEqual(results[1]!.gx, [6, 4]);
});

test('a rank that dies is named by the survivors, who fail fast and stay failed', async () => {
  const out = await runRanks(WORKER, 'die', 3, { env: { REPORT: '1' }, timeoutMs: 60_000 });
  assert.equal(out[1]!.code, 9);
  for (const r of [out[0]!, out[2]!]) {
    assert.equal(r.code, 0, r.stderr);
    const res = r.result!;
    assert.equal(res.name, 'DistributedError');
    assert.deepEqual(res.lostRanks, [1]);
    assert.equal(res.op, 'all-reduce');
    assert.match(
      res.error as string,
      new RegExp(`^rank ${r.rank}/3: all-reduce failed: .* lost rank 1 .*rank 1 reported: out of memory in step 3`),
    );
    assert.equal(res.again, 'same');
    assert.ok((res.ms as number) < 15_000, `took ${String(res.ms)} ms`);
  }
});

test('when rank 0 (the store host) dies, the others name it', async () => {
  for (let round = 0; round < 3; round++) {
    const out = await runRanks(WORKER, 'die', 2, { env: { VICTIM: '0' }, timeoutMs: 60_000 });
    assert.equal(out[0]!.code, 9);
    const r1 = out[1]!;
    if (r1.result) {
      // The survivor's collective failed and its diagnosis found the store gone.
      assert.deepEqual(r1.result.lostRanks, [0], String(r1.result.error));
      assert.match(r1.result.error as string, /lost rank 0/);
    } else {
      // libtorch's store thread saw the connection reset first: the process says so and exits 1.
      assert.equal(r1.code, 1, r1.stderr);
      assert.match(
        r1.stderr,
        new RegExp(
          /rank 1\/2: the connection to the rendezvous store at 127\.0\.0\.1:\d+ \(hosted by rank 0\) /.source +
            /broke .* -- lost rank 0/.source,
        ),
      );
    }
  }
});

test('the launch environment: torchrun variables read and checked, naming the variable', () => {
  const { launchEnvFrom } = distributed;
  assert.equal(launchEnvFrom({}), null);
  assert.equal(launchEnvFrom({ WORLD_SIZE: '1', RANK: '0' }), null);
  assert.deepEqual(
    launchEnvFrom({
      RANK: '3',
      WORLD_SIZE: '4',
      LOCAL_RANK: '1',
      LOCAL_WORLD_SIZE: '2',
      MASTER_ADDR: 'n0',
      MASTER_PORT: '29500',
    }),
    {
      rank: 3,
      worldSize: 4,
      localRank: 1,
      localWorldSize: 2,
      masterAddr: 'n0',
      masterPort: 29500,
      agentHosted: false,
      attempt: 0,
    },
  );
  const agent = launchEnvFrom({
    RANK: '0',
    WORLD_SIZE: '2',
    MASTER_ADDR: 'h',
    MASTER_PORT: '1',
    TORCHELASTIC_USE_AGENT_STORE: 'True',
    TORCHELASTIC_RESTART_COUNT: '2',
  });
  assert.equal(agent?.agentHosted, true);
  assert.equal(agent?.attempt, 2);
  assert.throws(
    () => launchEnvFrom({ RANK: '2', WORLD_SIZE: '2', MASTER_ADDR: 'h', MASTER_PORT: '1' }),
    /RANK="2": expected an integer in \[0, 1\]/,
  );
  assert.throws(() => launchEnvFrom({ RANK: '0', WORLD_SIZE: 'two' }), /WORLD_SIZE="two"/);
  assert.throws(() => launchEnvFrom({ RANK: '0' }), /RANK is set but WORLD_SIZE is not/);
  assert.throws(() => launchEnvFrom({ RANK: '0', WORLD_SIZE: '2', MASTER_PORT: '1' }), /MASTER_ADDR is not set/);
  assert.throws(
    () => launchEnvFrom({ RANK: '0', WORLD_SIZE: '2', MASTER_ADDR: 'h', MASTER_PORT: '70000' }),
    /MASTER_PORT="70000"/,
  );
});

test('bad process-group arguments are refused before any rendezvous', () => {
  const { ProcessGroup } = distributed;
  assert.throws(
    () => new ProcessGroup({ rank: 2, worldSize: 2, store: { kind: 'tcp', host: '127.0.0.1', port: 1 } }),
    /rank 2 is not in \[0, 2\)/,
  );
  assert.throws(
    () => new ProcessGroup({ rank: 0, worldSize: 2, store: { kind: 'tcp', host: '127.0.0.1', port: 0 } }),
    /port must be in \[1, 65535\]/,
  );
  assert.throws(
    () => new ProcessGroup({ rank: 0, worldSize: 1, backend: 'mpi' as never, store: { kind: 'file', path: '/tmp/x' } }),
    /backend must be 'gloo' or 'nccl'/,
  );
  if (!ProcessGroup.backends().nccl) {
    assert.throws(
      () => new ProcessGroup({ rank: 0, worldSize: 1, backend: 'nccl', store: { kind: 'file', path: '/tmp/x' } }),
      /no NCCL/,
    );
  }
});

test('a FileStore rendezvous (a shared file instead of MASTER_ADDR/PORT)', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dml-fs-'));
  const [r0, r1] = ok(
    await runRanks(WORKER, 'collectives', 2, { env: { DML_TEST_FILESTORE: path.join(dir, 'store') } }),
  );
  assert.deepEqual(r0!.sum, [3, 30]);
  assert.equal(r1!.other, 'hello from 0');
});

test('a rank that is alive but late past the timeout: the collective times out, naming no lost rank', async () => {
  const out = await runRanks(WORKER, 'slow', 2, { env: { DML_TEST_TIMEOUT_MS: '2000' }, timeoutMs: 60_000 });
  const res = out[0]!.result!;
  assert.match(
    res.error as string,
    /^rank 0\/2: barrier failed: .*every rank is still alive.*raise distributed\.timeout/,
  );
  assert.deepEqual(res.lostRanks, []);
  assert.ok((res.ms as number) < 10_000);
});

test('a port in use and a rendezvous nobody joins fail with the rank, the address and advice', async () => {
  const { ProcessGroup } = distributed;
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  const port = (busy.address() as { port: number }).port;
  try {
    assert.throws(
      () =>
        new ProcessGroup({ rank: 0, worldSize: 2, store: { kind: 'tcp', host: '127.0.0.1', port }, timeoutMs: 2000 }),
      new RegExp(
        `rank 0/2: rendezvous at 127\\.0\\.0\\.1:${port} failed: .*(another job uses port ${port}|ddress already in ` +
          `use)`,
      ),
    );
  } finally {
    busy.close();
  }
  const free = await freePort();
  const t0 = Date.now();
  assert.throws(
    () =>
      new ProcessGroup({
        rank: 1,
        worldSize: 2,
        store: { kind: 'tcp', host: '127.0.0.1', port: free },
        timeoutMs: 1500,
      }),
    new RegExp(`rank 1/2: rendezvous at 127\\.0\\.0\\.1:${free} failed: .*are all 2 ranks started`),
  );
  assert.ok(Date.now() - t0 < 15_000);
});
