// Opens the configured dataset as a training source and evaluation sets.
import path from 'node:path';
import { findFashionMnist, loadIdxSplit } from '../data/idx.js';
import { ImageLoader } from '../data/loader.js';
import { readImageFolder, readList, readLists, type Sample } from '../data/list.js';
import { referencePipelines, type ReferenceDataset } from '../data/presets.js';
import type { TrainConfig } from './config.js';
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
  /** Stops loader worker threads. */
  close(): Promise<void>;
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
        description: `Fashion-MNIST (${dir}): train classes 0-4 (${train.labels.length} images), test on unseen classes 5-9 (${test.labels.length} images)`,
        close: async () => {},
      };
    }
    case 'cub': case 'cars': case 'sop': case 'inshop': case 'list': case 'folder':
      return openImages(cfg);
    default:
      throw new Error(`unknown data.kind '${String(d.kind)}'`);
  }
}

/** Image datasets: lists prepared by `dml prepare` (cub, cars, sop, inshop), list files or folders. */
function openImages(cfg: TrainConfig): OpenedDatasets {
  const d = cfg.data;
  const kind = d.kind;
  const inRoot = (name: string, explicit: string): string => explicit || (d.root ? path.join(d.root, name) : '');
  const need = (file: string, key: string): string => {
    if (!file) throw new Error(`data.kind=${kind} needs ${key} (or data.root with the lists written by \`dml prepare ${kind}\`)`);
    return file;
  };
  let train: Sample[], query: Sample[], gallery: Sample[] | null = null;
  if (kind === 'folder') {
    train = readImageFolder(need(d.train, 'data.train')).samples;
    query = readImageFolder(need(d.test, 'data.test')).samples;
  } else if (kind === 'inshop' || (kind === 'list' && d.query)) {
    train = readList(need(inRoot('train.txt', d.train), 'data.train')).samples;
    const qg = readLists([need(inRoot('query.txt', d.query), 'data.query'), need(inRoot('gallery.txt', d.gallery), 'data.gallery')]);
    [query, gallery] = [qg.lists[0]!, qg.lists[1]!];
  } else {
    train = readList(need(inRoot('train.txt', d.train), 'data.train')).samples;
    query = readList(need(inRoot('test.txt', d.test), 'data.test')).samples;
  }
  const ref = (kind === 'list' || kind === 'folder' ? 'cub' : kind) as ReferenceDataset;
  const crop = d.imageSize;
  const { train: trainPipe, test: testPipe } = referencePipelines(ref, { cropSize: crop, ...(d.resize > 0 ? { resize: ref === 'cub' || ref === 'inshop' ? d.resize : [d.resize, d.resize] } : {}) });
  const limit = (s: Sample[], n: number): Sample[] => (n > 0 ? s.slice(0, n) : s);
  const common = { seed: cfg.seed, workers: d.workers, skipBad: d.skipBad, cache: d.cache, ...(d.cacheMB > 0 ? { cacheMaxBytes: d.cacheMB * 2 ** 20 } : {}) };
  const trainLoader = new ImageLoader(limit(train, d.limitTrain), { ...common, pipeline: trainPipe });
  const trainEval = new ImageLoader(limit(train, d.limitTrain), { ...common, pipeline: testPipe });
  const queryLoader = new ImageLoader(limit(query, d.limitTest), { ...common, pipeline: testPipe });
  const galleryLoader = gallery ? new ImageLoader(limit(gallery, d.limitTest), { ...common, pipeline: testPipe }) : null;
  const loaders = [trainLoader, trainEval, queryLoader, ...(galleryLoader ? [galleryLoader] : [])];
  return {
    train: trainLoader,
    trainEval,
    test: galleryLoader ? { query: queryLoader, gallery: galleryLoader } : { query: queryLoader },
    description: `${kind}: ${trainLoader.labels.length} training images of ${trainLoader.numClasses} classes; `
      + (galleryLoader ? `${queryLoader.labels.length} queries vs ${galleryLoader.labels.length} gallery images` : `${queryLoader.labels.length} test images (leave-one-out)`),
    close: async () => { await Promise.all(loaders.map((l) => l.close())); },
  };
}
