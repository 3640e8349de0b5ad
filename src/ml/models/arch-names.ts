// The backbones by name, in a module without the engine so that the configuration can list them.
export const RESNET_ARCH_NAMES = ['resnet18', 'resnet34', 'resnet50', 'resnet101', 'resnext50_32x4d'] as const;
export const VIT_ARCH_NAMES = [
  'vit_tiny_patch16',
  'vit_small_patch16',
  'vit_small_patch8',
  'vit_base_patch16',
] as const;
export const ARCH_NAMES = [...RESNET_ARCH_NAMES, ...VIT_ARCH_NAMES] as const;
export type ResNetArch = (typeof RESNET_ARCH_NAMES)[number];
export type VitArch = (typeof VIT_ARCH_NAMES)[number];
export type Arch = (typeof ARCH_NAMES)[number];

export const isVitArch = (a: string): a is VitArch => (VIT_ARCH_NAMES as readonly string[]).includes(a);
