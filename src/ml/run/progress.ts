// Progress with loss, images/s and ETA: a redrawn bar on a TTY; elsewhere (a log file, CI) one
// plain line to stdout at most every 30 s (DML_PROGRESS_SECONDS), so a long epoch is never silent.

/** Seconds between progress lines when the output is not a terminal. */
function lineInterval(): number {
  const v = Number(process.env.DML_PROGRESS_SECONDS);
  return Number.isFinite(v) && v >= 0 ? v : 30;
}

export class Progress {
  readonly #tty: boolean;
  #start = performance.now();
  #lastDraw = 0;
  #lastLine = performance.now();
  readonly #interval = lineInterval() * 1000;
  constructor(
    readonly label: string,
    readonly total: number,
    stream: NodeJS.WriteStream = process.stderr,
    readonly lines: NodeJS.WritableStream = process.stdout,
    readonly unit = 'step',
  ) {
    this.#tty = Boolean(stream.isTTY) && !process.env.CI;
    this.stream = stream;
  }
  private readonly stream: NodeJS.WriteStream;
  update(done: number, info: { loss?: number; imagesPerSecond?: number } = {}): void {
    const now = performance.now();
    if (!this.#tty) {
      if (now - this.#lastLine < this.#interval || done >= this.total) return;
      this.#lastLine = now;
      this.lines.write(`${this.#describe(done, now, info, `${this.unit} ${done}/${this.total}`)}\n`);
      return;
    }
    if (now - this.#lastDraw < 100 && done < this.total) return;
    this.#lastDraw = now;
    const frac = this.total ? done / this.total : 1;
    const width = 24;
    const bar = '█'.repeat(Math.round(frac * width)).padEnd(width, '·');
    this.stream.write(`\r${this.#describe(done, now, info, `${bar} ${done}/${this.total}`)}\x1b[K`);
  }
  #describe(done: number, now: number, info: { loss?: number; imagesPerSecond?: number }, where: string): string {
    const elapsed = (now - this.#start) / 1000;
    const eta = done > 0 ? (elapsed / done) * (this.total - done) : 0;
    const parts = [`${this.label} ${where}`];
    if (info.loss !== undefined) parts.push(`loss ${info.loss.toFixed(4)}`);
    if (info.imagesPerSecond !== undefined) parts.push(`${info.imagesPerSecond.toFixed(0)} img/s`);
    parts.push(`ETA ${formatSeconds(eta)}`);
    return parts.join('  ');
  }
  done(): void {
    if (this.#tty) this.stream.write('\r\x1b[K');
  }
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m > 0
    ? `${m}m${Math.round(s % 60)
        .toString()
        .padStart(2, '0')}s`
    : `${s.toFixed(0)}s`;
}

/**
 * Progress of embedding a set, for the commands other than train: on a terminal a bar, otherwise a
 * line at most every 30 s, both on stderr (stdout may carry --json). undefined when quiet.
 */
export function embedProgress(label: string, quiet: boolean): ((done: number, total: number) => void) | undefined {
  if (quiet) return undefined;
  let bar: Progress | null = null;
  return (done, total) => {
    bar ??= new Progress(label, total, process.stderr, process.stderr, 'image');
    bar.update(done);
    if (done >= total) bar.done();
  };
}
