"""bench/data_torchvision: the reference's CUB train / test transforms with torchvision + PIL and a
torch DataLoader, on the JPEGs bench/data.ts generated. Prints one JSON line.
  .cache/python-bench/bin/python bench/data_torchvision.py DIR --workers N --batch B
"""
import argparse
import json
import os
import resource
import sys
import time

try:
    import torch
    from PIL import Image
    from torch.utils.data import DataLoader, Dataset
    from torchvision import transforms as T
except Exception as e:  # noqa: BLE001 - any import failure means: no comparison
    print(json.dumps({'skipped': f'{type(e).__name__}: {e}'}))
    sys.exit(0)


class Files(Dataset):
    def __init__(self, files, transform):
        self.files, self.transform = files, transform

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        return self.transform(Image.open(self.files[i]).convert('RGB')), 0


def cpu_seconds():
    """CPU time of this process and of its waited-for children (the DataLoader's workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def epoch_rate(files, transform, workers, batch):
    """Images/s and CPU ms/image of one shuffled epoch, after a warm-up epoch. Workers are not
    persistent, so each epoch's workers have exited (and been counted) when it ends."""
    def epoch():
        n = 0
        for x, _ in DataLoader(Files(files, transform), batch_size=batch, shuffle=True, num_workers=workers):
            n += x.shape[0]
        return n
    epoch()
    c0, t0 = cpu_seconds(), time.perf_counter()
    n = epoch()
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    return {'images_per_s': n / wall, 'cpu_ms_per_image': 1000 * cpu / n}


def sequential_rate(files, transform, seconds=3.0):
    """One image at a time on one thread: cost per image, no parallelism."""
    n, c0, t0 = 0, time.process_time(), time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        transform(Image.open(files[n % len(files)]).convert('RGB'))
        n += 1
    return {'images_per_s': n / (time.perf_counter() - t0), 'cpu_ms_per_image': 1000 * (time.process_time() - c0) / n}


def main():
    p = argparse.ArgumentParser()
    p.add_argument('dir')
    p.add_argument('--workers', type=int, default=2)
    p.add_argument('--batch', type=int, default=32)
    a = p.parse_args()
    torch.set_num_threads(1)
    files = sorted(os.path.join(a.dir, f) for f in os.listdir(a.dir) if f.endswith('.jpg'))
    train = T.Compose([T.Resize(256), T.ColorJitter(0.25, 0.25, 0.25, 0),
                       T.RandomResizedCrop(224, scale=(0.16, 1), ratio=(3 / 4, 4 / 3)),
                       T.RandomHorizontalFlip(), T.ToTensor()])
    test = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor()])
    # The Cars-196 train transform: square resize and a hue jitter (PIL's slowest colour step).
    cars = T.Compose([T.Resize((256, 256)), T.ColorJitter(0.3, 0.3, 0.3, 0.1),
                      T.RandomResizedCrop(224, scale=(0.16, 1), ratio=(1, 1)),
                      T.RandomHorizontalFlip(), T.ToTensor()])
    print(json.dumps({
        'torch': torch.__version__,
        'train_loader': epoch_rate(files, train, a.workers, a.batch),
        'test_loader': epoch_rate(files, test, a.workers, a.batch),
        'train_sequential': sequential_rate(files, train),
        'test_sequential': sequential_rate(files, test),
        'cars_train_sequential': sequential_rate(files, cars),
    }))


if __name__ == '__main__':
    main()
