// The device resolver every command shares: what auto picks, what a CUDA request on a build or
// machine without it is told, which backend a job uses, and amp's refusal on the CPU. The CUDA
// facts are passed in, so every branch runs on a CPU-only machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CPU_AMP_REASON,
  DeviceError,
  checkAmp,
  resolveBackend,
  resolveDevice,
  type CudaFacts,
} from '../../../src/ml/train/device.js';
import { buildInfo } from '../../../src/engine/index.js';

const cpuOnly: CudaFacts = { cudaBuilt: false, cudaAvailable: false, cudaDeviceCount: 0 };
const noGpu: CudaFacts = { cudaBuilt: true, cudaAvailable: false, cudaDeviceCount: 0 };
const twoGpus: CudaFacts = { cudaBuilt: true, cudaAvailable: true, cudaDeviceCount: 2 };

test('cpu is the CPU on any build; auto is CUDA only with a GPU visible', () => {
  for (const facts of [cpuOnly, noGpu, twoGpus]) assert.equal(resolveDevice('cpu', { facts }).device, 'cpu');
  assert.deepEqual(resolveDevice('auto', { facts: cpuOnly }), { device: 'cpu', reason: 'device=auto: CPU-only build' });
  assert.deepEqual(resolveDevice('auto', { facts: noGpu }), {
    device: 'cpu',
    reason: 'device=auto: CUDA build, no GPU visible',
  });
  assert.deepEqual(resolveDevice('auto', { facts: twoGpus }), {
    device: 'cuda:0',
    reason: 'device=auto: 2 GPUs visible',
  });
  assert.equal(resolveDevice('cuda', { facts: twoGpus }).device, 'cuda:0');
  assert.equal(resolveDevice('cuda:1', { facts: twoGpus }).device, 'cuda:1');
});

test('a CUDA request this build or machine cannot honour is refused, saying why', () => {
  assert.throws(
    () => resolveDevice('cuda', { facts: cpuOnly }),
    (e: unknown) =>
      e instanceof DeviceError &&
      /^device=cuda: this libtorch has no CUDA; build the addon .*LIBTORCH=/.test(e.message),
  );
  assert.throws(() => resolveDevice('cuda:0', { facts: noGpu }), /device=cuda:0: this libtorch has CUDA but no GPU/);
  assert.throws(
    () => resolveDevice('cuda:2', { facts: twoGpus }),
    /^DeviceError: device=cuda:2: only 2 GPUs are visible \(cuda:0\.\.cuda:1\)$/,
  );
  assert.throws(
    () => resolveDevice('cuda:1', { facts: { ...twoGpus, cudaDeviceCount: 1 } }),
    /only 1 GPU is visible \(cuda:0\)/,
  );
  assert.throws(() => resolveDevice('gpu', { facts: twoGpus, key: '--device' }), /--device=gpu: expected cpu, auto/);
  // This machine's own build: auto always resolves, cuda only where the build has a GPU.
  const here = buildInfo();
  assert.equal(resolveDevice('auto').device, here.cudaAvailable && here.cudaDeviceCount > 0 ? 'cuda:0' : 'cpu');
});

test('in a job each local rank takes cuda:LOCAL_RANK, and needs that many GPUs', () => {
  const job = (localRank: number) => ({ localRank, localWorldSize: 2 });
  assert.equal(resolveDevice('cuda', { facts: twoGpus, job: job(1) }).device, 'cuda:1');
  assert.equal(resolveDevice('auto', { facts: twoGpus, job: job(1) }).device, 'cuda:1');
  assert.equal(resolveDevice('auto', { facts: cpuOnly, job: job(1) }).device, 'cpu');
  assert.throws(
    () => resolveDevice('cuda', { facts: { ...twoGpus, cudaDeviceCount: 1 }, job: job(1) }),
    /local rank 1 needs cuda:1, but only 1 GPU is visible/,
  );
  assert.throws(() => resolveDevice('cuda:0', { facts: twoGpus, job: job(0) }), /each rank uses cuda:LOCAL_RANK/);
});

test('backend auto is NCCL on a GPU and Gloo on the CPU; NCCL on the CPU is refused', () => {
  assert.equal(resolveBackend('auto', 'cpu'), 'gloo');
  assert.equal(resolveBackend('auto', 'cuda:1'), 'nccl');
  assert.equal(resolveBackend('gloo', 'cpu'), 'gloo');
  assert.equal(resolveBackend('nccl', 'cuda:0'), 'nccl');
  assert.throws(() => resolveBackend('nccl', 'cpu'), /distributed\.backend=nccl: NCCL reduces CUDA tensors only/);
  assert.throws(() => resolveBackend('gloo', 'cuda:0'), /reduces GPU tensors with NCCL only/);
  assert.throws(() => resolveBackend('mpi', 'cpu'), /expected auto, gloo or nccl/);
});

test('amp is refused on the CPU with the measured reason, accepted on CUDA', () => {
  assert.equal(checkAmp('off', 'cpu'), 'off');
  for (const amp of ['bf16', 'fp16']) {
    assert.throws(
      () => checkAmp(amp, 'cpu'),
      (e: unknown) =>
        e instanceof DeviceError && e.message.includes(CPU_AMP_REASON) && e.message.startsWith(`amp=${amp}`),
    );
    assert.equal(checkAmp(amp, 'cuda:0'), amp);
  }
  assert.equal(CPU_AMP_REASON, 'bf16 autocast was slower than fp32 on this CPU in PyTorch 2.14 (no AMX)');
  assert.throws(() => checkAmp('fp8', 'cuda:0'), /amp=fp8: expected off, bf16 or fp16/);
});
