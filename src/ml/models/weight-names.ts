// Pretrained ResNet weights come named three ways; the models use torchvision's names. timm's ResNets
// (resnet18 ... resnet101, resnext50_32x4d) already use torchvision's names; Hugging Face
// transformers' ResNetModel / ResNetForImageClassification (microsoft/resnet-50, ...) name the same
// tensors by module path (embedder.embedder.convolution, encoder.stages.S.layers.L.layer.I...).

export type WeightNaming = 'torchvision' | 'huggingface';

const HF_PREFIX = /^(?:resnet\.)?/;
const HF_RULES: ReadonlyArray<[RegExp, (m: RegExpExecArray) => string]> = [
  [/^embedder\.embedder\.convolution\.weight$/, () => 'conv1.weight'],
  [/^embedder\.embedder\.normalization\.(\w+)$/, (m) => `bn1.${m[1]}`],
  [
    /^encoder\.stages\.(\d+)\.layers\.(\d+)\.shortcut\.convolution\.weight$/,
    (m) => `layer${Number(m[1]) + 1}.${m[2]}.downsample.0.weight`,
  ],
  [
    /^encoder\.stages\.(\d+)\.layers\.(\d+)\.shortcut\.normalization\.(\w+)$/,
    (m) => `layer${Number(m[1]) + 1}.${m[2]}.downsample.1.${m[3]}`,
  ],
  [
    /^encoder\.stages\.(\d+)\.layers\.(\d+)\.layer\.(\d+)\.convolution\.weight$/,
    (m) => `layer${Number(m[1]) + 1}.${m[2]}.conv${Number(m[3]) + 1}.weight`,
  ],
  [
    /^encoder\.stages\.(\d+)\.layers\.(\d+)\.layer\.(\d+)\.normalization\.(\w+)$/,
    (m) => `layer${Number(m[1]) + 1}.${m[2]}.bn${Number(m[3]) + 1}.${m[4]}`,
  ],
  [/^classifier\.1\.(weight|bias)$/, (m) => `fc.${m[1]}`],
];

/** Which naming a weights file uses: Hugging Face's when its stem is there, else torchvision's (and timm's). */
export function detectNaming(keys: Iterable<string>): WeightNaming {
  for (const k of keys) if (/^(?:resnet\.)?embedder\.embedder\./.test(k)) return 'huggingface';
  return 'torchvision';
}

/**
 * A key in torchvision's naming; keys the naming does not know are returned as they are (and then refused as
 * unexpected).
 */
export function torchvisionName(key: string, naming: WeightNaming): string {
  if (naming === 'torchvision') return key;
  const k = key.replace(HF_PREFIX, '');
  for (const [re, to] of HF_RULES) {
    const m = re.exec(k);
    if (m) return to(m);
  }
  return key;
}
