// dml embed: images (a path,label list or a folder tree) → an embeddings file.
import { parseArgs } from 'node:util';
import { dispose, saveTensors } from '../engine/index.js';
import { ImageLoader } from '../ml/data/loader.js';
import { readImageFolder, readList } from '../ml/data/list.js';
import { loadEmbedder } from '../ml/train/load.js';
import { embedSource } from '../ml/train/embed.js';
import { testPipelineFor } from '../ml/train/pipelines.js';

const HELP = `usage: dml embed --checkpoint FILE (--list LIST | --dir DIR) [--out embeddings.safetensors] [--batch 64] [--workers N] [--skip-bad]

Writes a safetensors file with "features" [N, D] (float32) and "labels" [N] (int64); its metadata
holds the image paths ("paths", JSON) and class names ("classes", JSON) in the same order.
`;

export const command = {
  summary: 'embed a list or folder of images with a checkpoint',
  async run(argv: string[]): Promise<number> {
    const { values } = parseArgs({
      args: argv,
      options: {
        checkpoint: { type: 'string' }, list: { type: 'string' }, dir: { type: 'string' }, out: { type: 'string', default: 'embeddings.safetensors' },
        batch: { type: 'string', default: '64' }, workers: { type: 'string' }, 'skip-bad': { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) { console.log(HELP); return 0; }
    if (!values.checkpoint || (!values.list === !values.dir)) { console.error(`dml embed: give --checkpoint and exactly one of --list / --dir\n${HELP}`); return 2; }
    const batch = Number(values.batch);
    if (!Number.isInteger(batch) || batch < 1) { console.error(`dml embed: --batch must be a positive integer, got ${values.batch}`); return 2; }
    const { samples, classNames } = values.list ? readList(values.list) : readImageFolder(values.dir!);
    const { model, config } = loadEmbedder(values.checkpoint);
    const loader = new ImageLoader(samples, {
      pipeline: testPipelineFor(config, model.options.inChannels), skipBad: values['skip-bad'],
      ...(values.workers !== undefined ? { workers: Number(values.workers) } : {}),
    });
    try {
      const e = await embedSource(model, loader, batch);
      try {
        if (loader.skipped > 0) console.warn(`skipped ${loader.skipped} unreadable images`);
        const kept = samples.filter((_, i) => !loader.bad.has(i));
        saveTensors(values.out, new Map([['features', e.features], ['labels', e.labels]]), {
          paths: JSON.stringify(kept.map((s) => s.path)), classes: JSON.stringify(classNames), checkpoint: values.checkpoint,
        });
        console.log(`wrote ${values.out}: ${e.features.shape[0]} embeddings of dimension ${e.features.shape[1]}`);
      } finally {
        dispose(e);
      }
      return 0;
    } finally {
      await loader.close();
      model.dispose();
    }
  },
};
