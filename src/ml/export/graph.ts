// A small ONNX graph builder for the exporter and the model families' emitters: unique value
// names, float32/int64 initializers, and the layers several backbones share (Conv with a folded
// BatchNorm, LayerNorm, a Linear over tokens).
import { type Tensor, nn } from '../../engine/index.js';
import { DataType, type AttributeProto, type NodeProto, type TensorProto } from './onnx-proto.js';
import { bnAffine, foldOutputAffine, type BnParams } from './fold.js';

/** Name of the graph input. */
export const ONNX_INPUT = 'images';

/** Collects nodes and initializers with unique value names. */
export class GraphBuilder {
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

export const int = (name: string, value: number): AttributeProto => ({ name, kind: 'int', value });
export const ints = (name: string, value: readonly number[]): AttributeProto => ({ name, kind: 'ints', value });
export const float = (name: string, value: number): AttributeProto => ({ name, kind: 'float', value });
export const pair = (v: number | readonly [number, number] | undefined, dflt: number): [number, number] =>
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
export function floats(t: Tensor): Float32Array {
  if (t.device === 'cpu' && t.dtype === 'float32') return t.data() as Float32Array;
  const c = t.to('float32', 'cpu');
  try {
    return c.data() as Float32Array;
  } finally {
    c.dispose();
  }
}

export function bnParams(bn: nn.BatchNorm2d | nn.BatchNorm1d, where: string): BnParams {
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
export function convBn(g: GraphBuilder, x: string, conv: nn.Conv2d, bn: nn.Module, name: string): string {
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

export function layerNorm(g: GraphBuilder, x: string, ln: nn.LayerNorm, d: number, name: string): string {
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
export function linear3d(g: GraphBuilder, x: string, lin: nn.Linear, name: string): string {
  const w = floats(lin.weight),
    out = lin.outFeatures,
    inF = lin.inFeatures;
  const wt = new Float32Array(inF * out);
  for (let o = 0; o < out; o++) for (let i = 0; i < inF; i++) wt[i * out + o] = w[o * inF + i]!;
  const y = g.op('MatMul', [x, g.constant(`${name}.weight`, [inF, out], wt)], `${name}.matmul`);
  return lin.bias ? g.op('Add', [y, g.constant(`${name}.bias`, [out], floats(lin.bias))], name) : y;
}

export const i64 = (g: GraphBuilder, name: string, values: number[]): string =>
  g.constant(name, [values.length], BigInt64Array.from(values, BigInt));
