// dml embed: images (a path,label list or a folder tree) → an embeddings file.
import { parseArgs } from 'node:util';
import { cat, dispose, saveTensors, tensor, type Tensor } from '../engine/index.js';
import { ImageLoader } from '../ml/data/loader.js';
import { readImageFolder, readList } from '../ml/data/list.js';
import { openRun } from '../ml/run/open-run.js';
import { shardRange } from '../ml/eval/index.js';
import { LAUNCH_FLAGS, LAUNCH_HELP, launch, parseLaunch, stripLaunchFlags } from './launch.js';
import { joinJob, runInJob, isMainProcess } from './job.js';

const HELP =
  `usage: dml embed --checkpoint FILE|RUN_DIR (--list LIST | --dir DIR) [--out embeddings.safetensors] ` +
  `[--batch 64] [--workers N] [--skip-bad] [--quiet]

Writes a safetensors file with "features" [N, D] (float32) and "labels" [N] (int64); its metadata
holds the image paths ("paths", JSON) and class names ("classes", JSON) in the same order.

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
        out: { type: 'string', default: 'embeddings.safetensors' },
        quiet: { type: 'boolean', short: 'q', default: false },
        batch: { type: 'string', default: '64' },
        workers: { type: 'string' },
        'skip-bad': { type: 'boolean', default: false },
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
    const batch = Number(values.batch);
    if (!Number.isInteger(batch) || batch < 1) {
      console.error(`dml embed: --batch must be a positive integer, got ${values.batch}`);
      return 2;
    }
    const launchOpts = parseLaunch(values);
    if (launchOpts) return launch(launchOpts, 'embed', stripLaunchFlags(argv), { timeoutS: 60 });
    const group = joinJob({ timeoutS: 60 });
    return runInJob(group, () => embed({ ...values, checkpoint: values.checkpoint!, batch }, group));
  },
};

async function embed(
  values: {
    checkpoint: string;
    list?: string;
    dir?: string;
    out: string;
    batch: number;
    workers?: string;
    'skip-bad': boolean;
    quiet: boolean;
  },
  group: ReturnType<typeof joinJob>,
): Promise<number> {
  const batch = values.batch;
  const { samples, classNames } = values.list ? readList(values.list) : readImageFolder(values.dir!);
  const run = openRun(values.checkpoint, { group, progress: !values.quiet && isMainProcess(group) });
  const checkpointFile = run.file;
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
