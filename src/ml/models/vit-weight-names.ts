// ViT weights come named three ways; ViTEmbedder uses torchvision's names (vit_b_16's release files).
// timm names its VisionTransformer's tensors by module (cls_token, blocks.i.attn.qkv, ...), and Hugging
// Face transformers' ViTModel splits the attention input projection into query/key/value Linears.
import { type Tensor, cat } from '../../engine/index.js';

export type VitNaming = 'torchvision' | 'timm' | 'huggingface';

export function detectVitNaming(keys: Iterable<string>): VitNaming {
  for (const k of keys) {
    if (/^(?:vit\.)?embeddings\.cls_token$/.test(k)) return 'huggingface';
    if (/^cls_token$/.test(k)) return 'timm';
  }
  return 'torchvision';
}

const TIMM_BLOCK: Record<string, string> = {
  'norm1.weight': 'ln_1.weight',
  'norm1.bias': 'ln_1.bias',
  'norm2.weight': 'ln_2.weight',
  'norm2.bias': 'ln_2.bias',
  'attn.qkv.weight': 'self_attention.in_proj_weight',
  'attn.qkv.bias': 'self_attention.in_proj_bias',
  'attn.proj.weight': 'self_attention.out_proj.weight',
  'attn.proj.bias': 'self_attention.out_proj.bias',
  'mlp.fc1.weight': 'mlp.0.weight',
  'mlp.fc1.bias': 'mlp.0.bias',
  'mlp.fc2.weight': 'mlp.3.weight',
  'mlp.fc2.bias': 'mlp.3.bias',
};
const TIMM_TOP: Record<string, string> = {
  cls_token: 'class_token',
  pos_embed: 'encoder.pos_embedding',
  'patch_embed.proj.weight': 'conv_proj.weight',
  'patch_embed.proj.bias': 'conv_proj.bias',
  'norm.weight': 'encoder.ln.weight',
  'norm.bias': 'encoder.ln.bias',
  'head.weight': 'heads.head.weight',
  'head.bias': 'heads.head.bias',
};
const HF_BLOCK: Record<string, string> = {
  'layernorm_before.weight': 'ln_1.weight',
  'layernorm_before.bias': 'ln_1.bias',
  'layernorm_after.weight': 'ln_2.weight',
  'layernorm_after.bias': 'ln_2.bias',
  'attention.output.dense.weight': 'self_attention.out_proj.weight',
  'attention.output.dense.bias': 'self_attention.out_proj.bias',
  'intermediate.dense.weight': 'mlp.0.weight',
  'intermediate.dense.bias': 'mlp.0.bias',
  'output.dense.weight': 'mlp.3.weight',
  'output.dense.bias': 'mlp.3.bias',
};
const HF_TOP: Record<string, string> = {
  'embeddings.cls_token': 'class_token',
  'embeddings.position_embeddings': 'encoder.pos_embedding',
  'embeddings.patch_embeddings.projection.weight': 'conv_proj.weight',
  'embeddings.patch_embeddings.projection.bias': 'conv_proj.bias',
  'layernorm.weight': 'encoder.ln.weight',
  'layernorm.bias': 'encoder.ln.bias',
  'classifier.weight': 'heads.head.weight',
  'classifier.bias': 'heads.head.bias',
};

/**
 * The weights under torchvision's names. Keys a naming does not know keep their name (and are then
 * refused as unexpected); Hugging Face's query/key/value become one in_proj (new tensors, which the
 * caller disposes with the rest). `owned` lists the tensors created here.
 */
export function toTorchvisionVit(
  weights: ReadonlyMap<string, Tensor>,
  naming: VitNaming,
): { weights: Map<string, Tensor>; owned: Tensor[] } {
  if (naming === 'torchvision') return { weights: new Map(weights), owned: [] };
  const out = new Map<string, Tensor>();
  const owned: Tensor[] = [];
  const qkv = new Map<string, Partial<Record<'query' | 'key' | 'value', Tensor>>>();
  for (const [key, t] of weights) {
    if (naming === 'timm') {
      const b = /^blocks\.(\d+)\.(.+)$/.exec(key);
      const name = b
        ? TIMM_BLOCK[b[2]!] !== undefined
          ? `encoder.layers.encoder_layer_${b[1]}.${TIMM_BLOCK[b[2]!]}`
          : key
        : (TIMM_TOP[key] ?? key);
      out.set(name, t);
      continue;
    }
    const k = key.replace(/^vit\./, '');
    const a = /^encoder\.layer\.(\d+)\.attention\.attention\.(query|key|value)\.(weight|bias)$/.exec(k);
    if (a) {
      const slot = `encoder.layers.encoder_layer_${a[1]}.self_attention.in_proj_${a[3]}`;
      (qkv.get(slot) ?? qkv.set(slot, {}).get(slot)!)[a[2] as 'query' | 'key' | 'value'] = t;
      continue;
    }
    const b = /^encoder\.layer\.(\d+)\.(.+)$/.exec(k);
    const name = b
      ? HF_BLOCK[b[2]!] !== undefined
        ? `encoder.layers.encoder_layer_${b[1]}.${HF_BLOCK[b[2]!]}`
        : key
      : (HF_TOP[k] ?? key);
    out.set(name, t);
  }
  for (const [slot, parts] of qkv) {
    if (!parts.query || !parts.key || !parts.value)
      throw new Error(`${slot}: the file has only ${Object.keys(parts).join(' and ')} of query, key and value`);
    const joined = cat([parts.query, parts.key, parts.value], 0);
    owned.push(joined);
    out.set(slot, joined);
  }
  return { weights: out, owned };
}
