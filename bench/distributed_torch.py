#!/usr/bin/env python3
"""PyTorch's DistributedDataParallel (Gloo) on the model of dml's fashion-mnist preset, for bench/distributed.

ResNet-18 (1-channel 7x7 stem, max-pool), non-affine BatchNorm1d features, zero-initialised classifier,
label-smoothed CE, SGD Nesterov; global batch 128 of 28x28 images split over the processes. Prints one
JSON line: milliseconds per step and images per second (after warm-up steps), and the time one
all-reduce of the gradients takes on its own.

--overlap no replaces DDP (whose bucket all-reduces overlap the backward pass, through autograd
hooks) with dml's scheme: the same 25 MB buckets, all-reduced after the backward pass. The two
modes side by side say what the overlap is worth on this machine.

  python3 bench/distributed_torch.py --nproc 2 --threads 1 --steps 20 [--overlap no]
"""
import argparse, json, os, socket, time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn
import torch.nn.functional as F
import torchvision


class Embedder(nn.Module):
    def __init__(self, num_classes=5):
        super().__init__()
        net = torchvision.models.resnet18(num_classes=1)
        net.conv1 = nn.Conv2d(1, 64, 7, 2, 3, bias=False)
        net.fc = nn.Identity()
        self.backbone = net
        self.norm = nn.BatchNorm1d(512, affine=False)
        self.classifier = nn.Linear(512, num_classes)
        nn.init.zeros_(self.classifier.weight)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, x):
        return self.classifier(self.norm(self.backbone((x - 0.2860) / 0.3530)))


def smooth_ce(logits, labels, eps=0.1):
    target = torch.full_like(logits, eps / (logits.shape[1] - 1))
    target.scatter_(1, labels.unsqueeze(1), 1 - eps)
    return F.kl_div(torch.log_softmax(logits, 1), target, reduction='none').sum(1).mean()


def worker(rank, world, port, args, out):
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if world > 1:
        dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=world)
    model = Embedder()
    overlap = args.overlap == 'yes'
    ddp = nn.parallel.DistributedDataParallel(model) if world > 1 and overlap else model
    if world > 1 and not overlap:
        for t in list(model.parameters()) + list(model.buffers()):
            dist.broadcast(t.data, 0)
    params = list(model.parameters())
    buckets, cur, size = [], [], 0
    for p in params:
        if cur and size + p.numel() * 4 > 25 * 2**20:
            buckets.append(cur)
            cur, size = [], 0
        cur.append(p)
        size += p.numel() * 4
    if cur:
        buckets.append(cur)
    decay = [p for p in model.parameters() if p.ndim != 1]
    no_decay = [p for p in model.parameters() if p.ndim == 1]
    opt = torch.optim.SGD([{'params': decay}, {'params': no_decay, 'weight_decay': 0}], lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    b = 128 // world
    x = torch.rand(b, 1, 28, 28)
    y = torch.randint(0, 5, (b,))
    t0 = None
    for step in range(args.warmup + args.steps):
        if step == args.warmup:
            if world > 1:
                dist.barrier()
            t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        smooth_ce(ddp(x), y).backward()
        if world > 1 and not overlap:
            for bucket in buckets:
                flat = torch.cat([p.grad.reshape(-1) for p in bucket])
                dist.all_reduce(flat)
                flat.div_(world)
                off = 0
                for p in bucket:
                    p.grad.copy_(flat[off:off + p.numel()].view_as(p.grad))
                    off += p.numel()
        opt.step()
    if world > 1:
        dist.barrier()
    seconds = time.perf_counter() - t0
    allreduce_ms = 0.0
    if world > 1:
        grads = [torch.randn_like(p) for p in model.parameters()]
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        dist.barrier()
        s = time.perf_counter()
        for _ in range(5):
            dist.all_reduce(flat)
        allreduce_ms = (time.perf_counter() - s) / 5 * 1000
        dist.destroy_process_group()
    if rank == 0:
        out.put({'nproc': world, 'threads': args.threads, 'overlap': overlap, 'steps': args.steps, 'ms_per_step': seconds / args.steps * 1000,
                 'images_per_s': 128 * args.steps / seconds, 'allreduce_ms': allreduce_ms,
                 'gradient_mb': sum(p.numel() for p in model.parameters()) * 4 / 2**20})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--nproc', type=int, default=2)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--steps', type=int, default=20)
    ap.add_argument('--warmup', type=int, default=2)
    ap.add_argument('--overlap', choices=['yes', 'no'], default='yes')
    args = ap.parse_args()
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    ctx = mp.get_context('spawn')
    out = ctx.Queue()
    if args.nproc == 1:
        worker(0, 1, port, args, out)
    else:
        mp.spawn(worker, args=(args.nproc, port, args, out), nprocs=args.nproc, join=True)
    print(json.dumps(out.get()))


if __name__ == '__main__':
    main()
