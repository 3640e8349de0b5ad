// model.pretrained: ImageNet backbone weights into a fresh embedder, all or nothing.
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import { dispose, type Tensor } from '../../engine/index.js';
import type { Embedder } from '../models/factory.js';
import { detectNaming, torchvisionName } from '../models/weight-names.js';
import { ViTEmbedder, resamplePosEmbedding } from '../models/vit.js';
import { detectVitNaming, toTorchvisionVit } from '../models/vit-weight-names.js';
import { loadModelWeights } from './checkpoint.js';

/**
 * torch.hub's convention, which torchvision's release files follow (resnet50-0676ba61.pth): the
 * part of the name after the last '-' is the start of the file's SHA-256. Returns that prefix, if any.
 */
export function hashPrefixOf(file: string): string | null {
  const m = /-([0-9a-f]{8,64})\.(?:pth|pt|bin|safetensors)$/.exec(path.basename(file));
  return m ? m[1]! : null;
}

function sha256File(file: string): string {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 22);
  const fd = openSync(file, 'r');
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

/**
 * Loads torchvision-, timm- or Hugging-Face-named ResNet weights into the model's backbone. Every
 * backbone tensor must be in the file (only the head may be missing, and only the source's own
 * classifier may be left over): a file whose keys do not match would otherwise leave the model as
 * initialised, in silence. Returns the line to log.
 */
export function loadPretrainedBackbone(model: Embedder, file: string, arch: string): string {
  const prefix = hashPrefixOf(file);
  let checked = '';
  if (prefix !== null) {
    const digest = sha256File(file);
    if (!digest.startsWith(prefix)) {
      throw new Error(
        `model.pretrained ${file}: its SHA-256 is ${digest}, but its name says it starts with ${prefix} (torch.hub's ` +
          `naming): the file is damaged or incomplete, download it again`,
      );
    }
    checked = `, SHA-256 ${prefix}… checked`;
  }
  const raw = loadModelWeights(file);
  if (model instanceof ViTEmbedder) return loadVit(model, file, raw, arch, checked);
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
      const first = (ks: string[]): string => ks.slice(0, 5).join(', ') + (ks.length > 5 ? ', ...' : '');
      throw new Error(
        `model.pretrained ${file} does not match ${arch}'s backbone: ` +
          `${missing.length} of its tensors missing${missing.length ? ` (${first(missing)})` : ''}, ` +
          `${foreign.length} unexpected${foreign.length ? ` (${first(foreign)})` : ''}; it takes torchvision's or ` +
          `timm's ResNet state dict keys ` +
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
}

/** ViT weights (torchvision, timm or Hugging Face names), position embeddings resized to the model's grid. */
function loadVit(model: ViTEmbedder, file: string, raw: Map<string, Tensor>, arch: string, checked: string): string {
  const naming = detectVitNaming(raw.keys());
  const { weights, owned } = toTorchvisionVit(raw, naming);
  const resized: Tensor[] = [];
  try {
    const pos = weights.get('encoder.pos_embedding');
    const want = model.encoder.param('pos_embedding')!.shape[1]!;
    let note = '';
    if (pos && pos.shape[1] !== want) {
      const r = resamplePosEmbedding(pos, Math.round(Math.sqrt(want - 1)));
      resized.push(r);
      weights.set('encoder.pos_embedding', r);
      note = `, position embeddings resized from ${pos.shape[1]! - 1} to ${want - 1} patches`;
    }
    const r = model.loadStateDict(weights, false);
    const missing = r.missingKeys.filter((k) => /^(class_token|conv_proj|encoder)\b/.test(k));
    // The source's own classifier (torchvision heads, timm head, HF classifier) and HF's pooler are not ours.
    const foreign = r.unexpectedKeys.filter((k) => !/^(heads\.|pre_logits|(vit\.)?pooler\.|fc_norm\.)/.test(k));
    if (missing.length > 0 || foreign.length > 0) {
      const first = (ks: string[]): string => ks.slice(0, 5).join(', ') + (ks.length > 5 ? ', ...' : '');
      throw new Error(
        `model.pretrained ${file} does not match ${arch}: ${missing.length} of its tensors missing` +
          `${missing.length ? ` (${first(missing)})` : ''}, ` +
          `${foreign.length} unexpected${foreign.length ? ` (${first(foreign)})` : ''}; it takes torchvision's ` +
          `VisionTransformer keys (class_token, conv_proj.weight, ` +
          "encoder.layers.encoder_layer_0...), timm's (cls_token, blocks.0...) or Hugging Face's (vit.embeddings..., " +
          'vit.encoder.layer.0...)',
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
}
