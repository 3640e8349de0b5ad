// Opens the configured dataset as a training source and evaluation sets.
import path from 'node:path';
import { FASHION_MNIST_CLASSES, findFashionMnist, loadIdxSplit } from '../../data/idx.js';
import { imageSize, readImageBytes } from '../../data/image.js';
import { ImageLoader } from '../../data/loader.js';
import { readImageFolder, readList, readLists, type Sample } from '../../data/list.js';
import { referencePipelines, type ReferenceDataset } from '../../data/presets.js';
import type { TrainConfig } from '../config/resolve.js';
import type { EvalData, EvalSource, TrainSource } from './source.js';
import { IdxEvalSource, IdxTrainSource, type IdxArrays } from './idx-source.js';

function limit(d: IdxArrays, n: number): IdxArrays {
  if (!(n > 0) || n >= d.labels.length) return d;
  const plane = d.height * d.width;
  return { ...d, images: d.images.subarray(0, n * plane), labels: d.labels.subarray(0, n) };
}

export interface OpenedDatasets {
  train: TrainSource;
  /** The training samples without augmentation, in order (for MI and embedding). */
  trainEval: EvalSource;
  test: EvalData;
  description: string;
  /** Class k's name (folder name, original list label, Fashion-MNIST's names), per split. */
  classNames: ClassNames;
  /** Stops loader worker threads. */
  close(): Promise<void>;
}

export interface ClassNames {
  train: readonly string[];
  test: readonly string[];
}

export async function openDatasets(cfg: TrainConfig): Promise<OpenedDatasets> {
  const d = cfg.data;
  switch (d.kind) {
    case 'fashion-mnist': {
      const dir = d.root || findFashionMnist();
      const train = limit(loadIdxSplit(dir, 'train', [0, 4]), d.limitTrain);
      const test = limit(loadIdxSplit(dir, 't10k', [5, 9]), d.limitTest);
      return {
        train: new IdxTrainSource(train, cfg.seed),
        trainEval: new IdxEvalSource(train),
        test: { query: new IdxEvalSource(test) },
        description:
          `Fashion-MNIST (${dir}): train classes 0-4 (${train.labels.length} images), test on unseen ` +
          `classes 5-9 (${test.labels.length} images)`,
        classNames: { train: FASHION_MNIST_CLASSES.slice(0, 5), test: FASHION_MNIST_CLASSES.slice(5) },
        close: async () => {},
      };
    }
    case 'cub':
    case 'cars':
    case 'sop':
    case 'inshop':
    case 'list':
    case 'folder':
      return await openImages(cfg);
    default:
      throw new Error(`unknown data.kind '${String(d.kind)}'`);
  }
}

