// A loss, a miner and a sampler in your own training loop (pytorch-metric-learning style).
import { data, engine, losses, miners, samplers } from 'dml-ts';
const { nn, optim, tensor, tidy } = engine;

const steps = Number(process.env.STEPS ?? 100);
const fm = data.loadIdxSplit(data.findFashionMnist(), 'train', [0, 4]); // classes 0-4, 28×28 bytes
const model = new nn.Sequential(new nn.Flatten(), new nn.Linear(784, 256), new nn.ReLU(), new nn.Linear(256, 64));
const lossFn = losses.createLoss('triplet', { margin: 0.1 });
const miner = new miners.TripletMarginMiner({ margin: 0.2, type: 'semihard' });
const sampler = new samplers.ClassBalancedSampler(fm.labels, 60, 12); // 5 classes × 12 per batch
const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
for (const [i, batch] of sampler.epoch(0).slice(0, steps).entries()) {
  const pixels = Float32Array.from(
    batch.flatMap((j) => [...fm.images.subarray(j * 784, (j + 1) * 784)]),
    (v) => v / 255,
  );
  const loss = tidy(() => {
    const x = tensor(pixels, { shape: [batch.length, 1, 28, 28] });
    const labels = tensor(
      batch.map((j) => fm.labels[j]!),
      { dtype: 'int64' },
    );
    const embeddings = model.forward(x);
    const mined = miner.mine(embeddings, labels); // semi-hard triplets: fewer as the classes separate
    const value = lossFn.forward(embeddings, labels, mined);
    opt.zeroGrad();
    value.backward();
    opt.step();
    return { value: value.item(), triplets: mined.a.length };
  });
  if (i % 20 === 0)
    console.log(`step ${i}: triplet loss ${loss.value.toFixed(4)} on ${loss.triplets} semi-hard triplets`);
}
