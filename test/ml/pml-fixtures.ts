// The fixtures of scripts/fixtures/make_pml_misc_fixtures.py (pytorch-metric-learning 2.9.0 and
// scikit-learn, float64), shared by the miner, reducer, regularizer, distance, sampler and metric tests.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/pml');

export function loadPml<T>(name: 'miners' | 'reducers' | 'regularizers' | 'distances' | 'samplers' | 'metrics'): T {
  return JSON.parse(readFileSync(path.join(DIR, `${name}.json`), 'utf8')) as T;
}
