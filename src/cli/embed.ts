// dml embed: images (a path,label list or a folder tree) → an embeddings file.
import { parseArgs } from 'node:util';
import { inferenceRefusal, parseMemoryLimit } from '../ml/run/memory-budget.js';
import { cat, dispose, saveTensors, tensor, type Tensor } from '../engine/index.js';
import { removeStaleTempFiles } from '../engine/serialize/file-io.js';
import { ImageLoader } from '../ml/data/loader.js';
import { UNLABELLED, readFolderImages, readListImages } from '../ml/data/image-files.js';
import { openRun } from '../ml/run/open-run.js';
import { shardRange } from '../ml/eval/index.js';
import type { DeviceChoice } from '../ml/train/device.js';
import { DEVICE_FLAG, DEVICE_HELP, deviceOption, jobBackend } from './device-option.js';
import { LAUNCH_FLAGS, LAUNCH_HELP, launch, parseLaunch, stripLaunchFlags } from './launch.js';
import { joinJob, runInJob, isMainProcess } from './job.js';

const HELP =
  `usage: dml embed --checkpoint FILE|RUN_DIR (--list LIST | --dir DIR) --out FILE.safetensors ` +
  `[--batch 64] [--memory-limit MiB] [--workers N] [--skip-bad] [--quiet]

Writes --out (required), a safetensors file with "features" [N, D] (float32) and "labels" [N]
(int64); its metadata holds the image paths ("paths", JSON) and class names ("classes", JSON) in
the same order. --dir takes a folder of class subfolders, or a flat folder of images without
classes; --list a file of 'path,label' lines, or of bare paths without classes. Images without
classes get the label -1, and "labelled" is "false". A --batch whose estimated working set (the
model's activations at its input size) is over --memory-limit (default: 90% of the machine's
memory) is refused before any image is read.

${DEVICE_HELP}

${LAUNCH_HELP}
  Each rank embeds a contiguous shard of the images; rank 0 writes the file.
`;

