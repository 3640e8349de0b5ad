// Worker-thread entry that writes a tiny untrained checkpoint. It runs in its own thread so the
// test's main thread never uses the tensor engine: the engine's native tensor table is not
// thread-safe, and the server's workers use it (see src/server/engine-lock.ts).
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

export interface CheckpointSpec {
  file: string;
  inChannels: 1 | 3;
  imageSize: number;
  numFeatures: number;
  numClasses: number;
  epoch: number;
  seed: number;
}

/** Writes the checkpoint from a worker thread running this file; resolves once it is on disk. */
export async function writeCheckpointInWorker(spec: CheckpointSpec): Promise<void> {
  const w = new Worker(new URL(import.meta.url), { workerData: { kind: 'make-checkpoint', spec } });
  await new Promise<void>((resolve, reject) => {
    let ok = false;
    w.on('message', () => {
      ok = true;
    });
    w.on('error', reject);
    w.on('exit', (c) => (ok ? resolve() : reject(new Error(`checkpoint worker exited with code ${c}`))));
  });
}

if (!isMainThread && workerData && (workerData as { kind?: string }).kind === 'make-checkpoint') {
  const spec = (workerData as { spec: CheckpointSpec }).spec;
  const { manualSeed, dispose } = await import('../../src/engine/index.js');
  const { ResNetEmbedder } = await import('../../src/ml/models/resnet.js');
  const { resolveConfig } = await import('../../src/ml/run/config/resolve.js');
  const { saveCheckpoint } = await import('../../src/ml/run/checkpoint.js');
  manualSeed(spec.seed);
  const config = resolveConfig({
    overrides: [
      'data.kind=folder',
      `data.imageSize=${spec.imageSize}`,
      `data.resize=${spec.imageSize}`,
      'model.arch=resnet18',
      'model.smallInput=true',
      `model.numFeatures=${spec.numFeatures}`,
      'model.normLayer=none',
      'epochs=1',
    ],
  });
  const m = config.model;
  const model = new ResNetEmbedder({
    arch: 'resnet18',
    numClasses: spec.numClasses,
    numFeatures: m.numFeatures,
    normLayer: m.normLayer,
    remap: m.remap,
    dropout: m.dropout,
    detach: m.detach,
    normalize: m.normalize,
    normalizeWeight: m.normalizeWeight,
    setBnEval: m.setBnEval,
    zeroInitResidual: false,
    smallInput: m.smallInput,
    inChannels: spec.inChannels,
    ...(spec.inChannels === 1 ? { mean: [0.286], std: [0.353] } : {}),
  });
  const sd = model.stateDict();
  saveCheckpoint(
    spec.file,
    { model: sd },
    {
      epoch: spec.epoch,
      step: 0,
      bestMetric: 0,
      bestEpoch: spec.epoch,
      scheduler: { lastStep: 0, baseLrs: [] },
      optimizerGroups: [],
      config,
      extra: {},
    },
  );
  dispose(sd);
  model.dispose();
  parentPort!.postMessage('done');
}
