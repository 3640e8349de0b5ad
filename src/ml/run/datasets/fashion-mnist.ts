// Fashion-MNIST (the Debian package's IDX files, or data.root): train on classes 0-4, test on the
// unseen classes 5-9, in memory with the shared baseline's pad-crop-flip augmentation.
import { FASHION_MNIST_CLASSES, findFashionMnist, loadIdxSplit } from '../../data/idx.js';
import type { TrainConfig } from '../config/keys.js';
import { IdxEvalSource, IdxTrainSource, type IdxArrays } from './idx-source.js';
import type { DatasetSpec, OpenedDatasets } from './spec.js';

function limit(d: IdxArrays, n: number): IdxArrays {
  if (!(n > 0) || n >= d.labels.length) return d;
  const plane = d.height * d.width;
  return { ...d, images: d.images.subarray(0, n * plane), labels: d.labels.subarray(0, n) };
}

async function open(cfg: TrainConfig): Promise<OpenedDatasets> {
  const d = cfg.data;
  const dir = d.root || findFashionMnist();
  const train = limit(loadIdxSplit(dir, 'train', [0, 4]), d.limitTrain);
  const test = limit(loadIdxSplit(dir, 't10k', [5, 9]), d.limitTest);
  return {
    train: new IdxTrainSource(train, cfg.seed),
    trainEval: new IdxEvalSource(train),
    test: { query: new IdxEvalSource(test) },
    description:
      `Fashion-MNIST (${dir}): train classes 0-4 (${train.labels.length} images), test on unseen ` +
      `classes 5-9 (${test.labels.length} images)`,
    classNames: { train: FASHION_MNIST_CLASSES.slice(0, 5), test: FASHION_MNIST_CLASSES.slice(5) },
    close: async () => {},
  };
}

export const fashionMnist: DatasetSpec<'fashion-mnist'> = {
  kind: 'fashion-mnist',
  open,
  // 28×28 grey images: any other image is brought to that.
  transforms: { nativeSide: 28 },
  presets: {
    // Runs in a few minutes on 2 CPU cores: ResNet-18 with its standard stem (28 px → 7 px after the
    // stem keeps it cheap), BN feature norm, 3 epochs. See fashion-mnist-parity for the baseline's model.
    'fashion-mnist': {
      config: {
        model: { arch: 'resnet18', normLayer: 'batch', setBnEval: false, zeroInitResidual: false, smallInput: false },
        optim: { lr: 0.05, momentum: 0.9, nesterov: true },
        epochs: 2,
        batchSize: 128,
        recallKs: [1, 2, 4, 8],
      },
    },
    // ../shared/baselines/torch_reference.py: 3×3 stem, no max-pool, 28 px, batch 128, lr 0.05.
    'fashion-mnist-parity': {
      config: {
        model: { arch: 'resnet18', normLayer: 'batch', setBnEval: false, zeroInitResidual: false, smallInput: true },
        optim: { lr: 0.05, momentum: 0.9, nesterov: true },
        epochs: 3,
        batchSize: 128,
        recallKs: [1, 2, 4, 8],
      },
    },
  },
  // Checkpoints written before the class names were recorded: the test split is classes 5-9 (or all ten).
  testClassNames: (count) =>
    count === 5 ? FASHION_MNIST_CLASSES.slice(5) : count === 10 ? FASHION_MNIST_CLASSES.slice() : undefined,
};
