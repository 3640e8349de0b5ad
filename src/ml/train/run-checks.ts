// What a run's shape says before it starts: epochs too short for the schedule and the evaluation to
// mean much, images the drop-last sampler leaves out, and test classes that are not unseen. Each is a
// warning, said once, in words a user can act on; none stops the run.
import type { ClassNames } from '../run/datasets/spec.js';

/** Fewer steps than this per epoch make per-epoch evaluation and the schedule's shape coarse. */
export const FEW_STEPS = 5;
/** The share of the training images the incomplete last batch may leave out before it is said. */
export const DROPPED_SHARE = 0.05;

/** Warnings about the steps of a run of `images` training images in `batchesPerEpoch` full batches. */
export function stepWarnings(o: { images: number; batchSize: number; batchesPerEpoch: number }): string[] {
  const out: string[] = [];
  const { images, batchSize, batchesPerEpoch } = o;
  if (batchesPerEpoch < FEW_STEPS)
    out.push(
      `an epoch is only ${batchesPerEpoch} step${batchesPerEpoch === 1 ? '' : 's'} (${images} training images, ` +
        `batchSize ${batchSize}): a smaller batchSize gives the optimiser more steps per pass over the data`,
    );
  const dropped = images - batchesPerEpoch * batchSize;
  if (dropped > 0 && dropped >= DROPPED_SHARE * images)
    out.push(
      `each epoch leaves out ${dropped} of the ${images} training images ` +
        `(${((100 * dropped) / images).toFixed(0)}%): ` +
        `batches are full (drop-last), so the incomplete last one is not trained on (a different ${dropped} each ` +
        `epoch, as the order is shuffled); a batchSize dividing ${images} trains on all of them`,
    );
  return out;
}

/** The classes the training and test splits share, by name (the protocol wants none). */
export function sharedClasses(names: ClassNames): string[] {
  const train = new Set(names.train);
  return names.test.filter((n) => train.has(n));
}

/** The warning for shared classes, or null when the test classes are all unseen. */
export function sharedClassesWarning(names: ClassNames): string | null {
  const shared = sharedClasses(names);
  if (shared.length === 0) return null;
  const listed = shared.slice(0, 5).join(', ') + (shared.length > 5 ? `, … (${shared.length} in all)` : '');
  return (
    `${shared.length} of the ${names.test.length} test classes are also training classes (${listed}): Recall@K ` +
    'then measures retrieval of classes the model was trained on, not of unseen ones; for the zero-shot ' +
    'protocol give data.test classes that data.train lacks'
  );
}

/**
 * The warning for a machine other jobs keep busy: its 1-minute load average at least its cores, while
 * one process trains on several threads. Each step then waits for a thread whose core another job
 * holds. The engine made OpenMP's threads passive for this when it loaded (unless the user set
 * OMP_WAIT_POLICY or GOMP_SPINCOUNT); one thread can still be faster for a small model (bench/threads:
 * small CNN 1,219 img/s on 1 thread, 1,085 on 2 passive ones; ResNet-18 25 against 34). Not said for a
 * multi-process job, whose own ranks make the load.
 */
export function busyMachineWarning(o: {
  threads: number;
  load: number;
  cores: number;
  processes: number;
}): string | null {
  if (o.threads <= 1 || o.processes > 1 || !(o.load >= o.cores)) return null;
  return (
    `the machine is busy (load average ${o.load.toFixed(1)} on ${o.cores} cores): ${o.threads} threads wait for ` +
    `each other's cores while other jobs hold them; for a small model threads=1 can be faster ` +
    `(README: "Threads on a busy machine")`
  );
}
