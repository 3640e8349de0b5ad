// The Vision Transformer family: torchvision's VisionTransformer under the embedding head.
import { dispose, type Tensor } from '../../engine/index.js';
import { VIT_ARCH_NAMES } from './arch-names.js';
import { firstKeys, headOptions, oneDimensional, type ModelFamily } from './family.js';
import { ViTEmbedder, resamplePosEmbedding } from './vit.js';
import { emitVitBackbone } from './vit-onnx.js';
import { vitFootprint } from './vit-footprint.js';
import { detectVitNaming, toTorchvisionVit } from './vit-weight-names.js';

/** The side of the square patch grid that `tokens` position embeddings cover (one is the class token's). */
function positionGrid(tokens: number): number {
  return Math.round(Math.sqrt(tokens - 1));
}

export const vitFamily: ModelFamily<ViTEmbedder> = {
  name: 'ViT',
  archs: VIT_ARCH_NAMES,
  stem: 'conv_proj',
  owns: (model): model is ViTEmbedder => model instanceof ViTEmbedder,
  create: (s) =>
    new ViTEmbedder({
      ...headOptions(s),
      arch: s.arch as (typeof VIT_ARCH_NAMES)[number],
      imageSize: s.imageSize,
      patchSize: s.patchSize || undefined,
      pool: s.pool,
      dropPathRate: s.dropPathRate,
    }),
  footprint: vitFootprint,
  fixedInputSize: (model) => model.inputSize,
  weightsShape: (w) => {
    const proj = w.get('conv_proj.weight');
    if (!proj) return null;
    // The input side is in the weights: (side / patch)² + 1 position embeddings.
    const pos = w.get('encoder.pos_embedding');
    const patchSize = proj.shape[2]!;
    return pos
      ? { inChannels: proj.shape[1]!, imageSize: positionGrid(pos.shape[1]!) * patchSize, patchSize }
      : { inChannels: proj.shape[1]! };
  },
  autoChannelsLast: () => false,
  // BEiT/MAE fine-tuning: the patch and position embeddings (and class token) are layer 0, block i
  // is layer i + 1, the final norm and the head the last.
  layers: (model) => {
    const depth = model.size.numLayers;
    return {
      count: depth + 2,
      of: (name) => {
        const b = /^encoder\.layers\.encoder_layer_(\d+)\./.exec(name);
        if (b) return Number(b[1]) + 1;
        return /^(class_token|conv_proj\.|encoder\.pos_embedding)/.test(name) ? 0 : depth + 1;
      },
    };
  },
  noWeightDecay: oneDimensional,
  patchEmbedding: (model) => model.convProj.parameters(),
  loadPretrained(model, raw, { file, arch, checked }) {
    const naming = detectVitNaming(raw.keys());
    const { weights, owned } = toTorchvisionVit(raw, naming);
    const resized: Tensor[] = [];
    try {
      const pos = weights.get('encoder.pos_embedding');
      const want = model.encoder.param('pos_embedding')!.shape[1]!;
      let note = '';
      if (pos && pos.shape[1] !== want) {
        const r = resamplePosEmbedding(pos, positionGrid(want));
        resized.push(r);
        weights.set('encoder.pos_embedding', r);
        note = `, position embeddings resized from ${pos.shape[1]! - 1} to ${want - 1} patches`;
      }
      const r = model.loadStateDict(weights, false);
      const missing = r.missingKeys.filter((k) => /^(class_token|conv_proj|encoder)\b/.test(k));
      // The source's own classifier (torchvision heads, timm head, HF classifier) and HF's pooler are not ours.
      const foreign = r.unexpectedKeys.filter((k) => !/^(heads\.|pre_logits|(vit\.)?pooler\.|fc_norm\.)/.test(k));
      if (missing.length > 0 || foreign.length > 0) {
        throw new Error(
          `model.pretrained ${file} does not match ${arch}: ${missing.length} of its tensors missing` +
            `${missing.length ? ` (${firstKeys(missing)})` : ''}, ` +
            `${foreign.length} unexpected${foreign.length ? ` (${firstKeys(foreign)})` : ''}; it takes torchvision's ` +
            `VisionTransformer keys (class_token, conv_proj.weight, ` +
            "encoder.layers.encoder_layer_0...), timm's (cls_token, blocks.0...) or Hugging Face's " +
            '(vit.embeddings..., vit.encoder.layer.0...)',
        );
      }
      const names = naming === 'torchvision' ? '' : ` (${naming === 'timm' ? 'timm' : 'Hugging Face'} names)`;
      return (
        `loaded ${file}${names}${checked}${note}: ${weights.size - r.unexpectedKeys.length} tensors; ignored: ` +
        `${r.unexpectedKeys.join(', ') || 'none'}`
      );
    } finally {
      dispose([raw, owned, resized]);
    }
  },
  emitOnnx: emitVitBackbone,
};
