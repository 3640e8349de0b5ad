// ONNX export of a ResNetEmbedder, for serving embeddings outside this toolkit (onnxruntime,
// TensorRT, browsers) without libtorch.
//
// The exporter walks the model's known structure (stem, residual blocks, head) rather than tracing
// it, and writes the protobuf by hand (protobuf.ts, onnx-proto.ts) so exporting needs no extra
// dependency. The graph is the *eval-mode* model, whatever the module's current training flag:
//   images [N,C,H,W] in [0,1] → Sub(mean) → Div(std) → Conv(+folded BN) → Relu → [MaxPool]
//   → residual blocks (Conv+folded BN, Relu, Add) → GlobalAveragePool → Flatten
//   → head norm (BatchNorm1d folded into the remap Gemm, or Mul/Add; LayerNormalization)
//   → [remap Gemm] → [L2 normalise] → 'features' → [classifier Gemm → 'logits']
// Dropout is the identity in eval mode and is dropped; a normalised classifier has its rows
// normalised at export time.
import { Tensor, nn, noGrad } from '../../engine/index.js';
import { writeFileAtomicSync } from '../../engine/serialize/file-io.js';
import { ResNetEmbedder } from '../models/resnet.js';
import { ViTEmbedder } from '../models/vit.js';
import type { Embedder } from '../models/factory.js';
import { BasicBlock, Bottleneck } from '../models/blocks.js';
import { DataType, encodeModel, type AttributeProto, type NodeProto, type TensorProto } from './onnx-proto.js';
import { bnAffine, foldInputAffine, foldOutputAffine, normalizeRows, type Affine, type BnParams } from './fold.js';

export interface OnnxExportOptions {
  /** The per-image shape [C, H, W]; the batch dimension is dynamic ('N'). C must be the model's inChannels. */
  inputShape: readonly [number, number, number];
  /** 'features' (default): the embedding only; 'both': also the classifier's 'logits'. */
  output?: 'features' | 'both';
  /**
   * ONNX opset, 13…23 (default 17). From 17 the head's LayerNorm is one LayerNormalization node;
   * below it is decomposed into ReduceMean/Sub/Mul/Add/Sqrt/Div.
   */
  opset?: number;
}

/** The lowest IR version that can carry each opset (onnx/docs/Versioning.md); older runtimes refuse newer IR. */
const IR_FOR_OPSET: Record<number, number> = {
  13: 7,
  14: 7,
  15: 8,
  16: 8,
  17: 8,
  18: 8,
  19: 9,
  20: 9,
  21: 10,
  22: 10,
  23: 11,
};
export const DEFAULT_OPSET = 17;

/** Name of the graph input and of the batch dimension. */
export const ONNX_INPUT = 'images';
const BATCH = 'N';

/**
 * Serialises the embedding model as an ONNX ModelProto (the bytes of a .onnx file). Every
 * BatchNorm2d is folded into the conv before it; the head's BatchNorm1d into the remap Linear when
 * there is one, else into a Mul/Add pair. The model is only read: its training flag, parameters
 * and buffers are left as they are.
 */
