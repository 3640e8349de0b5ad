// Training on CUDA against the CPU through the trainer's own parts (model, loss with learnable
// proxies, optimiser, trainStep): one step, then a 20-step run whose losses follow the CPU's; a
// checkpoint written from the GPU loads on the CPU; a one-rank NCCL group all-reduces GPU tensors.
// Skips only where no GPU is visible (see helpers.ts).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  distributed,
  loadTensors,
  manualSeed,
  optim,
  rand,
  saveTensors,
  tensor,
  tidy,
} from '../../src/engine/index.js';
import type { Embedder } from '../../src/ml/models/factory.js';
import { resolveConfig } from '../../src/ml/run/config/resolve.js';
import type { Batch } from '../../src/ml/run/datasets/source.js';
import { buildEmbedder } from '../../src/ml/run/model-spec.js';
import { createOptimizer, createSchedule, paramGroups } from '../../src/ml/train/optimizer.js';
import { PceProbe } from '../../src/ml/train/pce-probe.js';
import { trainStep, type StepParts } from '../../src/ml/train/step.js';
import { makeLoss } from '../../src/ml/train/wiring.js';
import { DEVICE, SKIP, maxAbsDiff } from './helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'dml-gpu-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const CLASSES = 4;
const cfg = resolveConfig({
  overrides: [
    'model.arch=resnet18',
    'model.smallInput=true',
    'model.numFeatures=16',
    'model.dropout=0',
    'loss.name=proxy-anchor',
    'batchSize=8',
    'optim.lr=0.01',
    'epochs=1',
    'seed=3',
  ],
});

/** The trainer's parts on `device`, built on the CPU from the same seed (as the Trainer does), then moved. */
function parts(device: string): StepParts & { dispose(): void } {
  manualSeed(cfg.seed);
  const model: Embedder = buildEmbedder(cfg.model, {
    numClasses: CLASSES,
    numFeatures: cfg.model.numFeatures,
    inChannels: 3,
    imageSize: 16,
    patchSize: cfg.model.patchSize,
  });
  const loss = makeLoss(cfg, CLASSES, model.options.numFeatures, null);
  if (device !== 'cpu') {
    model.to(device);
    loss.module?.to(device);
  }
  const optimizer = createOptimizer(paramGroups(model, loss.module ?? null, cfg), cfg.optim);
  const scheduler: optim.LambdaLR = createSchedule(optimizer, cfg, 20);
  return {
    model,
    loss,
    optimizer,
    scheduler,
    dp: null,
    device,
    dispose() {
      model.dispose();
      loss.module?.dispose();
      optimizer.dispose();
    },
  };
}

/** 20 fixed batches of 8 images (2 per class), the same for both devices. */
function batches(): Batch[] {
  manualSeed(11);
  return Array.from({ length: 20 }, () => ({
    images: tidy(() => rand([8, 3, 16, 16]).data() as Float32Array),
    shape: [8, 3, 16, 16] as [number, number, number, number],
    labels: Int32Array.from([0, 0, 1, 1, 2, 2, 3, 3]),
  }));
}

const paramsOf = (p: StepParts): number[] =>
  tidy(() => p.model.parameters().flatMap((t) => Array.from(t.to('cpu').data() as Float32Array)));

test(
  'one training step on the GPU: the loss, the weights and the proxies on the device, as on the CPU',
  { skip: SKIP },
  () => {
    const bs = batches();
    const cpu = parts('cpu');
    const dev = parts(DEVICE!);
    try {
      assert.equal(dev.model.parameters()[0]!.device, DEVICE);
      for (const p of dev.loss.module?.parameters() ?? []) assert.equal(p.device, DEVICE, 'proxies moved');
      const a = trainStep(cpu, bs[0]!, 1, new PceProbe(cpu.loss, 1000));
      const b = trainStep(dev, bs[0]!, 1, new PceProbe(dev.loss, 1000));
      assert.ok(Math.abs(a.loss - b.loss) <= 1e-4 * Math.max(1, Math.abs(a.loss)), `loss ${a.loss} vs ${b.loss}`);
      assert.equal(a.lr, b.lr);
      const d = maxAbsDiff(paramsOf(cpu), paramsOf(dev));
      assert.ok(d <= 1e-4, `weights after one step differ by ${d}`);
      // The optimiser's state lives with its parameters.
      for (const p of dev.model.parameters()) assert.equal(p.device, DEVICE);
    } finally {
      cpu.dispose();
      dev.dispose();
    }
  },
);

test('20 steps on the GPU follow the CPU run', { skip: SKIP }, () => {
  const bs = batches();
  const run = (device: string): number[] => {
    const p = parts(device);
    try {
      const probe = new PceProbe(p.loss, 1000);
      return bs.map((b, i) => trainStep(p, b, i + 1, probe).loss);
    } finally {
      p.dispose();
    }
  };
  const cpu = run('cpu');
  const dev = run(DEVICE!);
  for (let i = 0; i < cpu.length; i++) {
    // float32 sums in another order compound over the steps: 1e-3 of the loss, not 1e-4 of each op.
    assert.ok(Number.isFinite(dev[i]!), `step ${i + 1}: ${dev[i]}`);
    assert.ok(
      Math.abs(cpu[i]! - dev[i]!) <= 1e-3 * Math.max(1, Math.abs(cpu[i]!)),
      `step ${i + 1}: CPU ${cpu[i]} vs ${DEVICE} ${dev[i]}`,
    );
  }
  assert.ok(cpu[cpu.length - 1]! < cpu[0]!, 'the run learns (the comparison is not of two constant losses)');
});

test(
  'a checkpoint written from the GPU loads on the CPU (and back on the GPU) with the same values',
  { skip: SKIP },
  () => {
    const dev = parts(DEVICE!);
    const file = path.join(dir, 'gpu.safetensors');
    try {
      const sd = dev.model.stateDict();
      saveTensors(file, sd);
      for (const target of ['cpu', DEVICE!]) {
        const { tensors } = loadTensors(file, { format: 'weights' }, { device: target });
        for (const [k, t] of sd) {
          const back = tensors.get(k)!;
          assert.equal(back.device, target, k);
          assert.deepEqual(
            tidy(() => back.to('cpu').tolist()),
            tidy(() => t.to('cpu').tolist()),
            k,
          );
          back.dispose();
        }
      }
    } finally {
      dev.dispose();
    }
  },
);

test('a one-rank NCCL group all-reduces tensors on its GPU', { skip: SKIP }, () => {
  const nccl = DEVICE!.startsWith('cuda');
  if (nccl && !distributed.ProcessGroup.backends().nccl) assert.fail('this CUDA build has no NCCL');
  const g = new distributed.ProcessGroup({
    rank: 0,
    worldSize: 1,
    backend: nccl ? 'nccl' : 'gloo',
    store: { kind: 'file', path: path.join(dir, 'store') },
  });
  try {
    assert.equal(g.device, nccl ? 'cuda:0' : 'cpu');
    const t = tensor([1, 2, 3], { dtype: 'float32', device: g.device });
    g.allReduce(t);
    assert.deepEqual(Array.from(t.to('cpu').data() as Float32Array), [1, 2, 3]);
    assert.deepEqual(g.allReduceNumbers([2, 5]), [2, 5]);
    t.dispose();
  } finally {
    g.barrier();
    g.destroy();
  }
});
