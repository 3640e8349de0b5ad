// The model families, listed once: every arch belongs to one, and code outside this folder reaches
// a model's rules through familyOf / familyOfArch rather than testing its class.
import type { Embedder } from './factory.js';
import type { ModelFamily } from './family.js';
import { resnetFamily } from './resnet-family.js';
import { vitFamily } from './vit-family.js';

export const MODEL_FAMILIES: readonly ModelFamily[] = [resnetFamily, vitFamily];

export function familyOfArch(arch: string): ModelFamily {
  const f = MODEL_FAMILIES.find((m) => (m.archs as readonly string[]).includes(arch));
  if (!f)
    throw new RangeError(`unknown arch '${arch}' (expected ${MODEL_FAMILIES.flatMap((m) => m.archs).join(', ')})`);
  return f;
}

export function familyOf(model: Embedder): ModelFamily {
  const f = MODEL_FAMILIES.find((m) => m.owns(model));
  if (!f) throw new TypeError(`no model family owns a ${model.constructor.name}`);
  return f;
}
