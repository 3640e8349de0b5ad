// Worker-thread entry of the image loader: builds each job's pipeline from its spec (once per
// distinct spec) and runs the job.
import { parentPort, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import { runJob, type Job } from './job.js';
import { Pipeline, type PipelineSpec } from './pipeline.js';

interface WorkerInit {
  sharpThreads: number;
}

const init = workerData as WorkerInit;
// Each image is seen once per epoch, so libvips' operation cache only costs memory; one libvips
// thread per image since parallelism comes from the workers. (Both settings are process-wide.)
sharp.cache(false);
sharp.concurrency(init.sharpThreads);
const pipelines = new Map<string, Pipeline>();
const port = parentPort!;

port.on('message', (job: Job) => {
  let pipeline = pipelines.get(job.pipeline);
  if (!pipeline) {
    try {
      pipeline = Pipeline.fromSpec(JSON.parse(job.pipeline) as PipelineSpec);
    } catch (e) {
      port.postMessage({ id: job.id, ok: false, message: `bad pipeline spec: ${(e as Error).message}` });
      return;
    }
    pipelines.set(job.pipeline, pipeline);
  }
  void runJob(pipeline, job).then((r) => {
    port.postMessage(r, r.ok && !r.inSlot ? [r.data.buffer as ArrayBuffer] : []);
  });
});
