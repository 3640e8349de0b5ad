// The TypeScript side of bench/parity (a child process so both sides start from a cold process).
//   node dist/bench/parity_ts.js EPOCHS THREADS BENCH_STEPS OUT_DIR
import { resolveConfig } from '../src/ml/run/config/resolve.js';
import { openDatasets } from '../src/ml/run/datasets/index.js';
import { Trainer } from '../src/ml/train/trainer.js';
import { trainerDeps } from '../src/ml/train/wiring.js';
import { tensor, tidy } from '../src/engine/index.js';

const [epochs = '3', threads = '2', benchSteps = '0', out = 'runs/parity'] = process.argv.slice(2);
const cfg = resolveConfig({
  preset: 'fashion-mnist-parity',
  overrides: [`epochs=${epochs}`, `threads=${threads}`, `out=${out}`],
});
const { train, test } = await openDatasets(cfg);
const trainer = new Trainer(cfg, train, test, { ...trainerDeps, log: (l) => console.error(l) });

if (Number(benchSteps) > 0) {
  // Same protocol as the baseline's --bench-steps: one fixed batch, 3 warm-up steps, then timing.
  const idx = Array.from({ length: cfg.batchSize }, (_, i) => i);
  const b = await train.load(idx, 0, 0);
  const step = (): void =>
    tidy(() => {
      const l = trainer.loss.compute(
        trainer.model.forward(tensor(b.images, { shape: b.shape })),
        tensor(b.labels, { dtype: 'int64' }),
      );
      trainer.optimizer.zeroGrad();
      l.backward();
      trainer.optimizer.step();
      trainer.scheduler.step();
      l.item();
    });
  trainer.model.train();
  for (let i = 0; i < 3; i++) step();
  const t0 = performance.now();
  for (let i = 0; i < Number(benchSteps); i++) step();
  const ms = (performance.now() - t0) / Number(benchSteps);
  console.log(
    JSON.stringify({
      impl: 'dml-ts',
      batch: cfg.batchSize,
      ms_per_step: Number(ms.toFixed(1)),
      images_per_s: Number(((cfg.batchSize / ms) * 1000).toFixed(1)),
    }),
  );
} else {
  const t0 = performance.now();
  const r = await trainer.run();
  console.log(
    JSON.stringify({
      impl: 'dml-ts',
      train_images_per_s: Number(r.trainImagesPerSecond.toFixed(1)),
      wall_s: Number(((performance.now() - t0) / 1000).toFixed(1)),
      final_recall: r.last?.recall,
    }),
  );
}
trainer.dispose();
