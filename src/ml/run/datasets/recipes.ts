// What several datasets' presets share: the weights their recipes start from. Nothing is downloaded:
// `dml train` warns when such a preset runs without model.pretrained, since its figures assume them.

/** The paper's ResNet-50 runs (dml_cross_entropy) start from torchvision's ImageNet release. */
export const IMAGENET_RESNET50 = "torchvision's resnet50-0676ba61.pth (IMAGENET1K_V1)";

/**
 * The ViT recipes (the *-vit presets) are Open Metric Learning's published training configs for its
 * DINO ViT-S/16 extractors, pipelines/features_extraction/extractor_{cub,cars,sop,inshop}/train_*.yaml
 * (OML-Team/open-metric-learning): backbone vits16 with DINO weights, its 384-d class token as the
 * embedding (no remap), triplet loss on Euclidean distances of the raw features, Adam lr 1e-5 with no
 * schedule, class-balanced batches. Substitutions, because this toolkit lacks the original part: OML's
 * 'triplets_with_memory' miner (cub) becomes batch-all triplets; its category-balanced sampler (sop,
 * inshop) a class-balanced one; OML trains until stopped (max_epochs 10000, keeping the best R@1), the
 * epoch counts are this toolkit's budget. Transforms are this toolkit's RandomResizedCrop/flip/jitter,
 * not OML's albumentations set.
 */
export const DINO_VIT_S16 = "DINO's ViT-S/16, dino_deitsmall16_pretrain.pth (facebookresearch/dino)";
