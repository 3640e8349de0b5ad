#!/usr/bin/env python3
"""The PyTorch side of bench/eval.ts: leave-one-out Recall@K by chunked matmul + topk.

Run by `node dist/bench/eval.js` with the venv of scripts/python-bench-env.sh (PyTorch 2.14.1):

    .cache/python-bench/bin/python bench/eval_torch.py X.f32 Y.i64 N D KS THREADS ROWS METRIC

X.f32 is N x D raw float32 (row-major), Y.i64 N raw int64 labels, KS a comma list, ROWS the
queries per chunk (the same as the TypeScript side uses), METRIC cosine or l2. Prints one JSON
line: seconds (evaluation only, file loading excluded), cpuSeconds (user + system CPU time of
the evaluation, all threads), recall, maxRssMB (peak resident memory of this process, data
included).

This is the usual research-code implementation (normalise once, then per chunk: scores, mask the
query itself, topk, label lookup), written as one would for speed in PyTorch.
"""

import json
import resource
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def main():
    xp, yp, n, d, ks, threads, rows, metric = sys.argv[1:9]
    n, d, threads, rows = int(n), int(d), int(threads), int(rows)
    ks = [int(k) for k in ks.split(',')]
    torch.set_num_threads(threads)
    x = torch.from_numpy(np.fromfile(xp, dtype=np.float32).reshape(n, d))
    labels = torch.from_numpy(np.fromfile(yp, dtype=np.int64))
    kmax = max(ks)
    t0 = time.perf_counter()
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    with torch.no_grad():
        if metric == 'cosine':
            g = F.normalize(x, dim=1)
            sq = None
        else:
            g = x
            sq = x.square().sum(1)
        gt = g.T
        hits = torch.zeros(len(ks), dtype=torch.int64)
        for s in range(0, n, rows):
            r = min(rows, n - s)
            q = g[s:s + r]
            if metric == 'cosine':
                scores = q @ gt
            else:
                scores = torch.addmm(sq.unsqueeze(0), q, gt, beta=-1, alpha=2)  # 2 q.g - |g|^2
            scores[torch.arange(r), torch.arange(s, s + r)] = -float('inf')
            idx = scores.topk(kmax, dim=1).indices
            match = labels[idx] == labels[s:s + r].unsqueeze(1)
            first = torch.where(match.any(1), match.float().argmax(1), torch.full((r,), kmax))
            for i, k in enumerate(ks):
                hits[i] += int((first < k).sum())
    seconds = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    recall = {str(k): float(hits[i]) / n for i, k in enumerate(ks)}
    print(json.dumps({'seconds': seconds, 'cpuSeconds': cpu, 'recall': recall,
                      'maxRssMB': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == '__main__':
    main()
