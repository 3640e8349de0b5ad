// Loads the libtorch addon. Everything above this file sees only typed wrappers.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { applyOmpWaitDefault } from './omp-env.js';
import type { NativeBinding } from './native-ops.generated.js';

/** Opaque reference to a native tensor; only the engine looks inside. */
export interface Handle {
  readonly __tensorHandle: unique symbol;
}
/** Opaque reference to a native c10d process group. */
export interface GroupHandle {
  readonly __groupHandle: unique symbol;
}
/** Opaque reference to a native overlapped gradient reducer. */
export interface ReducerHandle {
  readonly __reducerHandle: unique symbol;
}
/** Opaque reference to a native random generator. */
export interface GeneratorHandle {
  readonly __generatorHandle: unique symbol;
}

/** The addon's typed surface: generated from src/native/ops.table, so no op is reachable untyped. */
export type { NativeBinding } from './native-ops.generated.js';

/** Names of the exports that are functions (imageSimd is a constant). */
export type NativeFnName = {
  [K in keyof NativeBinding]: NativeBinding[K] extends (...a: never[]) => unknown ? K : never;
}[keyof NativeBinding];

function addonPath(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // Source layout (src/engine) and compiled layout (dist/src/engine) both reach the repo root.
  for (const up of ['../..', '../../..']) {
    const p = path.resolve(here, up, 'build/Release/dml_native.node');
    if (existsSync(p)) return p;
  }
  throw new Error(
    'native addon build/Release/dml_native.node not found: run `npm run build:native` (needs libtorch-dev)',
  );
}

const require = createRequire(import.meta.url);
// Before the addon (and libtorch's libgomp with it) loads: libgomp reads its environment only then.
if (isMainThread) applyOmpWaitDefault();
export const native = require(addonPath()) as NativeBinding;
/** One op's function, looked up once (hot paths call it without a property lookup per call). */
export function op<K extends NativeFnName>(name: K): NativeBinding[K] {
  const f = native[name];
  if (typeof f !== 'function') throw new Error(`native op ${name} is missing from the addon`);
  return f;
}
