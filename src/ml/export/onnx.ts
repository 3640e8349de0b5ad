// ONNX export of an embedding model, for serving embeddings outside this toolkit (onnxruntime,
// TensorRT, browsers) without libtorch.
//
// The exporter walks the model's known structure rather than tracing it, and writes the protobuf by
// hand (protobuf.ts, onnx-proto.ts) so exporting needs no extra dependency. The graph is the
// *eval-mode* model, whatever the module's current training flag:
//   images [N,C,H,W] in [0,1] → the backbone, as its family emits it (resnet-onnx.ts, vit-onnx.ts)
//   → head norm (BatchNorm1d folded into the remap Gemm, or Mul/Add; LayerNormalization)
//   → [remap Gemm] → [L2 normalise] → 'features' → [classifier Gemm → 'logits']
// Dropout is the identity in eval mode and is dropped; a normalised classifier has its rows
// normalised at export time.
import { nn } from '../../engine/index.js';
import { writeFileAtomicSync } from '../../engine/serialize/file-io.js';
import type { Embedder } from '../models/factory.js';
import { familyOf } from '../models/families.js';
import { DataType, encodeModel } from './onnx-proto.js';
import { bnAffine, foldInputAffine, normalizeRows, type Affine } from './fold.js';
import { GraphBuilder, ONNX_INPUT, bnParams, floats, layerNorm } from './graph.js';

export { ONNX_INPUT } from './graph.js';

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

/** Name of the batch dimension. */
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
  const family = familyOf(model);
  const side = family.fixedInputSize(model);
  if (side !== undefined && (shape[1] !== side || shape[2] !== side)) {
    throw new RangeError(
      `exportOnnx: this ${family.name} takes ${opt.inChannels}×S×S images with S = ${side}, got [${shape.join(', ')}]`,
    );
  }
  const backbone = family.emitOnnx(g, model, ONNX_INPUT);
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
