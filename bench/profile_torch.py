#!/usr/bin/env python3
"""The PyTorch side of bench/profile.ts: one training step per model under libtorch's profiler.

Run by `node dist/bench/profile.js` with the venv of scripts/python-bench-env.sh:

    .cache/python-bench/bin/python bench/profile_torch.py THREADS WARMUP STEPS

For the small CNN (batch 32) and ResNet-18 at 28x28x1 (batch 128) of bench/engine_torch.py, runs
WARMUP training steps (forward, cross-entropy, zero_grad(set_to_none=True), backward, SGD step,
loss.item(), as make_step does), then profiles each of STEPS more with
torch.autograd.profiler_legacy.profile() (the same legacy autograd profiler the addon's
profilerStart/profilerStop wrap) and prints one JSON line:
{threads, torch, models: {name: {step_ms: [...], steps: [[{name, calls, cpuTotalUs, selfCpuUs}]]}}},
one list of ops per profiled step, aggregated per name by key_averages().
"""

import json
import os
import sys
import time

import torch
from torch.autograd import profiler_legacy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from engine_torch import make_step, resnet18_28px, small_cnn  # noqa: E402


def profile_steps(step, warmup, steps):
    for _ in range(warmup):
        step()
    out = {'step_ms': [], 'steps': []}
    for _ in range(steps):
        t = time.perf_counter()
        with profiler_legacy.profile() as p:
            step()
        out['step_ms'].append((time.perf_counter() - t) * 1e3)
        out['steps'].append([
            {'name': e.key, 'calls': e.count, 'cpuTotalUs': e.cpu_time_total, 'selfCpuUs': e.self_cpu_time_total}
            for e in p.key_averages()
        ])
    return out


def main():
    threads, warmup, steps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    out = {'threads': torch.get_num_threads(), 'torch': torch.__version__, 'models': {}}

    x = torch.randn(32, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (32,), generator=g)
    out['models']['cnn'] = profile_steps(make_step(small_cnn(), x, y), warmup, steps)

    x = torch.randn(128, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (128,), generator=g)
    out['models']['resnet18'] = profile_steps(make_step(resnet18_28px(), x, y), warmup, steps)

    print(json.dumps(out))


if __name__ == '__main__':
    main()
