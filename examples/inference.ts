// Open a trained run, embed images and search them (pytorch-metric-learning's InferenceModel).
import { openRun } from 'dml-ts';

const [runDir = 'runs/fashion-mnist', ...images] = process.argv.slice(2);
const run = openRun(runDir); // a run folder (its best checkpoint) or a checkpoint file
try {
  const report = await run.evaluate(); // Recall@K on the held-out classes, as dml eval
  console.log(`epoch ${run.epoch}: R@1 ${report.recall.cosine['1']?.toFixed(2)} %`);
  if (images.length > 1) {
    const z = await run.embed(images); // [N, D]: read, resized and cropped as at test time
    const { indices } = run.search(z, z, 2); // each image's nearest (itself first) and next
    images.forEach((f, i) => console.log(`${f} → ${images[indices[2 * i + 1]!]}`));
    z.dispose();
  }
} finally {
  await run.close();
}
