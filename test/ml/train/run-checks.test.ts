// A run's shape is said before it starts: the warm-up fits the run, short epochs, dropped images and
// test classes that are training classes get a warning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WARMUP_STEPS, warmupSteps } from '../../../src/ml/train/optimizer.js';
import {
  busyMachineWarning,
  sharedClasses,
  sharedClassesWarning,
  stepWarnings,
} from '../../../src/ml/train/run-checks.js';

test("the warm-up is the paper's 100 steps, capped at a quarter of the run; the default run keeps 100", () => {
  // Fashion-MNIST's default preset: 30000 training images of classes 0-4, batch 128 (drop-last), 2 epochs.
  const defaultRun = 2 * Math.floor(30000 / 128);
  assert.equal(defaultRun, 468);
  assert.equal(warmupSteps(defaultRun), WARMUP_STEPS);
  // The paper's CUB run (5864 images, batch 128, 30 epochs) too.
  assert.equal(warmupSteps(30 * Math.floor(5864 / 128)), 100);
  // A short run reaches its lr: 10 steps warm up over 2, not over 100 (which would peak at a tenth of it).
  assert.deepEqual([10, 1, 3, 400, 401].map(warmupSteps), [2, 1, 1, 100, 100]);
});

test('short epochs and images left out by the last batch are said; full batches of enough steps are not', () => {
  assert.deepEqual(stepWarnings({ images: 30000, batchSize: 128, batchesPerEpoch: 234 }), []);
  const [few, dropped] = stepWarnings({ images: 18, batchSize: 8, batchesPerEpoch: 2 });
  assert.match(few!, /^an epoch is only 2 steps \(18 training images, batchSize 8\)/);
  assert.match(dropped!, /^each epoch leaves out 2 of the 18 training images \(11%\)/);
  assert.deepEqual(stepWarnings({ images: 60, batchSize: 10, batchesPerEpoch: 6 }), []);
});

test('test classes that are training classes are named; unseen ones are not', () => {
  assert.deepEqual(sharedClasses({ train: ['cat', 'dog', 'owl'], test: ['ant', 'dog', 'cat'] }), ['dog', 'cat']);
  assert.equal(sharedClassesWarning({ train: ['cat'], test: ['ant'] }), null);
  assert.match(
    sharedClassesWarning({ train: ['cat', 'dog'], test: ['dog', 'bee'] })!,
    /^1 of the 2 test classes are also training classes \(dog\): Recall@K then measures retrieval of classes the/,
  );
});

test('a busy machine (load ≥ cores) gets a warning naming threads=1, unless it is one thread or a job', () => {
  const w = busyMachineWarning({ threads: 2, load: 3.5, cores: 2, processes: 1 });
  assert.ok(w, 'warned');
  assert.match(w, /load average 3\.5 on 2 cores/);
  assert.match(w, /threads=1/);
  assert.equal(busyMachineWarning({ threads: 2, load: 2, cores: 2, processes: 1 }) !== null, true);
  assert.equal(busyMachineWarning({ threads: 2, load: 1.9, cores: 2, processes: 1 }), null);
  assert.equal(busyMachineWarning({ threads: 1, load: 8, cores: 2, processes: 1 }), null);
  assert.equal(busyMachineWarning({ threads: 2, load: 8, cores: 4, processes: 2 }), null);
  // A platform without load averages (os.loadavg() is [0, 0, 0] on Windows) and a bad reading say nothing.
  assert.equal(busyMachineWarning({ threads: 4, load: 0, cores: 4, processes: 1 }), null);
  assert.equal(busyMachineWarning({ threads: 4, load: NaN, cores: 4, processes: 1 }), null);
});