export function exportOnnx(model: Embedder, o: OnnxExportOptions): Uint8Array {
  const opset = o.opset ?? DEFAULT_OPSET;
  const ir = IR_FOR_OPSET[opset];
  if (ir === undefined) throw new RangeError(`exportOnnx: opset must be an integer in 13…23, got ${opset}`);
  const output = o.output ?? 'features';
  if (output !== 'features' && output !== 'both')
    throw new RangeError(`exportOnnx: output must be 'features' or 'both', got '${String(output)}'`);
  const shape = o.inputShape;
  if (!Array.isArray(shape) || shape.length !== 3 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new RangeError(`exportOnnx: inputShape must be [C, H, W] positive integers, got [${String(shape)}]`);
  }
  const opt = model.options;
  const arch = typeof opt.arch === 'string' ? opt.arch : 'vit';
  if (shape[0] !== opt.inChannels)
    throw new RangeError(`exportOnnx: inputShape has ${shape[0]} channels, the model takes ${opt.inChannels}`);

  const g = new GraphBuilder(opset);
  if (
    model instanceof ViTEmbedder &&
    (shape[1] !== shape[2] ||
      shape[1] / model.size.patchSize !== Math.round(Math.sqrt(model.encoder.param('pos_embedding')!.shape[1]! - 1)))
  ) {
    throw new RangeError(
      `exportOnnx: this ViT takes ${model.options.inChannels}×S×S images with S = ` +
        `${Math.round(Math.sqrt(model.encoder.param('pos_embedding')!.shape[1]! - 1)) * model.size.patchSize} (its ` +
        `position embeddings), got [${shape.join(', ')}]`,
    );
  }
  const backbone =
    model instanceof ViTEmbedder ? emitVitBackbone(g, model, ONNX_INPUT) : emitBackbone(g, model, ONNX_INPUT);
  const features = emitHead(g, model, backbone);
  g.rename(features, 'features');
  const outputs = [{ name: 'features', elemType: DataType.FLOAT, shape: [BATCH, opt.numFeatures] }];
  if (output === 'both') {
    const cls = model.classifier;
    let w = floats(cls.weight);
    if (opt.normalizeWeight) w = normalizeRows(w, cls.outFeatures);
    const b = cls.bias ? floats(cls.bias) : null;
    g.rename(g.gemm('features', w, b, [cls.outFeatures, cls.inFeatures], 'classifier'), 'logits');
    outputs.push({ name: 'logits', elemType: DataType.FLOAT, shape: [BATCH, opt.numClasses] });
  }

  return encodeModel({
    irVersion: ir,
    opsetImports: [{ domain: '', version: opset }],
    producerName: 'dml-ts',
    producerVersion: '0.1.0',
    docString:
      `${arch} embedder (eval mode, BatchNorm folded): ${ONNX_INPUT} float32 [N,${shape.join(',')}] in [0,1] → ` +
      `features [N,${opt.numFeatures}]` +
      (output === 'both' ? ` and logits [N,${opt.numClasses}]` : ''),
    graph: {
      name: `${arch}_embedder`,
      nodes: g.nodes,
      initializers: g.initializers,
      inputs: [
        {
          name: ONNX_INPUT,
          elemType: DataType.FLOAT,
          shape: [BATCH, ...shape],
          docString: 'images in [0, 1]; mean/std normalisation is part of the graph',
        },
      ],
      outputs,
    },
    metadataProps: {
      arch,
      input_shape: JSON.stringify(shape),
      num_features: String(opt.numFeatures),
      normalized_features: String(opt.normalize),
      mean: JSON.stringify(opt.mean),
      std: JSON.stringify(opt.std),
    },
  });
}

/**
 * Writes ONNX bytes atomically (temp file in the same directory, fsync, rename): no half-written model under `path`.
 */
export function saveOnnx(path: string, bytes: Uint8Array): void {
  writeFileAtomicSync(path, [bytes]);
}

// ---- graph building ----

/** Collects nodes and initializers with unique value names. */
class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  readonly #names = new Set<string>([ONNX_INPUT]);
  constructor(readonly opset: number) {}

  #unique(name: string): string {
    let n = name;
    for (let k = 1; this.#names.has(n); k++) n = `${name}_${k}`;
    this.#names.add(n);
    return n;
  }

  /** A float32 (or int64) initializer; returns its name. */
  constant(name: string, dims: readonly number[], data: Float32Array | BigInt64Array): string {
    const n = this.#unique(name);
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== data.length)
      throw new Error(`exportOnnx: initializer '${n}' has ${data.length} values for dims [${dims}]`);
    this.initializers.push({
      name: n,
      dims,
      dataType: data instanceof Float32Array ? DataType.FLOAT : DataType.INT64,
      rawData: littleEndianBytes(data),
    });
    return n;
  }

  /** One node with one output, named after `name`; returns the output's name. */
  op(opType: string, inputs: readonly string[], name: string, attributes: AttributeProto[] = []): string {
    const out = this.#unique(name);
    this.nodes.push({ name: out, opType, inputs, outputs: [out], attributes });
    return out;
  }

  /** Renames a node output (and its uses), to give graph outputs their public names. */
  rename(from: string, to: string): void {
    if (this.#names.has(to)) throw new Error(`exportOnnx: value name '${to}' is taken`);
    this.#names.add(to);
    this.nodes.forEach((n, i) => {
      if (n.outputs.includes(from) || n.inputs.includes(from)) {
        this.nodes[i] = {
          ...n,
          outputs: n.outputs.map((v) => (v === from ? to : v)),
          inputs: n.inputs.map((v) => (v === from ? to : v)),
        };
      }
    });
  }

  /** A reduction over `axes` with keepdims: axes became an input in opset 18. */
  reduce(opType: 'ReduceMean' | 'ReduceL2', x: string, axes: number[], name: string): string {
    if (this.opset >= 18)
      return this.op(
        opType,
        [x, this.constant(`${name}.axes`, [axes.length], BigInt64Array.from(axes, BigInt))],
        name,
        [int('keepdims', 1)],
      );
    return this.op(opType, [x], name, [ints('axes', axes), int('keepdims', 1)]);
  }

  /** y = x·Wᵀ + b for W [out, in] (Gemm with transB, so W keeps PyTorch's layout). */
  gemm(x: string, weight: Float32Array, bias: Float32Array | null, dims: [number, number], name: string): string {
    const inputs = [x, this.constant(`${name}.weight`, dims, weight)];
    if (bias) inputs.push(this.constant(`${name}.bias`, [dims[0]], bias));
    return this.op('Gemm', inputs, name, [int('transB', 1)]);
  }
}

