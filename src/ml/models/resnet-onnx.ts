// ResNet backbones in ONNX: the stem, the residual blocks (each Conv with its BatchNorm folded in),
// global average pooling. The head is the exporter's (it is the same for every family).
import { nn } from '../../engine/index.js';
import { convBn, floats, int, ints, pair, type GraphBuilder } from '../export/graph.js';
import { BasicBlock, Bottleneck } from './blocks.js';
import type { ResNetEmbedder } from './resnet.js';

/** From the images (in [0, 1]) to the pooled backbone features [N, backboneFeatures]. */
export function emitResNetBackbone(g: GraphBuilder, model: ResNetEmbedder, input: string): string {
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
