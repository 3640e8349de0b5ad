// metrics.jsonl: one JSON object per line (train steps, evaluations, bounds, epochs), written by
// rank 0 alone, kept as one uninterrupted run across a --resume.
import { appendFileSync, existsSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomicSync } from '../../engine/serialize/file-io.js';

export class MetricsLog {
  readonly file: string;
  constructor(
    runDir: string,
    /** Only the main process writes; the others' records are dropped. */
    readonly writes: boolean,
  ) {
    this.file = path.join(runDir, 'metrics.jsonl');
  }

  record(entry: Record<string, unknown>): void {
    if (this.writes) appendFileSync(this.file, `${JSON.stringify(entry)}\n`);
  }

  /** A fresh start keeps an earlier run's log aside instead of appending to it. */
  setAside(): void {
    if (this.writes && existsSync(this.file)) renameSync(this.file, `${this.file}.${Date.now()}.old`);
  }

  /**
   * The killed run logged steps past its last checkpoint, which the resumed run will redo: drop
   * them (and a line torn by the kill) so metrics.jsonl reads as one uninterrupted run.
   */
  dropAfter(epoch: number, step: number): void {
    if (!this.writes || !existsSync(this.file)) return;
    const kept = readFileSync(this.file, 'utf8')
      .split('\n')
      .filter((line) => {
        try {
          const e = JSON.parse(line) as { epoch?: unknown; step?: unknown };
          return typeof e.epoch === 'number' && typeof e.step === 'number' && e.epoch <= epoch && e.step <= step;
        } catch {
          return false;
        }
      });
    writeFileAtomicSync(this.file, [Buffer.from(kept.map((l) => `${l}\n`).join(''))]);
  }
}
