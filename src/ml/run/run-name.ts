// The run folder of a run on the user's own data, when the configuration names none: runs/<name of
// the data>, so that two data sets do not share runs/latest (or a preset's folder) by default.
import { homedir } from 'node:os';
import path from 'node:path';
import type { TrainConfig } from './config/keys.js';

/** The deepest folder holding every path (null when they share only the file system's root). */
function commonFolder(paths: readonly string[]): string | null {
  const split = paths.map((p) => path.resolve(p).split(path.sep));
  const first = split[0]!;
  let n = 0;
  while (n < first.length && split.every((s) => s[n] === first[n])) n++;
  const common = first.slice(0, n).join(path.sep);
  return common === '' ? null : common;
}

/** A name safe as one path component: letters, digits, '.', '_' and '-'. */
const safe = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '');

/**
 * The data's name: data.root's folder name, else the folder that holds data.train and data.test (or
 * query and gallery), e.g. `photos` for ~/photos/train and ~/photos/test; with one path, its own name
 * without the extension. 'latest' when nothing names the data.
 */
export function dataName(d: TrainConfig['data']): string {
  if (d.root) return safe(path.basename(path.resolve(d.root))) || 'latest';
  const paths = [d.train, d.test, d.query, d.gallery].filter((p) => p !== '');
  if (paths.length === 0) return 'latest';
  const common = paths.length > 1 ? commonFolder(paths) : null;
  // Paths that meet only at the home folder or above say nothing about the data.
  const home = homedir();
  const meaningful = common !== null && common !== home && !home.startsWith(`${common}${path.sep}`);
  const name = meaningful ? path.basename(common) : path.parse(path.resolve(paths[0]!)).name;
  return safe(name) || 'latest';
}

/** runs/<data name>: the run folder of an own-data run that sets no `out`. */
export const ownDataRunFolder = (cfg: TrainConfig): string => `runs/${dataName(cfg.data)}`;
