// The ResNet family: torchvision's ResNets and ResNeXt under the embedding head.
import { dispose, type Tensor } from '../../engine/index.js';
import { RESNET_ARCH_NAMES, type Arch } from './arch-names.js';
import { firstKeys, headOptions, oneDimensional, type ModelFamily } from './family.js';
import { ARCHS, ResNetEmbedder } from './resnet.js';
import { emitResNetBackbone } from './resnet-onnx.js';
import { resnetFootprint } from './resnet-footprint.js';
import { detectNaming, torchvisionName } from './weight-names.js';

/** Bottleneck ResNets from this input side up run channels-last under memoryFormat=auto. */
export const AUTO_CHANNELS_LAST_MIN_SIDE = 128;

export const resnetFamily: ModelFamily<ResNetEmbedder> = {
  name: 'ResNet',
  archs: RESNET_ARCH_NAMES,
  stem: 'conv1',
  owns: (model): model is ResNetEmbedder => model instanceof ResNetEmbedder,
  create: (s) =>
    new ResNetEmbedder({
      ...headOptions(s),
      arch: s.arch as keyof typeof ARCHS,
      setBnEval: s.setBnEval,
      zeroInitResidual: s.zeroInitResidual,
      smallInput: s.smallInput,
    }),
  footprint: resnetFootprint,
  fixedInputSize: () => undefined,
  weightsShape: (w) => {
    const conv1 = w.get('conv1.weight');
    return conv1 ? { inChannels: conv1.shape[1]! } : null;
  },
  // Where bench/engine measured it faster here: ResNet-50-sized models on large inputs (oneDNN's
  // NHWC kernels skip the reorders NCHW needs); small inputs stay NCHW.
  autoChannelsLast: (arch: Arch, side) =>
    (ARCHS as Partial<Record<string, (typeof ARCHS)[keyof typeof ARCHS]>>)[arch]?.block === 'bottleneck' &&
    side >= AUTO_CHANNELS_LAST_MIN_SIDE,
  noWeightDecay: oneDimensional,
  loadPretrained(model, raw, { file, arch, checked }) {
    const naming = detectNaming(raw.keys());
    const weights = new Map<string, Tensor>();
    for (const [k, t] of raw) {
      const name = torchvisionName(k, naming);
      if (weights.has(name)) {
        dispose(raw);
        throw new Error(`model.pretrained ${file}: '${k}' and another key both name '${name}'`);
      }
      weights.set(name, t);
    }
    try {
      const r = model.loadStateDict(weights, false);
      // num_batches_tracked: a counter older torchvision files lack (torch fills it in the same way).
      const missing = r.missingKeys.filter(
        (k) => /^(conv1|bn1|layer\d+)\./.test(k) && !k.endsWith('.num_batches_tracked'),
      );
      const foreign = r.unexpectedKeys.filter((k) => !/^fc\./.test(k));
      if (missing.length > 0 || foreign.length > 0) {
        throw new Error(
          `model.pretrained ${file} does not match ${arch}'s backbone: ` +
            `${missing.length} of its tensors missing${missing.length ? ` (${firstKeys(missing)})` : ''}, ` +
            `${foreign.length} unexpected${foreign.length ? ` (${firstKeys(foreign)})` : ''}; it takes ` +
            "torchvision's or timm's ResNet state dict keys " +
            "(conv1.weight, layer1.0.bn1.weight, ...) or Hugging Face's (embedder.embedder.convolution.weight, " +
            'encoder.stages.0.layers.0...)',
        );
      }
      const names = naming === 'huggingface' ? ' (Hugging Face names)' : '';
      return (
        `loaded ${file}${names}${checked}: ${weights.size - r.unexpectedKeys.length} tensors; not in file: ` +
        `${r.missingKeys.length} (the head); ignored: ${r.unexpectedKeys.join(', ') || 'none'}`
      );
    } finally {
      dispose(weights);
    }
  },
  emitOnnx: emitResNetBackbone,
};
