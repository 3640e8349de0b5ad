// A checkpoint argument as a file, without loading the engine (the CLI resolves it before it starts
// anything heavy).
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * A run folder of dml train stands for its best.safetensors (else last.safetensors), so every
 * command's --checkpoint takes either a folder or a file.
 */
export function resolveCheckpoint(checkpoint: string): string {
  let isDir: boolean;
  try {
    isDir = statSync(checkpoint).isDirectory();
  } catch {
    throw new Error(`${checkpoint}: checkpoint not found (give a checkpoint file or the run folder of dml train)`);
  }
  if (!isDir) return checkpoint;
  for (const name of ['best.safetensors', 'last.safetensors']) {
    const file = path.join(checkpoint, name);
    if (existsSync(file)) return file;
  }
  throw new Error(
    `${checkpoint}: a folder without best.safetensors or last.safetensors (give a run folder of dml train, or a ` +
      `checkpoint file)`,
  );
}