const int = (name: string, value: number): AttributeProto => ({ name, kind: 'int', value });
const ints = (name: string, value: readonly number[]): AttributeProto => ({ name, kind: 'ints', value });
const float = (name: string, value: number): AttributeProto => ({ name, kind: 'float', value });
const pair = (v: number | readonly [number, number] | undefined, dflt: number): [number, number] =>
  v === undefined ? [dflt, dflt] : typeof v === 'number' ? [v, v] : [v[0], v[1]];

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** ONNX raw_data is little-endian whatever the host: a view on LE hosts, a swapped copy otherwise. */
function littleEndianBytes(a: Float32Array | BigInt64Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const out = new Uint8Array(a.byteLength),
    dv = new DataView(out.buffer);
  if (a instanceof Float32Array) a.forEach((v, i) => dv.setFloat32(i * 4, v, true));
  else a.forEach((v, i) => dv.setBigInt64(i * 8, v, true));
  return out;
}

/** A tensor's elements as a fresh float32 array (moved to the CPU / cast when needed). */
function floats(t: Tensor): Float32Array {
  if (t.device === 'cpu' && t.dtype === 'float32') return t.data() as Float32Array;
  const c = t.to('float32', 'cpu');
  try {
    return c.data() as Float32Array;
  } finally {
    c.dispose();
  }
}

function bnParams(bn: nn.BatchNorm2d | nn.BatchNorm1d, where: string): BnParams {
  const mean = bn.runningMean,
    v = bn.runningVar;
  // Without running statistics a BatchNorm normalises with batch statistics even in eval mode:
  // that is not a fixed affine map and cannot be folded.
  if (!bn.trackRunningStats || !mean || !v) throw new Error(`exportOnnx: ${where} has no running statistics to fold`);
  return {
    runningMean: floats(mean),
    runningVar: floats(v),
    weight: bn.weight ? floats(bn.weight) : null,
    bias: bn.bias ? floats(bn.bias) : null,
    eps: bn.eps,
  };
}

/** Conv2d followed by BatchNorm2d → one Conv with the BN folded into weight and bias. */
function convBn(g: GraphBuilder, x: string, conv: nn.Conv2d, bn: nn.Module, name: string): string {
  if (!(bn instanceof nn.BatchNorm2d)) throw new Error(`exportOnnx: ${name}: expected a BatchNorm2d after the conv`);
  const w = conv.weight,
    dims = w.shape;
  const folded = foldOutputAffine(
    floats(w),
    conv.bias ? floats(conv.bias) : null,
    bnAffine(bnParams(bn, `${name} BatchNorm`)),
  );
  const [sh, sw] = pair(conv.options.stride, 1),
    [ph, pw] = pair(conv.options.padding, 0),
    [dh, dw] = pair(conv.options.dilation, 1);
  return g.op(
    'Conv',
    [x, g.constant(`${name}.weight`, dims, folded.weight), g.constant(`${name}.bias`, [dims[0]!], folded.bias)],
    name,
    [
      ints('kernel_shape', dims.slice(2)),
      ints('strides', [sh, sw]),
      ints('pads', [ph, pw, ph, pw]),
      ints('dilations', [dh, dw]),
      int('group', conv.options.groups ?? 1),
    ],
  );
}

