// What a model family declares about itself (after timm, where each model file owns its rules):
// how to build it, which parameters decay how, how foreign pretrained weights map onto it, what
// a checkpoint's tensors say about its input, and its ONNX graph. Code outside src/ml/models asks
// the family (familyOf / familyOfArch in families.ts) instead of testing for a model class.
import type { Tensor } from '../../engine/index.js';
import type { GraphBuilder } from '../export/graph.js';
import type { Arch } from './arch-names.js';
import type { Embedder, EmbedderSpec } from './factory.js';
import type { FootprintSpec, ModelFootprint } from './footprint.js';
import type { HeadOptions } from './resnet.js';

/** The input a checkpoint's weights imply: channels always, the side and patch when the weights fix them. */
export interface WeightsShape {
  inChannels: number;
  imageSize?: number;
  patchSize?: number;
}

export interface ModelFamily<M extends Embedder = Embedder> {
  /** How messages name the family ("ViT"). */
  readonly name: string;
  readonly archs: readonly Arch[];
  /** The key of its first layer's weight, named when a checkpoint lacks it. */
  readonly stem: string;
  /** Whether a model is this family's. */
  owns(model: Embedder): model is M;
  create(spec: EmbedderSpec): M;
  /** The image side the model takes (a ViT's position embeddings fix it), or undefined: any side. */
  fixedInputSize(model: M): number | undefined;
  /** The input a checkpoint's weights imply, or null when they lack this family's first layer. */
  weightsShape(weights: ReadonlyMap<string, Tensor>): WeightsShape | null;
  /** Its parameters and activations, counted from the architecture without building it (memory budgets). */
  footprint(spec: FootprintSpec): ModelFootprint;
  /** model.memoryFormat=auto: whether this arch runs channels-last at this input side. */
  autoChannelsLast(arch: Arch, imageSize: number): boolean;
  /**
   * Layer-wise lr decay (timm's layer_decay): the number of layers and each parameter's layer, 0 at
   * the input, count - 1 at the head. Absent: the family has no depth to decay over.
   */
  layers?(model: M): { count: number; of(name: string): number };
  /** Parameters optim.noBiasDecay exempts from weight decay. */
  noWeightDecay(name: string, p: Tensor): boolean;
  /** model.freezePatchEmbed: the patch embedding's parameters. Absent: the family has none. */
  patchEmbedding?(model: M): Tensor[];
  /**
   * model.pretrained: a file's tensors (torchvision's, timm's or Hugging Face's names) renamed and
   * resized into the model's backbone, refusing a file that does not cover it. Returns the line to log.
   */
  loadPretrained(model: M, weights: Map<string, Tensor>, o: { file: string; arch: string; checked: string }): string;
  /** The backbone in ONNX: from the images in [0, 1] to the features the head takes. Returns their name. */
  emitOnnx(g: GraphBuilder, model: M, input: string): string;
}

/** The head's part of a spec (and the input's channels and statistics): every family passes it on as it is. */
export function headOptions(s: EmbedderSpec): HeadOptions {
  const { numClasses, numFeatures, normLayer, remap, dropout, detach, normalize, normalizeWeight } = s;
  const { inChannels, mean, std } = s;
  return {
    numClasses,
    numFeatures,
    normLayer,
    remap,
    dropout,
    detach,
    normalize,
    normalizeWeight,
    inChannels,
    mean,
    std,
  };
}

/** Biases and norm weights: the 1-D parameters (timm's and torchvision's default no-decay rule). */
export const oneDimensional = (_name: string, p: Tensor): boolean => p.ndim === 1;

/** The first keys of a list, for an error message. */
export const firstKeys = (ks: string[]): string => ks.slice(0, 5).join(', ') + (ks.length > 5 ? ', ...' : '');
