// The backbones by name, in a module without the engine so that the configuration can list them.
export const ARCH_NAMES = ['resnet18', 'resnet34', 'resnet50', 'resnet101', 'resnext50_32x4d'] as const;
export type Arch = (typeof ARCH_NAMES)[number];