/** Image datasets: lists prepared by `dml prepare` (cub, cars, sop, inshop), list files or folders. */
async function openImages(cfg: TrainConfig): Promise<OpenedDatasets> {
  const d = cfg.data;
  const kind = d.kind;
  const inRoot = (name: string, explicit: string): string => explicit || (d.root ? path.join(d.root, name) : '');
  const need = (file: string, key: string): string => {
    if (file) return file;
    if (kind === 'folder')
      throw new Error(
        `data.kind=folder needs ${key}: a folder with one subfolder of images per class (data.train for training ` +
          `classes, data.test for other classes to test on)`,
      );
    if (kind === 'list')
      throw new Error(
        `data.kind=list needs ${key}: a file of 'path,label' lines (paths relative to the file); data.train and ` +
          `data.test, or data.query and data.gallery`,
      );
    throw new Error(`data.kind=${kind} needs ${key} (or data.root with the lists written by \`dml prepare ${kind}\`)`);
  };
  let train: Sample[],
    query: Sample[],
    gallery: Sample[] | null = null;
  let classNames: ClassNames;
  if (kind === 'folder') {
    const tr = readImageFolder(need(d.train, 'data.train'));
    const te = readImageFolder(need(d.test, 'data.test'));
    [train, query, classNames] = [tr.samples, te.samples, { train: tr.classNames, test: te.classNames }];
  } else if (kind === 'inshop' || (kind === 'list' && d.query)) {
    const tr = readList(need(inRoot('train.txt', d.train), 'data.train'));
    const qg = readLists([
      need(inRoot('query.txt', d.query), 'data.query'),
      need(inRoot('gallery.txt', d.gallery), 'data.gallery'),
    ]);
    [train, query, gallery, classNames] = [
      tr.samples,
      qg.lists[0]!,
      qg.lists[1]!,
      { train: tr.classNames, test: qg.classNames },
    ];
  } else {
    const tr = readList(need(inRoot('train.txt', d.train), 'data.train'));
    const te = readList(need(inRoot('test.txt', d.test), 'data.test'));
    [train, query, classNames] = [tr.samples, te.samples, { train: tr.classNames, test: te.classNames }];
  }
  const small = await upscaleWarning(train, d.imageSize);
  if (small) console.warn(`dml: ${small}`);
  const ref = (kind === 'list' || kind === 'folder' ? 'cub' : kind) as ReferenceDataset;
  const crop = d.imageSize;
  const { train: trainPipe, test: testPipe } = referencePipelines(ref, {
    cropSize: crop,
    ...(d.resize > 0 ? { resize: ref === 'cub' || ref === 'inshop' ? d.resize : [d.resize, d.resize] } : {}),
  });
  const limit = (s: Sample[], n: number): Sample[] => (n > 0 ? s.slice(0, n) : s);
  const common = {
    seed: cfg.seed,
    workers: d.workers,
    skipBad: d.skipBad,
    cache: d.cache,
    ...(d.cacheMB > 0 ? { cacheMaxBytes: d.cacheMB * 2 ** 20 } : {}),
  };
  const trainLoader = new ImageLoader(limit(train, d.limitTrain), { ...common, pipeline: trainPipe });
  const trainEval = new ImageLoader(limit(train, d.limitTrain), { ...common, pipeline: testPipe });
  const queryLoader = new ImageLoader(limit(query, d.limitTest), { ...common, pipeline: testPipe });
  const galleryLoader = gallery
    ? new ImageLoader(limit(gallery, d.limitTest), { ...common, pipeline: testPipe })
    : null;
  const loaders = [trainLoader, trainEval, queryLoader, ...(galleryLoader ? [galleryLoader] : [])];
  return {
    train: trainLoader,
    trainEval,
    test: galleryLoader ? { query: queryLoader, gallery: galleryLoader } : { query: queryLoader },
    description:
      `${kind}: ${trainLoader.labels.length} training images of ${trainLoader.numClasses} classes; ` +
      (galleryLoader
        ? `${queryLoader.labels.length} queries vs ${galleryLoader.labels.length} gallery images`
        : `${queryLoader.labels.length} test images (leave-one-out)`),
    classNames,
    close: async () => {
      await Promise.all(loaders.map((l) => l.close()));
    },
  };
}

/**
 * A warning when the images are much smaller than the crop the model sees (a 28-px image blown up to
 * 224 px costs 64× the compute for nothing): the median shorter side of a few images, from their headers.
 */
export async function upscaleWarning(samples: readonly Sample[], crop: number, probe = 16): Promise<string | null> {
  const step = Math.max(1, Math.floor(samples.length / probe));
  const sides: number[] = [];
  for (let i = 0; i < samples.length && sides.length < probe; i += step) {
    try {
      const { width, height } = await imageSize(await readImageBytes(samples[i]!.path));
      sides.push(Math.min(width, height));
    } catch {
      // A bad image is the loader's to report (or skip).
    }
  }
  if (sides.length === 0) return null;
  sides.sort((a, b) => a - b);
  const median = sides[Math.floor(sides.length / 2)]!;
  if (median * 2 > crop) return null;
  return (
    `the images are small for data.imageSize=${crop}: the median shorter side of ${sides.length} of them is ${median}` +
    ` px, ` +
    `so they are upscaled about ${(crop / median).toFixed(1)}× (data.imageSize and data.resize near their size train ` +
    `faster and no worse)`
  );
}