function emitBackbone(g: GraphBuilder, model: ResNetEmbedder, input: string): string {
  const c = model.options.inChannels;
  // The normalisation stays two graph ops rather than being folded into conv1: conv1 zero-pads the
  // *normalised* image, so folding would change the border pixels (padding would become -mean/std).
  const mean = g.constant('mean', [1, c, 1, 1], floats(model.buffer('mean')!));
  const std = g.constant('std', [1, c, 1, 1], floats(model.buffer('std')!));
  let x = g.op('Div', [g.op('Sub', [input, mean], 'sub_mean'), std], 'div_std');
  x = g.op('Relu', [convBn(g, x, model.conv1, model.bn1, 'conv1')], 'relu');
  if (model.maxpool instanceof nn.MaxPool2d) {
    const mp = model.maxpool,
      [kh, kw] = pair(mp.kernelSize, 1);
    const [sh, sw] = pair(mp.options.stride, kh),
      [ph, pw] = pair(mp.options.padding, 0),
      [dh, dw] = pair(mp.options.dilation, 1);
    x = g.op('MaxPool', [x], 'maxpool', [
      ints('kernel_shape', [kh, kw]),
      ints('strides', [sh, sw]),
      ints('pads', [ph, pw, ph, pw]),
      ints('dilations', [dh, dw]),
      int('ceil_mode', mp.options.ceilMode ? 1 : 0),
    ]);
  } else if (!(model.maxpool instanceof nn.Identity)) throw new Error('exportOnnx: unsupported stem pooling');

  model.layers.forEach((layer, li) => {
    layer.layers.forEach((block, bi) => {
      const p = `layer${li + 1}.${bi}`;
      let body: string;
      if (block instanceof BasicBlock) {
        body = g.op('Relu', [convBn(g, x, block.conv1, block.bn1, `${p}.conv1`)], `${p}.relu1`);
        body = convBn(g, body, block.conv2, block.bn2, `${p}.conv2`);
      } else if (block instanceof Bottleneck) {
        body = g.op('Relu', [convBn(g, x, block.conv1, block.bn1, `${p}.conv1`)], `${p}.relu1`);
        body = g.op('Relu', [convBn(g, body, block.conv2, block.bn2, `${p}.conv2`)], `${p}.relu2`);
        body = convBn(g, body, block.conv3, block.bn3, `${p}.conv3`);
      } else throw new Error(`exportOnnx: ${p} is not a BasicBlock or Bottleneck`);
      let short = x;
      if (block.downsample) {
        const [conv, bn] = block.downsample.layers;
        if (!(conv instanceof nn.Conv2d) || !bn || block.downsample.layers.length !== 2)
          throw new Error(`exportOnnx: ${p}.downsample must be Conv2d + BatchNorm2d`);
        short = convBn(g, x, conv, bn, `${p}.downsample`);
      }
      x = g.op('Relu', [g.op('Add', [body, short], `${p}.add`)], `${p}.relu`);
    });
  });
  return g.op('Flatten', [g.op('GlobalAveragePool', [x], 'avgpool')], 'flatten', [int('axis', 1)]);
}

