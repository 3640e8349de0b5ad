// Angles in loss options are radians throughout dml-ts (ArcFace's margin set the rule), while
// pytorch-metric-learning takes degrees for several losses. A degree value is almost always
// outside the radian range a loss accepts, so it is refused with the conversion instead of being
// read as radians.

/** Checks 0 ≤ v ≤ max (v < max with openMax; v > 0 with openMin) and names the unit on failure. */
export function checkAngle(
  where: string,
  name: string,
  v: number,
  o: { max: number; openMax?: boolean; openMin?: boolean },
): void {
  const ok = Number.isFinite(v) && (o.openMin ? v > 0 : v >= 0) && (o.openMax ? v < o.max : v <= o.max);
  if (!ok) {
    const deg = Number.isFinite(v) ? ` (if you meant ${v}°, that is ${((v * Math.PI) / 180).toPrecision(4)} rad)` : '';
    throw new RangeError(
      `${where}: ${name} is an angle in radians and must be in ${o.openMin ? '(' : '['}0, ` +
        `${o.max.toPrecision(4)}${o.openMax ? ')' : ']'}, got ${v}${deg}`,
    );
  }
}

export const degrees = (d: number): number => (d * Math.PI) / 180;
