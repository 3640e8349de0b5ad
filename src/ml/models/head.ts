// The reference's embedding head, shared by every backbone (Boudiaf et al., dml_cross_entropy):
// non-affine feature norm (BatchNorm1d or LayerNorm) → optional remap → optional L2 normalisation
// → dropout → zero-initialised linear classifier.
import { type Tensor, nn, normalize, noGrad } from '../../engine/index.js';
import { pipe } from './blocks.js';

export interface EmbedderOutput {
  logits: Tensor;
  features: Tensor;
}

export interface EmbeddingHead {
  norm: nn.Module;
  remap: nn.Linear | nn.Identity;
  dropout: nn.Dropout;
  classifier: nn.Linear;
}

/**
 * Registers the head's modules on `m` under the reference's names (norm_layer, remap, dropout,
 * classifier) for a backbone of `width` features; the classifier and the remap's bias start at zero.
 */
export function registerHead(
  m: nn.Module<never[], unknown>,
  width: number,
  o: {
    normLayer: 'none' | 'batch' | 'layer';
    remap: boolean;
    numFeatures: number;
    dropout: number;
    numClasses: number;
  },
): EmbeddingHead {
  const norm = m.registerModule(
    'norm_layer',
    o.normLayer === 'batch'
      ? new nn.BatchNorm1d(width, { affine: false })
      : o.normLayer === 'layer'
        ? new nn.LayerNorm(width, 1e-5, false)
        : new nn.Identity(),
  );
  const needRemap = o.remap || o.numFeatures !== width;
  const remap = m.registerModule('remap', needRemap ? new nn.Linear(width, o.numFeatures) : new nn.Identity());
  const dropout = m.registerModule('dropout', new nn.Dropout(o.dropout));
  const classifier = m.registerModule('classifier', new nn.Linear(o.numFeatures, o.numClasses));
  noGrad(() => {
    if (remap instanceof nn.Linear) remap.bias?.zero_();
    classifier.weight.zero_();
    classifier.bias?.zero_();
  });
  return { norm, remap, dropout, classifier };
}

/**
 * Features and logits from the backbone's output `b` (consumed: disposed unless it is the features).
 * Frees its own intermediates, so it works inside or outside tidy().
 */
export function applyHead(
  h: EmbeddingHead,
  b: Tensor,
  o: { normalize: boolean; detach: boolean; normalizeWeight: boolean },
): EmbedderOutput {
  let features = pipe(
    b,
    (t) => h.norm.forward(t),
    (t) => h.remap.forward(t),
  );
  if (features !== b) b.dispose();
  if (o.normalize) {
    const n = normalize(features);
    features.dispose();
    features = n;
  }
  const cls = o.detach ? features.detach() : features;
  const dropped = h.dropout.forward(cls);
  const w = o.normalizeWeight ? normalize(h.classifier.weight) : h.classifier.weight;
  const logits = nn.functional.linear(dropped, w, h.classifier.bias);
  if (dropped !== features) dropped.dispose();
  if (cls !== features && cls !== dropped) cls.dispose();
  if (w !== h.classifier.weight) w.dispose();
  return { logits, features };
}
