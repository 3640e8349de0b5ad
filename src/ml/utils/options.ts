// Building a thing from an options object that came from a config or the command line, where a
// misspelt key would otherwise be ignored in silence: whatever the constructor never looked at is
// unknown to it. Shared by the loss and miner registries.

/**
 * Calls create(options) with the options watched, then refuses keys it never read, naming them and
 * the ones it did read. `release` frees what was built before the error is thrown.
 */
export function createChecked<T>(
  what: string,
  given: unknown,
  create: (o: Record<string, unknown>) => T,
  release: (made: T) => void = () => {},
): T {
  if (typeof given !== 'object' || given === null || Array.isArray(given))
    throw new TypeError(`${what}: options must be an object, got ${JSON.stringify(given)}`);
  const read = new Set<string>();
  const watched = new Proxy(given as Record<string, unknown>, {
    get(t, k, r) {
      if (typeof k === 'string') read.add(k);
      return Reflect.get(t, k, r) as unknown;
    },
    has(t, k) {
      if (typeof k === 'string') read.add(k);
      return Reflect.has(t, k);
    },
  });
  const made = create(watched);
  const unknown = Object.keys(given).filter((k) => !read.has(k));
  if (unknown.length) {
    release(made);
    const known = [...read].sort();
    throw new RangeError(
      `${what}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')} (it ` +
        `takes: ${known.join(', ') || 'none'})`,
    );
  }
  return made;
}
