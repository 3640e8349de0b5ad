// model.pretrained: ImageNet backbone weights into a fresh embedder, all or nothing; the file's
// integrity is checked here, its key names are the model family's business.
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import type { Embedder } from '../models/factory.js';
import { familyOf } from '../models/families.js';
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
 * Loads torchvision-, timm- or Hugging-Face-named weights into the model's backbone, as its family
 * maps and resizes them. Every backbone tensor must be in the file (only the head may be missing,
 * and only the source's own classifier may be left over): a file whose keys do not match would
 * otherwise leave the model as initialised, in silence. Returns the line to log.
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
  return familyOf(model).loadPretrained(model, loadModelWeights(file), { file, arch, checked });
}
