// Training steps per second on one GPU, TS against the machine's own PyTorch in the same run:
// ResNet-50 (224 px) and ViT-S/16 (224 px), batch 64, float32 and bf16 autocast, SGD with momentum
// and cross-entropy (bench/models.ts; bench/gpu_torch.py is the PyTorch twin). Run by
// bench/gpu-check.sh on the GPU machine:
//
//   node dist/bench/gpu.js --python PY [--device cuda:0] [--batch 64] [--steps 10] [--warmup 3] [--json FILE]
//
// --dry-run: the same steps on the CPU at batch 1, one warm-up and one step, fp32 only (checks the
// bench itself, not a measurement).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  type Tensor,
  autocast,
  describeBuild,
  manualSeed,
  nn,
  optim,
  randint,
  randn,
  tidy,
} from '../src/engine/index.js';
import { ResNet, VitSmall } from './models.js';
import { runPythonJson } from './python.js';

const F = nn.functional;
const here = path.dirname(fileURLToPath(import.meta.url));

const { values } = parseArgs({
  options: {
    python: { type: 'string', default: 'python3' },
    device: { type: 'string', default: 'cuda:0' },
    batch: { type: 'string', default: '64' },
    steps: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    json: { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
  },
});
const dry = values['dry-run'];
const device = dry ? 'cpu' : values.device;
const batch = dry ? 1 : Number(values.batch);
const steps = dry ? 1 : Number(values.steps);
const warmup = dry ? 1 : Number(values.warmup);
for (const [k, v] of [
  ['batch', batch],
  ['steps', steps],
  ['warmup', warmup],
] as const)
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`--${k} must be a positive integer, got ${v}`);
const precisions: ('fp32' | 'bf16')[] = dry ? ['fp32'] : ['fp32', 'bf16'];
const MODELS = { resnet50: () => new ResNet('bottleneck', [3, 4, 6, 3], 3, 1000, false), vits16: () => new VitSmall() };

/** Steps per second of one model at one precision; loss.item() ends each step, so the GPU is synchronised. */
function stepsPerSecond(make: () => nn.Module, precision: 'fp32' | 'bf16'): number {
  manualSeed(0);
  const model = make().to(device);
  model.train();
  const x = randn([batch, 3, 224, 224]).to(device);
  const y = randint(0, 1000, [batch]).to(device);
  const opt = new optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
  const forward = (): Tensor =>
    precision === 'bf16' ? autocast('bfloat16', () => model.forward(x)).float() : model.forward(x);
  const step = (): number =>
    tidy(() => {
      const loss = tidy(() => F.crossEntropy(forward(), y));
      opt.zeroGrad();
      loss.backward();
      opt.step();
      return loss.item();
    });
  try {
    for (let i = 0; i < warmup; i++) step();
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) step();
    return steps / ((performance.now() - t0) / 1000);
  } finally {
    opt.dispose();
    model.dispose();
    x.dispose();
    y.dispose();
  }
}

type Results = Record<string, number>;
const ts: Results = {};
for (const [name, make] of Object.entries(MODELS))
  for (const p of precisions) {
    ts[`${name}_${p}`] = stepsPerSecond(make, p);
    console.error(`TS ${name} ${p}: ${ts[`${name}_${p}`]!.toFixed(2)} steps/s`);
  }
const py = runPythonJson<Results & { torch: string; device_name: string }>(
  values.python,
  path.resolve(here, '../../bench/gpu_torch.py'),
  [device, String(batch), String(steps), String(warmup), precisions.join(',')],
);
const rows = Object.keys(ts).map((k) => ({ key: k, ts: ts[k]!, torch: py[k] ?? NaN, ratio: ts[k]! / (py[k] ?? NaN) }));
console.log(
  `${describeBuild()}; PyTorch ${py.torch} on ${py.device_name}; batch ${batch}, ${steps} steps after ${warmup}`,
);
console.log('training steps/s            TS    PyTorch   TS/PyTorch');
for (const r of rows)
  console.log(
    `${r.key.padEnd(22)} ${r.ts.toFixed(2).padStart(8)} ${r.torch.toFixed(2).padStart(10)} ` +
      r.ratio.toFixed(2).padStart(12),
  );
if (values.json)
  writeFileSync(values.json, JSON.stringify({ device, batch, steps, warmup, dry, ts, torch: py }, null, 2));
