// One-line progress with loss, images/s and ETA on a TTY; quiet elsewhere (logs and CI stay clean).

export class Progress {
  readonly #tty: boolean;
  #start = performance.now();
  #lastDraw = 0;
  constructor(readonly label: string, readonly total: number, stream: NodeJS.WriteStream = process.stderr) {
    this.#tty = Boolean(stream.isTTY) && !process.env.CI;
    this.stream = stream;
  }
  private readonly stream: NodeJS.WriteStream;
  update(done: number, info: { loss?: number; imagesPerSecond?: number } = {}): void {
    if (!this.#tty) return;
    const now = performance.now();
    if (now - this.#lastDraw < 100 && done < this.total) return;
    this.#lastDraw = now;
    const frac = this.total ? done / this.total : 1;
    const width = 24;
    const bar = '█'.repeat(Math.round(frac * width)).padEnd(width, '·');
    const elapsed = (now - this.#start) / 1000;
    const eta = done > 0 ? (elapsed / done) * (this.total - done) : 0;
    const parts = [`${this.label} ${bar} ${done}/${this.total}`];
    if (info.loss !== undefined) parts.push(`loss ${info.loss.toFixed(4)}`);
    if (info.imagesPerSecond !== undefined) parts.push(`${info.imagesPerSecond.toFixed(0)} img/s`);
    parts.push(`ETA ${formatSeconds(eta)}`);
    this.stream.write(`\r${parts.join('  ')}\x1b[K`);
  }
  done(): void {
    if (this.#tty) this.stream.write('\r\x1b[K');
  }
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${Math.round(s % 60).toString().padStart(2, '0')}s` : `${s.toFixed(0)}s`;
}
