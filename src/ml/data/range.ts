// Sample ranges: the shard of a data set one process of a multi-process job reads.
/** [start, end) of a sample range, checked (the whole set when range is undefined). */
export function checkRange(
  range: { start: number; end: number } | undefined,
  size: number,
  where: string,
): [number, number] {
  if (!range) return [0, size];
  const { start, end } = range;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || end > size) {
    throw new RangeError(`${where}: range [${start}, ${end}) is not within [0, ${size}]`);
  }
  return [start, end];
}

/**
 * Rows [start, end) of n that rank `rank` of `size` holds: contiguous, in rank order, sizes differing by at most one.
 */
export function shardRange(n: number, rank: number, size: number): { start: number; end: number } {
  return { start: Math.floor((rank * n) / size), end: Math.floor(((rank + 1) * n) / size) };
}
