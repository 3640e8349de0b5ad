// Image datasets: lists prepared by `dml prepare` (cub, cars, sop, inshop), list files given by path,
// or folders of class subfolders, each opened as loaders with the dataset's pipelines.
import path from 'node:path';
import { imageSize, readImageBytes } from '../../data/image.js';
import { ImageLoader } from '../../data/loader.js';
import { readImageFolder, readList, readLists, type Sample } from '../../data/list.js';
import type { TrainConfig } from '../config/keys.js';
import { datasetPipelines } from './pipelines.js';
import type { ClassNames, DatasetSpec, OpenedDatasets } from './spec.js';

interface Splits {
  train: Sample[];
  query: Sample[];
  /** null: leave-one-out over the query set. */
  gallery: Sample[] | null;
  classNames: ClassNames;
}

/**
 * Train and test lists (or train, query and gallery lists), each data.train / data.test /
 * data.query / data.gallery, else the file of that name in data.root. `missing` says what a
 * missing one should be.
 */
export function openLists(
  cfg: TrainConfig,
  spec: DatasetSpec,
  o: { queryGallery: boolean; missing: (key: string) => string },
): Promise<OpenedDatasets> {
  const d = cfg.data;
  const file = (name: string, key: string, explicit: string): string => {
    const f = explicit || (d.root ? path.join(d.root, name) : '');
    if (!f) throw new Error(o.missing(key));
    return f;
  };
  const tr = readList(file('train.txt', 'data.train', d.train));
  if (o.queryGallery) {
    const qg = readLists([file('query.txt', 'data.query', d.query), file('gallery.txt', 'data.gallery', d.gallery)]);
    const [query, gallery] = [qg.lists[0]!, qg.lists[1]!];
    return openImageSets(cfg, spec, {
      train: tr.samples,
      query,
      gallery,
      classNames: { train: tr.classNames, test: qg.classNames },
    });
  }
  const te = readList(file('test.txt', 'data.test', d.test));
  return openImageSets(cfg, spec, {
    train: tr.samples,
    query: te.samples,
    gallery: null,
    classNames: { train: tr.classNames, test: te.classNames },
  });
}

/** The advice for a missing list of a dataset that `dml prepare` writes. */
export const preparedListMissing =
  (kind: string) =>
  (key: string): string =>
    `data.kind=${kind} needs ${key} (or data.root with the lists written by \`dml prepare ${kind}\`)`;

/** data.train and data.test as folders of class subfolders. */
export function openFolders(cfg: TrainConfig, spec: DatasetSpec): Promise<OpenedDatasets> {
  const need = (dir: string, key: string): string => {
    if (dir) return dir;
    throw new Error(
      `data.kind=folder needs ${key}: a folder with one subfolder of images per class (data.train for training ` +
        `classes, data.test for other classes to test on)`,
    );
  };
  const tr = readImageFolder(need(cfg.data.train, 'data.train'));
  const te = readImageFolder(need(cfg.data.test, 'data.test'));
  return openImageSets(cfg, spec, {
    train: tr.samples,
    query: te.samples,
    gallery: null,
    classNames: { train: tr.classNames, test: te.classNames },
  });
}

async function openImageSets(cfg: TrainConfig, spec: DatasetSpec, s: Splits): Promise<OpenedDatasets> {
  const d = cfg.data;
  const small = await upscaleWarning(s.train, d.imageSize);
  if (small) console.warn(`dml: ${small}`);
  const { train: trainPipe, test: testPipe } = datasetPipelines(spec.transforms, d);
  if (!trainPipe) throw new Error(`data.kind=${spec.kind}: its transforms make no training pipeline for image files`);
  const limit = (samples: Sample[], n: number): Sample[] => (n > 0 ? samples.slice(0, n) : samples);
  const common = {
    seed: cfg.seed,
    workers: d.workers,
    skipBad: d.skipBad,
    cache: d.cache,
    ...(d.cacheMB > 0 ? { cacheMaxBytes: d.cacheMB * 2 ** 20 } : {}),
  };
  const trainLoader = new ImageLoader(limit(s.train, d.limitTrain), { ...common, pipeline: trainPipe });
  const trainEval = new ImageLoader(limit(s.train, d.limitTrain), { ...common, pipeline: testPipe });
  const queryLoader = new ImageLoader(limit(s.query, d.limitTest), { ...common, pipeline: testPipe });
  const galleryLoader = s.gallery
    ? new ImageLoader(limit(s.gallery, d.limitTest), { ...common, pipeline: testPipe })
    : null;
  const loaders = [trainLoader, trainEval, queryLoader, ...(galleryLoader ? [galleryLoader] : [])];
  return {
    train: trainLoader,
    trainEval,
    test: galleryLoader ? { query: queryLoader, gallery: galleryLoader } : { query: queryLoader },
    description:
      `${spec.kind}: ${trainLoader.labels.length} training images of ${trainLoader.numClasses} classes; ` +
      (galleryLoader
        ? `${queryLoader.labels.length} queries vs ${galleryLoader.labels.length} gallery images`
        : `${queryLoader.labels.length} test images (leave-one-out)`),
    classNames: s.classNames,
    close: async () => {
      await Promise.all(loaders.map((l) => l.close()));
    },
  };
}

/**
 * A warning when the images are much smaller than the crop the model sees (a 28-px image blown up to
 * 224 px costs 64× the compute for nothing): the median shorter side of a few images, from their headers.
 */
async function upscaleWarning(samples: readonly Sample[], crop: number, probe = 16): Promise<string | null> {
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
