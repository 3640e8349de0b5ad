// dml export --onnx: the embedding model (BatchNorm folded) as ONNX, for onnxruntime-node/-web.
import { parseArgs } from 'node:util';
import { openRun } from '../ml/run/open-run.js';
import { describePreprocessing, exportOnnx, saveOnnx } from '../ml/export/index.js';
import { nativeSideOf } from '../ml/run/pipelines.js';
import { MAX_MODEL_INPUT_SIDE } from '../ml/data/limits.js';
import { removeStaleTempFiles } from '../engine/serialize/file-io.js';

const HELP =
  `usage: dml export [--onnx] --checkpoint FILE|RUN_DIR [--out model.onnx] [--size H] [--logits] [--opset ` +
  `17] [--quiet]

Writes (ONNX, the only format and the default) the embedding model in eval mode with every BatchNorm folded: input ` +
  `"images" float32
[N, C, H, W] in [0, 1] (mean/std normalisation inside the graph), output "features" (and "logits"
with --logits). Run it in browsers with onnxruntime-web or in Node with onnxruntime-node.
After writing it prints the preprocessing dml embed and dml serve apply to an image before the
model (decoding, resize rule and filter, crop, channels, layout, normalisation): give the ONNX
model images prepared the same way to get the same embeddings.
The export always runs on the CPU (there is no --device): the graph is built from the checkpoint's
CPU tensors, and the ONNX file runs wherever onnxruntime runs it.
`;

export const command = {
  summary: 'export a checkpoint to ONNX',
  help: HELP,
  async run(argv: string[]): Promise<number> {
    const { values } = parseArgs({
      args: argv,
      options: {
        onnx: { type: 'boolean', default: true },
        checkpoint: { type: 'string' },
        out: { type: 'string', default: 'model.onnx' },
        size: { type: 'string' },
        logits: { type: 'boolean', default: false },
        opset: { type: 'string', default: '17' },
        quiet: { type: 'boolean', short: 'q', default: false },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    if (!values.checkpoint) {
      console.error('dml export: --checkpoint is required\n' + HELP);
      return 2;
    }
    // A write of the same --out that was killed half-way left its temp file: removed before this one.
    for (const stale of removeStaleTempFiles(values.out))
      console.error(`note: removed ${stale}, left by an earlier write of ${values.out} that was interrupted`);
    const run = openRun(values.checkpoint);
    const { model, config } = run;
    try {
      const size = values.size ? Number(values.size) : (nativeSideOf(config) ?? config.data.imageSize);
      if (!Number.isInteger(size) || size < 8 || size > MAX_MODEL_INPUT_SIDE)
        throw new Error(`--size must be an integer in 8..${MAX_MODEL_INPUT_SIDE}, got ${values.size}`);
      const bytes = exportOnnx(model, {
        inputShape: [model.options.inChannels, size, size],
        output: values.logits ? 'both' : 'features',
        opset: Number(values.opset),
      });
      saveOnnx(values.out, bytes);
      if (!values.quiet)
        console.log(
          `wrote ${values.out} (${(bytes.length / 1e6).toFixed(1)} MB): input images [N,${model.options.inChannels},` +
            `${size},${size}], output ${values.logits ? 'features, logits' : 'features'}`,
        );
      if (!values.quiet) {
        const { mean, std } = model.options;
        const lines = describePreprocessing(run.testPipeline(), { mean, std }, size);
        console.log(`preprocessing (what dml embed and dml serve do to an image before the model):`);
        for (const l of lines) console.log(`  ${l}`);
      }
      return 0;
    } finally {
      await run.close();
    }
  },
};
