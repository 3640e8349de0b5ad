#!/usr/bin/env python3
"""The PyTorch side of bench/gpu.ts: ResNet-50 and ViT-S/16 training steps per second at 224 px.

    python bench/gpu_torch.py DEVICE BATCH STEPS WARMUP PRECISIONS

PRECISIONS is fp32, bf16 or fp32,bf16 (bf16: torch.autocast on CUDA, the loss in float32). The
models are torchvision's when it is installed, else the same layers written here (the GPU machine's
Python may have torch alone). SGD with momentum 0.9 and weight decay 5e-4, as bench/models.ts.
Prints one JSON line: {resnet50_fp32: steps/s, ..., torch, device_name}.
"""

import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

try:
    import torchvision
except ImportError:
    torchvision = None


class Bottleneck(nn.Module):
    def __init__(self, inp, width, stride):
        super().__init__()
        out = width * 4
        self.conv1 = nn.Conv2d(inp, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.down = (nn.Sequential(nn.Conv2d(inp, out, 1, stride, bias=False), nn.BatchNorm2d(out))
                     if stride != 1 or inp != out else None)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)), inplace=True)
        y = F.relu(self.bn2(self.conv2(y)), inplace=True)
        y = self.bn3(self.conv3(y))
        return F.relu(y + (self.down(x) if self.down is not None else x), inplace=True)


def resnet50():
    if torchvision is not None:
        return torchvision.models.resnet50()
    layers, inp = [], 64
    for li, count in enumerate([3, 4, 6, 3]):
        for b in range(count):
            layers.append(Bottleneck(inp, 64 * 2 ** li, 2 if b == 0 and li > 0 else 1))
            inp = 64 * 2 ** li * 4
    return nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
                         nn.MaxPool2d(3, 2, 1), *layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(inp, 1000))


class VitS16(nn.Module):
    """ViT-S/16 at 224 px: torchvision's VisionTransformer layout (pre-norm blocks, class token)."""

    def __init__(self):
        super().__init__()
        self.patch = nn.Conv2d(3, 384, 16, 16)
        self.cls = nn.Parameter(torch.zeros(1, 1, 384))
        self.pos = nn.Parameter(torch.randn(1, 197, 384) * 0.02)
        layer = nn.TransformerEncoderLayer(384, 6, 1536, dropout=0.0, activation='gelu', batch_first=True,
                                           norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, 12, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(384, eps=1e-6)
        self.head = nn.Linear(384, 1000)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
        return self.head(self.norm(self.blocks(x))[:, 0])


def vits16():
    if torchvision is not None:
        return torchvision.models.VisionTransformer(image_size=224, patch_size=16, num_layers=12, num_heads=6,
                                                    hidden_dim=384, mlp_dim=1536)
    return VitS16()


def steps_per_second(make, device, batch, steps, warmup, precision):
    torch.manual_seed(0)
    model = make().to(device).train()
    x = torch.randn(batch, 3, 224, 224, device=device)
    y = torch.randint(0, 1000, (batch,), device=device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

    def step():
        with torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16,
                            enabled=precision == 'bf16'):
            out = model(x)
        loss = F.cross_entropy(out.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()  # synchronises, as the TS side's item()

    for _ in range(warmup):
        step()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return steps / (time.perf_counter() - t)


def main():
    device, batch, steps, warmup, precisions = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), \
        sys.argv[5].split(',')
    out = {'torch': torch.__version__,
           'device_name': torch.cuda.get_device_name(device) if device.startswith('cuda') else 'cpu'}
    for name, make in [('resnet50', resnet50), ('vits16', vits16)]:
        for p in precisions:
            out[f'{name}_{p}'] = steps_per_second(make, device, batch, steps, warmup, p)
            print(f'PyTorch {name} {p}: {out[f"{name}_{p}"]:.2f} steps/s', file=sys.stderr)
    print(json.dumps(out))


if __name__ == '__main__':
    main()
