// Progress with loss, images/s and ETA: a redrawn bar on a TTY; elsewhere (a log file, CI) one
// plain line to stdout at most every 30 s (DML_PROGRESS_SECONDS), so a long epoch is never silent.

/** Seconds between progress lines when the output is not a terminal (DML_PROGRESS_SECONDS, else `dflt`). */
export function lineInterval(dflt = 30): number {
  const raw = process.env.DML_PROGRESS_SECONDS;
  const v = Number(raw);
  return raw !== undefined && raw !== '' && Number.isFinite(v) && v >= 0 ? v : dflt;
}

/** The long steps other than training (embedding, MI, t-SNE) speak at least this often, in seconds. */
export const STEP_PROGRESS_SECONDS = 10;

export class Progress {
  readonly #tty: boolean;
  #start = performance.now();
  #lastDraw = 0;
  #lastLine = performance.now();
  readonly #interval: number;
  constructor(
    readonly label: string,
    readonly total: number,
    stream: NodeJS.WriteStream = process.stderr,
    readonly lines: NodeJS.WritableStream = process.stdout,
    readonly unit = 'step',
    intervalS = lineInterval(),
  ) {
    this.#interval = intervalS * 1000;
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
 * Progress of embedding a set, for the commands other than train: a header line at once (what is
 * embedded, how many images), then on a terminal a bar, otherwise a plain line at most every 10 s
 * (DML_PROGRESS_SECONDS), all on stderr (stdout may carry --json). undefined when quiet.
 */
export function embedProgress(label: string, quiet: boolean): ((done: number, total: number) => void) | undefined {
  if (quiet) return undefined;
  let bar: Progress | null = null;
  const t0 = performance.now();
  return (done, total) => {
    if (!bar) {
      process.stderr.write(`${label}: ${total} image${total === 1 ? '' : 's'}\n`);
      bar = new Progress(label, total, process.stderr, process.stderr, 'image', lineInterval(STEP_PROGRESS_SECONDS));
    }
    bar.update(done);
    if (done >= total) {
      bar.done();
      const s = (performance.now() - t0) / 1000;
      // A slow pass says how long it took, so a log shows where the time went.
      if (s >= STEP_PROGRESS_SECONDS) process.stderr.write(`${label}: ${total} images in ${formatSeconds(s)}\n`);
    }
  };
}

export interface HeartbeatOptions {
  /** Seconds between lines (default: DML_PROGRESS_SECONDS, else 10). */
  intervalS?: number;
  /** Where lines go (default: stderr). */
  write?: (line: string) => void;
  /** Milliseconds clock (tests). */
  now?: () => number;
}

/**
 * The voice of a long step that is not a pass over images (MI estimation, t-SNE): `start` says at
 * once what will be done on what, `beat` says how far it got at most once per interval, as plain
 * lines (no carriage returns: logs and terminals alike), so that no step is silent for long.
 */
export class Heartbeat {
  readonly #write: (line: string) => void;
  readonly #now: () => number;
  readonly #interval: number;
  #start = 0;
  #last = 0;
  constructor(
    readonly label: string,
    o: HeartbeatOptions = {},
  ) {
    this.#write = o.write ?? ((line) => process.stderr.write(`${line}\n`));
    this.#now = o.now ?? (() => performance.now());
    this.#interval = (o.intervalS ?? lineInterval(STEP_PROGRESS_SECONDS)) * 1000;
  }
  /** The header: what this step is about to do, before it does any of it. */
  start(what: string): void {
    this.#start = this.#last = this.#now();
    this.#write(`${this.label}: ${what}`);
  }
  /** A progress line when the interval has passed since the last line; `what` is built only then. */
  beat(what: () => string): void {
    const now = this.#now();
    if (now - this.#last < this.#interval) return;
    this.#last = now;
    this.#write(`${this.label}: ${what()}, ${formatSeconds((now - this.#start) / 1000)}`);
  }
  /** Seconds since start. */
  get seconds(): number {
    return (this.#now() - this.#start) / 1000;
  }
}
