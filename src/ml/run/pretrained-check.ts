// model.pretrained checked for what it is before a run opens its data: a file of weights at all (by
// content: an image, a web page or an ONNX export is named as such), weights of the architecture
// model.arch builds (by their keys and shapes), and with as many input channels as the model takes.
import { existsSync } from 'node:fs';
import { dispose } from '../../engine/index.js';
import { ARCH_NAMES } from '../models/arch-names.js';
import { detectNaming, torchvisionName } from '../models/weight-names.js';
import { FILE_KIND_TEXT, sniffFile } from './file-kind.js';
import { loadModelWeights } from './checkpoint.js';

type Shapes = ReadonlyMap<string, { readonly shape: readonly number[] }>;

/** Throws unless the file is one this toolkit reads weights from (safetensors, torch.save), saying what it is. */
export function assertWeightsFile(file: string): void {
  if (!existsSync(file)) throw new Error(`model.pretrained ${file} does not exist`);
  const kind = sniffFile(file, { format: 'weights', from: 'model.pretrained' });
  if (kind === 'safetensors' || kind === 'torch-zip') return;
  const advice =
    kind === 'torch-legacy'
      ? '; load it in PyTorch 1.6 or later and save it again (torch.save or safetensors)'
      : kind === 'onnx'
        ? '; an ONNX file holds a whole graph, not the state dict of a backbone'
        : '';
  throw new Error(
    `model.pretrained ${file} is ${FILE_KIND_TEXT[kind]}, not weights: it takes a state dict saved by torch.save ` +
      `or as safetensors${advice}`,
  );
}

const RESNETS: Readonly<Record<string, string>> = {
  'basic 2,2,2,2': 'resnet18',
  'basic 3,4,6,3': 'resnet34',
  'bottleneck 3,4,6,3': 'resnet50',
  'grouped 3,4,6,3': 'resnext50_32x4d',
  'wide 3,4,6,3': 'wide_resnet50_2',
  'bottleneck 3,4,23,3': 'resnet101',
  'grouped 3,4,23,3': 'resnext101_32x8d',
  'wide 3,4,23,3': 'wide_resnet101_2',
  'bottleneck 3,8,36,3': 'resnet152',
};
const VIT_WIDTHS: Readonly<Record<number, string>> = { 192: 'tiny', 384: 'small', 768: 'base', 1024: 'large' };

/** The largest index + 1 that `re`'s first group takes over the keys (0 when none matches). */
function countOf(keys: Iterable<string>, re: RegExp): number {
  let n = 0;
  for (const k of keys) {
    const m = re.exec(k);
    if (m) n = Math.max(n, Number(m[1]) + 1);
  }
  return n;
}

export interface WeightsArch {
  family: 'ResNet' | 'ViT';
  /** The arch's name where the shapes make one (torchvision's names), else a description. */
  arch: string;
  /** The input channels the first layer takes. */
  inChannels: number | null;
}

/** The architecture a state dict is of, by its keys and shapes (torchvision's, timm's or Hugging Face's names). */
export function weightsArch(w: Shapes): WeightsArch | null {
  const keys = [...w.keys()];
  const token = keys.find((k) => /(^|\.)(class_token|cls_token)$/.test(k));
  const proj = keys.find((k) => /(conv_proj|patch_embed\.proj|patch_embeddings\.projection)\.weight$/.test(k));
  if (token !== undefined && proj !== undefined) {
    const width = w.get(token)!.shape.at(-1)!;
    const p = w.get(proj)!.shape;
    const depth = countOf(keys, /(?:encoder_layer_|blocks\.|encoder\.layer\.)(\d+)\./);
    const size = VIT_WIDTHS[width];
    return {
      family: 'ViT',
      arch:
        size && depth === 12 ? `vit_${size}_patch${p[2]}` : `a ViT of width ${width}, depth ${depth}, patch ${p[2]}`,
      inChannels: p[1] ?? null,
    };
  }
  const naming = detectNaming(keys);
  const tv = new Map([...w].map(([k, t]) => [torchvisionName(k, naming), t.shape]));
  const conv1 = tv.get('conv1.weight');
  if (!conv1 || !tv.has('layer1.0.conv1.weight')) return null;
  const blocks = [1, 2, 3, 4].map((l) => countOf(tv.keys(), new RegExp(`^layer${l}\\.(\\d+)\\.`)));
  const c2 = tv.get('layer1.0.conv2.weight');
  const block = !tv.has('layer1.0.conv3.weight')
    ? 'basic'
    : c2 && c2[1] !== c2[0]
      ? 'grouped'
      : c2 && c2[0] !== 64
        ? 'wide'
        : 'bottleneck';
  const key = `${block} ${blocks.join(',')}`;
  return {
    family: 'ResNet',
    arch: RESNETS[key] ?? `a ResNet of ${block} blocks ${blocks.join(', ')}`,
    inChannels: conv1[1] ?? null,
  };
}

/** The ViT arch name without its patch (vit_small), to compare widths when model.patchSize sets the patch. */
const vitSize = (arch: string): string => arch.replace(/_patch\d+$/, '');

/**
 * Why the weights do not fit model.arch (and model.patchSize), or null when they do or their
 * architecture cannot be told.
 */
export function archMismatch(w: Shapes, arch: string, patchSize = 0): string | null {
  // Only an arch this toolkit builds is compared (callers may pass a label).
  if (!(ARCH_NAMES as readonly string[]).includes(arch)) return null;
  const found = weightsArch(w);
  if (!found || found.arch === arch) return null;
  if (found.family === 'ViT' && arch.startsWith('vit_') && patchSize > 0 && vitSize(found.arch) === vitSize(arch))
    return null;
  const known = /^(resnet|resnext|vit_)/.test(found.arch) && !found.arch.startsWith('a ');
  return (
    `holds ${found.arch} weights, and model.arch=${arch}: ` +
    (known ? `set model.arch=${found.arch}, or give ${arch} weights` : `give ${arch} weights`)
  );
}

/** "3-channel weights, and this model takes 1 channel", or null when the first layer fits. */
export function channelMismatch(w: Shapes, modelChannels: number): string | null {
  const c = weightsArch(w)?.inChannels;
  if (c === null || c === undefined || c === modelChannels) return null;
  const ch = (n: number): string => `${n} channel${n === 1 ? '' : 's'}`;
  return (
    `holds ${c}-channel weights (its first layer takes ${ch(c)}), and this model takes ${ch(modelChannels)} ` +
    `(${modelChannels === 1 ? 'grey images' : `${ch(modelChannels)} per image`}): weights for ${ch(c)} do not ` +
    'fit; train without model.pretrained, or on images with as many channels as the weights'
  );
}

/**
 * model.pretrained, before the data opens: a weights file, of model.arch, for images of `channels`
 * (when the data set's are known). Reads the file's tensors
 * once and frees them; the model loads it again when it is built.
 */
export function checkPretrained(file: string, arch: string, patchSize = 0, channels?: number): void {
  assertWeightsFile(file);
  const w = loadModelWeights(file);
  try {
    const why = archMismatch(w, arch, patchSize) ?? (channels ? channelMismatch(w, channels) : null);
    if (why) throw new Error(`model.pretrained ${file} ${why}`);
  } finally {
    dispose(w);
  }
}
