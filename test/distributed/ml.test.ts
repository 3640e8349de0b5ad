// The metric-learning library across processes: sharded retrieval equals one process's exactly
// (ties included), and losses over the gathered global batch give the single-process gradients.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { runRanks } from './helpers.js';

const WORKER = fileURLToPath(new URL('./ml-worker.js', import.meta.url));

async function results(scenario: string, world: number): Promise<Record<string, unknown>[]> {
  const out = await runRanks(WORKER, scenario, world);
  for (const o of out) assert.equal(o.code, 0, `rank ${o.rank} exited ${o.code ?? o.signal}: ${o.stderr}`);
  return out.map((o) => o.result!);
}

test('sharded leave-one-out retrieval equals single-process retrieval (3 ranks, random embeddings)', async () => {
  for (const r of await results('retrieval-random', 3)) {
    assert.deepEqual(r.sharded, r.single);
    assert.equal((r.single as { queries: number }).queries, 203);
  }
});

test('sharded retrieval keeps the tie rule across shards and chunks (leave-one-out and query-gallery)', async () => {
  for (const r of await results('retrieval-ties', 2)) {
    const { loo, qg } = r as Record<string, Record<string, unknown>>;
    assert.deepEqual(loo!.sharded, loo!.single);
    assert.deepEqual(qg!.sharded, qg!.single);
  }
});

for (const loss of ['triplet', 'multi-similarity', 'proxy-anchor']) {
  test(
    `${loss} over the gathered batch: value and gradients equal the single-process ones (2 ranks, ` + `float64)`,
    async () => {
      for (const r of await results(loss, 2)) {
        assert.equal(r.gathered, true);
        assert.ok(
          Math.abs((r.value as number) - (r.refValue as number)) < 1e-12,
          `${String(r.value)} vs ${String(r.refValue)}`,
        );
        const diffs = r.diffs as number[];
        assert.equal(diffs.length, loss === 'proxy-anchor' ? 3 : 2);
        diffs.forEach((d, i) => assert.ok(d < 1e-12, `gradient ${i}: ${d} (scale ${(r.norms as number[])[i]})`));
        assert.ok(
          (r.norms as number[]).every((v) => v > 1e-6),
          'the loss has gradients to compare',
        );
      }
    },
  );
}

for (const scenario of ['xbm-contrastive', 'xbm-multi-similarity-mined']) {
  test(`cross-batch memory across 2 ranks equals 1 process on the global batch (${scenario}, float64)`, async () => {
    for (const r of await results(scenario, 2)) {
      assert.equal(r.gathered, true);
      assert.equal(r.filled, true, 'the memory wrapped around during the run');
      const steps = r.steps as Record<string, number>[];
      assert.equal(steps.length, 5);
      steps.forEach((s, k) => {
        assert.ok(Math.abs(s.value! - s.refValue!) < 1e-5, `step ${k}: ${s.value} vs ${s.refValue}`);
        assert.ok(s.grad! < 1e-5, `step ${k}: gradient off by ${s.grad} (scale ${s.gradScale})`);
        assert.ok(s.gradScale! > 1e-6, `step ${k}: the loss has gradients to compare`);
        // The models drift apart by rounding (DDP's average of two half-batch gradients), not more.
        assert.ok(s.memory! < 1e-12, `step ${k}: memory rows off by ${s.memory}`);
        assert.equal(s.labels, 0, `step ${k}: memory labels`);
      });
    }
  });
}

for (const [scenario, world] of [
  ['partial-fc-arcface', 2],
  ['partial-fc-cosface', 2],
  ['partial-fc-norm-softmax', 3],
  ['partial-fc-proxy-nca', 3],
  ['partial-fc-arcface-sampled', 2],
] as const) {
  test(`${scenario}: sharded over ${world} ranks = one process's head on the drawn classes (float64)`, async () => {
    for (const r of await results(scenario, world)) {
      assert.ok(
        Math.abs((r.value as number) - (r.refValue as number)) < 1e-12,
        `${String(r.value)} vs ${String(r.refValue)}`,
      );
      const diffs = r.diffs as number[];
      assert.equal(diffs.length, 3, 'model weight, bias and the table shard');
      diffs.forEach((d, i) => assert.ok(d < 1e-12, `gradient ${i}: ${d} (scale ${(r.norms as number[])[i]})`));
      assert.ok(
        (r.norms as number[]).every((v) => v > 1e-6),
        'the loss has gradients to compare',
      );
      if (scenario.endsWith('sampled')) assert.ok((r.drawn as number) < 11, 'the ranks drew a subset of the classes');
    }
  });
}