export const command = {
  summary: 'embed a list or folder of images with a checkpoint',
  help: HELP,
  async run(argv: string[]): Promise<number> {
    const { values } = parseArgs({
      args: argv,
      options: {
        checkpoint: { type: 'string' },
        list: { type: 'string' },
        dir: { type: 'string' },
        out: { type: 'string' },
        quiet: { type: 'boolean', short: 'q', default: false },
        batch: { type: 'string', default: '64' },
        'memory-limit': { type: 'string' },
        workers: { type: 'string' },
        'skip-bad': { type: 'boolean', default: false },
        ...DEVICE_FLAG,
        help: { type: 'boolean', short: 'h' },
        ...LAUNCH_FLAGS,
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    if (!values.checkpoint || !values.list === !values.dir) {
      console.error(`dml embed: give --checkpoint and exactly one of --list / --dir\n${HELP}`);
      return 2;
    }
    if (!values.out) {
      console.error('dml embed: give --out FILE.safetensors, the file the embeddings are written to');
      return 2;
    }
    const batch = Number(values.batch);
    if (!Number.isInteger(batch) || batch < 1) {
      console.error(`dml embed: --batch must be a positive integer, got ${values.batch}`);
      return 2;
    }
    let memoryLimitMiB: number;
    try {
      memoryLimitMiB = parseMemoryLimit('--memory-limit', values['memory-limit']);
    } catch (e) {
      console.error(`dml embed: ${(e as Error).message}`);
      return 2;
    }
    const launchOpts = parseLaunch(values);
    if (launchOpts) return launch(launchOpts, 'embed', stripLaunchFlags(argv), { timeoutS: 60 });
    const device = deviceOption('embed', values.device, values.quiet);
    if (device === 2) return 2;
    const group = joinJob({ timeoutS: 60, backend: jobBackend(device) });
    return runInJob(group, () =>
      embed(
        { ...values, checkpoint: values.checkpoint!, out: values.out!, batch, device: device.device, memoryLimitMiB },
        group,
      ),
    );
  },
};

async function embed(
  values: {
    checkpoint: string;
    list?: string;
    dir?: string;
    out: string;
    batch: number;
    memoryLimitMiB: number;
    workers?: string;
    'skip-bad': boolean;
    quiet: boolean;
    device: DeviceChoice['device'];
  },
  group: ReturnType<typeof joinJob>,
): Promise<number> {
  const batch = values.batch;
  // A write of the same --out that was killed half-way left its temp file: removed before this one.
  if (isMainProcess(group))
    for (const stale of removeStaleTempFiles(values.out))
      console.error(`note: removed ${stale}, left by an earlier write of ${values.out} that was interrupted`);
  const { samples, classNames, labelled } = values.list ? readListImages(values.list) : readFolderImages(values.dir!);
  const run = openRun(values.checkpoint, {
    group,
    progress: !values.quiet && isMainProcess(group),
    device: values.device,
  });
  const checkpointFile = run.file;
  // Before any image is decoded: a batch whose activations cannot fit is refused, not OOM-killed.
  // Host memory: a GPU holds the activations of a model on the GPU.
  const onCpu = (values.device ?? 'cpu') === 'cpu';
  const refused = onCpu
    ? inferenceRefusal(run, batch, values.memoryLimitMiB, { batch: '--batch', limit: '--memory-limit' })
    : null;
  if (refused) {
    await run.close();
    console.error(`dml embed: ${refused}`);
    return 2;
  }
  const loader = new ImageLoader(samples, {
    pipeline: run.testPipeline(),
    skipBad: values['skip-bad'],
    ...(values.workers !== undefined ? { workers: Number(values.workers) } : {}),
  });
  try {
    // run.embedSet embeds this rank's shard of a job; the rows are gathered below.
    const range = group ? shardRange(samples.length, group.rank, group.worldSize) : { start: 0, end: samples.length };
    const e = await run.embedSet(loader, 'embedding', { batchSize: batch });
    const toFree: Tensor[] = [];
    try {
      if (loader.skipped > 0)
        console.warn(`${group ? `rank ${group.rank}: ` : ''}skipped ${loader.skipped} unreadable images`);
      let keptIndex = Array.from({ length: range.end - range.start }, (_, k) => range.start + k).filter(
        (i) => !loader.bad.has(i),
      );
      let { features, labels } = e;
      if (group) {
        // Rank 0 writes the whole set: every rank's rows, in rank order, and which samples they are.
        const gather = (t: Tensor): Tensor => {
          const parts = group.allGatherVariable(t);
          const all = cat(parts);
          dispose(parts);
          toFree.push(all);
          return all;
        };
        features = gather(features);
        labels = gather(labels);
        keptIndex = gather(tensor(Int32Array.from(keptIndex), { dtype: 'int64' })).dataNumbers();
      }
      if (isMainProcess(group)) {
        const kept = keptIndex.map((i) => samples[i]!);
        if (!labelled) {
          // A flat folder: its images belong to no class.
          labels = tensor(new Int32Array(kept.length).fill(UNLABELLED), { dtype: 'int64' });
          toFree.push(labels);
        }
        // A model that overflows on some images would otherwise write NaN rows and exit 0.
        const flat = features.data() as Float32Array;
        const dim = features.shape[1] ?? 0;
        const bad = kept.filter((_, r) => !flat.subarray(r * dim, (r + 1) * dim).every(Number.isFinite));
        if (bad.length > 0) {
          throw new Error(
            `the embeddings of ${bad.length} image${bad.length > 1 ? 's are' : ' is'} not finite (NaN or infinite), ` +
              `first ${bad[0]!.path}: the model overflows on them; nothing was written`,
          );
        }
        saveTensors(
          values.out,
          new Map([
            ['features', features],
            ['labels', labels],
          ]),
          {
            paths: JSON.stringify(kept.map((s) => s.path)),
            classes: JSON.stringify(classNames),
            labelled: String(labelled),
            checkpoint: checkpointFile,
          },
        );
        console.log(`wrote ${values.out}: ${features.shape[0]} embeddings of dimension ${features.shape[1]}`);
      }
    } finally {
      dispose([e, toFree]);
    }
    return 0;
  } finally {
    await loader.close();
    await run.close();
  }
}
