// Deterministic release of native memory: tidy() disposes every tensor created inside it except
// those it returns or that were kept, in the spirit of tf.tidy. The GC finalizer is only a backstop.

export interface Disposable {
  dispose(): void;
  readonly isDisposed: boolean;
  /** Called when the object leaves every tidy scope: it now needs the GC backstop. */
  onEscape?(): void;
}

// Arrays, not Sets: push is the hot path (one per op inside tidy).
const stack: Disposable[][] = [];

/** Called by the engine for every new tensor; false when no scope is active. */
export function track(t: Disposable): boolean {
  const top = stack[stack.length - 1];
  if (!top) return false;
  top.push(t);
  return true;
}

/** Exempts tensors from the enclosing tidy scopes (e.g. parameters created inside one). */
export function keep<T extends Disposable>(t: T): T {
  for (const s of stack) {
    const i = s.lastIndexOf(t);
    if (i >= 0) s.splice(i, 1);
  }
  t.onEscape?.();
  return t;
}

function collect(value: unknown, out: Set<Disposable>, seen: Set<unknown>): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (typeof (value as Partial<Disposable>).dispose === 'function' && 'isDisposed' in (value as object)) {
    out.add(value as Disposable);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collect(v, out, seen);
  else if (value instanceof Map) for (const v of value.values()) collect(v, out, seen);
  else if (Object.getPrototypeOf(value) === Object.prototype)
    for (const v of Object.values(value)) collect(v, out, seen);
}

/**
 * Runs fn and disposes the tensors it created, except those reachable from its result (tensors,
 * arrays, plain objects, Maps), which move to the enclosing scope. fn must be synchronous: a
 * Promise result is refused because its tensors would outlive the scope.
 */
export function tidy<T>(fn: () => T): T {
  const scope: Disposable[] = [];
  stack.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    stack.pop();
    for (const t of scope) t.dispose();
    throw e;
  }
  stack.pop();
  if (result instanceof Promise) {
    for (const t of scope) t.dispose();
    throw new TypeError('tidy(fn): fn returned a Promise; tidy only scopes synchronous code');
  }
  const survivors = new Set<Disposable>();
  collect(result, survivors, new Set());
  const parent = stack[stack.length - 1];
  for (const t of scope) {
    if (!survivors.has(t)) t.dispose();
    else if (parent) parent.push(t);
    else t.onEscape?.();
  }
  return result;
}

/** Disposes every tensor found in the value (tensor, array, object, Map). */
export function dispose(value: unknown): void {
  const found = new Set<Disposable>();
  collect(value, found, new Set());
  for (const t of found) t.dispose();
}