function emitHead(g: GraphBuilder, model: Embedder, x: string): string {
  const opt = model.options,
    norm = model.norm,
    d = model.backboneFeatures;
  let pending: Affine | null = null;
  if (norm instanceof nn.BatchNorm1d) pending = bnAffine(bnParams(norm, 'norm_layer'));
  else if (norm instanceof nn.LayerNorm) x = layerNorm(g, x, norm, d, 'norm_layer');
  else if (!(norm instanceof nn.Identity)) throw new Error('exportOnnx: unsupported norm_layer');

  if (model.remap instanceof nn.Linear) {
    const r = model.remap;
    let w = floats(r.weight),
      b = r.bias ? floats(r.bias) : null;
    // BN1d → Linear is one Linear: the BN disappears from the graph.
    if (pending) {
      ({ weight: w, bias: b } = foldInputAffine(w, b, r.outFeatures, pending));
      pending = null;
    }
    x = g.gemm(x, w, b, [r.outFeatures, r.inFeatures], 'remap');
  }
  if (pending) {
    // No linear layer follows (or the L2 normalisation comes first): keep the BN as x·scale + shift.
    x = g.op('Mul', [x, g.constant('norm_layer.scale', [d], Float32Array.from(pending.scale))], 'norm_layer.mul');
    x = g.op('Add', [x, g.constant('norm_layer.shift', [d], Float32Array.from(pending.shift))], 'norm_layer.add');
  }
  if (opt.normalize) {
    // F.normalize: x / max(‖x‖₂, 1e-12). LpNormalization has no epsilon (a zero row would give NaN), hence
    // ReduceL2/Max/Div.
    const n = g.reduce('ReduceL2', x, [1], 'l2norm');
    const clamped = g.op('Max', [n, g.constant('l2norm.eps', [], Float32Array.of(1e-12))], 'l2norm.clamp');
    x = g.op('Div', [x, clamped], 'l2normalize');
  }
  return x;
}

function layerNorm(g: GraphBuilder, x: string, ln: nn.LayerNorm, d: number, name: string): string {
  if (ln.normalizedShape.length !== 1 || ln.normalizedShape[0] !== d)
    throw new Error(`exportOnnx: ${name} LayerNorm must normalise the last ${d} features`);
  const weight = ln.param('weight'),
    bias = ln.param('bias');
  if (g.opset >= 17) {
    const scale = g.constant(`${name}.weight`, [d], weight ? floats(weight) : new Float32Array(d).fill(1));
    const inputs = [x, scale];
    if (bias) inputs.push(g.constant(`${name}.bias`, [d], floats(bias)));
    return g.op('LayerNormalization', inputs, name, [int('axis', -1), float('epsilon', ln.eps)]);
  }
  // Before opset 17: (x - mean) / sqrt(var + eps) with the biased variance, as torch computes it.
  const mean = g.reduce('ReduceMean', x, [-1], `${name}.mean`);
  const centred = g.op('Sub', [x, mean], `${name}.centred`);
  const variance = g.reduce('ReduceMean', g.op('Mul', [centred, centred], `${name}.sq`), [-1], `${name}.var`);
  const eps = g.constant(`${name}.eps`, [], Float32Array.of(ln.eps));
  const std = g.op('Sqrt', [g.op('Add', [variance, eps], `${name}.var_eps`)], `${name}.std`);
  let y = g.op('Div', [centred, std], name);
  if (weight) y = g.op('Mul', [y, g.constant(`${name}.weight`, [d], floats(weight))], `${name}.mul`);
  if (bias) y = g.op('Add', [y, g.constant(`${name}.bias`, [d], floats(bias))], `${name}.add`);
  return y;
}

/** x·Wᵀ + b over the last dimension of a [N, T, in] tensor (MatMul + Add: Gemm is 2-D only). */
function linear3d(g: GraphBuilder, x: string, lin: nn.Linear, name: string): string {
  const w = floats(lin.weight),
    out = lin.outFeatures,
    inF = lin.inFeatures;
  const wt = new Float32Array(inF * out);
  for (let o = 0; o < out; o++) for (let i = 0; i < inF; i++) wt[i * out + o] = w[o * inF + i]!;
  const y = g.op('MatMul', [x, g.constant(`${name}.weight`, [inF, out], wt)], `${name}.matmul`);
  return lin.bias ? g.op('Add', [y, g.constant(`${name}.bias`, [out], floats(lin.bias))], name) : y;
}

const i64 = (g: GraphBuilder, name: string, values: number[]): string =>
  g.constant(name, [values.length], BigInt64Array.from(values, BigInt));

/**
 * The ViT encoder (eval mode: no dropout, no stochastic depth): patch Conv → tokens [N, T, D] with
 * the class token prepended and the position embeddings added → pre-norm blocks (attention
 * written out as MatMul/Softmax, GELU as 0.5·x·(1 + erf(x/√2))) → LayerNorm → class token or patch mean.
 */
function emitVitBackbone(g: GraphBuilder, model: ViTEmbedder, input: string): string {
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
