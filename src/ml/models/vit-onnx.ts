// ViT backbones in ONNX (eval mode: no dropout, no stochastic depth), attention written out as
// MatMul/Softmax and GELU with Erf, so that onnxruntime and browsers run it without custom ops.
import { type Tensor, nn, noGrad } from '../../engine/index.js';
import { floats, i64, int, ints, layerNorm, linear3d, type GraphBuilder } from '../export/graph.js';
import type { ViTEmbedder } from './vit.js';

/**
 * The ViT encoder (eval mode: no dropout, no stochastic depth): patch Conv → tokens [N, T, D] with
 * the class token prepended and the position embeddings added → pre-norm blocks (attention
 * written out as MatMul/Softmax, GELU as 0.5·x·(1 + erf(x/√2))) → LayerNorm → class token or patch mean.
 */
export function emitVitBackbone(g: GraphBuilder, model: ViTEmbedder, input: string): string {
  const c = model.options.inChannels,
    d = model.size.hiddenDim,
    heads = model.size.numHeads,
    hd = d / heads;
  const mean = g.constant('mean', [1, c, 1, 1], floats(model.buffer('mean')!));
  const std = g.constant('std', [1, c, 1, 1], floats(model.buffer('std')!));
  let x = g.op('Div', [g.op('Sub', [input, mean], 'sub_mean'), std], 'div_std');
  const conv = model.convProj,
    p = model.size.patchSize;
  const inputs = [x, g.constant('conv_proj.weight', conv.weight.shape, floats(conv.weight))];
  if (conv.bias) inputs.push(g.constant('conv_proj.bias', [d], floats(conv.bias)));
  x = g.op('Conv', inputs, 'conv_proj', [
    ints('kernel_shape', [p, p]),
    ints('strides', [p, p]),
    ints('pads', [0, 0, 0, 0]),
  ]);
  const patches = g.op(
    'Transpose',
    [g.op('Reshape', [x, i64(g, 'patches.shape', [0, d, -1])], 'patches.flat')],
    'patches',
    [ints('perm', [0, 2, 1])],
  );
  // The class token, expanded to the batch: shape [N, 1, D] from the patches' own shape.
  const n = g.op(
    'Slice',
    [g.op('Shape', [patches], 'patches.shape_of'), i64(g, 'n.start', [0]), i64(g, 'n.end', [1])],
    'batch',
  );
  const clsShape = g.op('Concat', [n, i64(g, 'cls.rest', [1, d])], 'cls.shape', [int('axis', 0)]);
  const cls = g.op(
    'Expand',
    [g.constant('class_token', [1, 1, d], floats(model.param('class_token')!)), clsShape],
    'cls',
  );
  const pos = model.encoder.param('pos_embedding')!;
  x = g.op(
    'Add',
    [g.op('Concat', [cls, patches], 'tokens', [int('axis', 1)]), g.constant('pos_embedding', pos.shape, floats(pos))],
    'tokens.pos',
  );
  const gelu = (v: string, name: string): string => {
    const erf = g.op(
      'Erf',
      [g.op('Div', [v, g.constant(`${name}.sqrt2`, [], Float32Array.of(Math.SQRT2))], `${name}.scaled`)],
      `${name}.erf`,
    );
    const half = g.op('Mul', [v, g.constant(`${name}.half`, [], Float32Array.of(0.5))], `${name}.half_x`);
    return g.op(
      'Mul',
      [half, g.op('Add', [erf, g.constant(`${name}.one`, [], Float32Array.of(1))], `${name}.one_plus`)],
      name,
    );
  };
  model.encoder.blocks.forEach((b, i) => {
    const pre = `block${i}`;
    const a = model.encoder.blocks[i]!.attention;
    // q, k, v: one projection [N, T, 3D] → [3, N, heads, T, hd].
    const inProj = new nn.Linear(d, 3 * d);
    let qkv: string;
    try {
      noGradCopy(inProj, a.param('in_proj_weight')!, a.param('in_proj_bias'));
      qkv = linear3d(g, layerNorm(g, x, b.ln1, d, `${pre}.ln_1`), inProj, `${pre}.qkv`);
    } finally {
      inProj.dispose();
    }
    const split = g.op(
      'Transpose',
      [g.op('Reshape', [qkv, i64(g, `${pre}.qkv.shape`, [0, 0, 3, heads, hd])], `${pre}.qkv.heads`)],
      `${pre}.qkv.t`,
      [ints('perm', [2, 0, 3, 1, 4])],
    );
    const part = (k: number, name: string): string =>
      g.op('Gather', [split, g.constant(`${pre}.${name}.index`, [], BigInt64Array.of(BigInt(k)))], `${pre}.${name}`, [
        int('axis', 0),
      ]);
    const q = g.op(
      'Mul',
      [part(0, 'q'), g.constant(`${pre}.scale`, [], Float32Array.of(1 / Math.sqrt(hd)))],
      `${pre}.q_scaled`,
    );
    const kt = g.op('Transpose', [part(1, 'k')], `${pre}.kt`, [ints('perm', [0, 1, 3, 2])]);
    const attn = g.op('Softmax', [g.op('MatMul', [q, kt], `${pre}.scores`)], `${pre}.attn`, [int('axis', -1)]);
    const ctx = g.op('Transpose', [g.op('MatMul', [attn, part(2, 'v')], `${pre}.ctx`)], `${pre}.ctx.t`, [
      ints('perm', [0, 2, 1, 3]),
    ]);
    const merged = g.op('Reshape', [ctx, i64(g, `${pre}.ctx.shape`, [0, 0, d])], `${pre}.ctx.merged`);
    const h = g.op('Add', [x, linear3d(g, merged, a.outProj, `${pre}.out_proj`)], `${pre}.res1`);
    const [fc1, , , fc2] = b.mlp.layers as [nn.Linear, nn.Module, nn.Module, nn.Linear];
    const mlp = linear3d(
      g,
      gelu(linear3d(g, layerNorm(g, h, b.ln2, d, `${pre}.ln_2`), fc1, `${pre}.fc1`), `${pre}.gelu`),
      fc2,
      `${pre}.fc2`,
    );
    x = g.op('Add', [h, mlp], `${pre}.res2`);
  });
  x = layerNorm(g, x, model.encoder.ln, d, 'encoder.ln');
  if (model.options.pool === 'mean') {
    const body = g.op(
      'Slice',
      [x, i64(g, 'pool.start', [1]), i64(g, 'pool.end', [2 ** 62]), i64(g, 'pool.axes', [1])],
      'pool.patches',
    );
    return g.op('Flatten', [g.reduce('ReduceMean', body, [1], 'pool.mean')], 'pool', [int('axis', 1)]);
  }
  return g.op('Gather', [x, g.constant('pool.index', [], BigInt64Array.of(0n))], 'pool', [int('axis', 1)]);
}

/** A throwaway Linear holding attention's packed input projection, for linear3d. */
function noGradCopy(lin: nn.Linear, weight: Tensor, bias: Tensor | null): void {
  noGrad(() => {
    lin.weight.copy_(weight);
    if (bias && lin.bias) lin.bias.copy_(bias);
  });
}
