// A checkpoint argument as a file, without loading the engine (the CLI resolves it before it starts
// anything heavy).
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { checkInputFile, type InputSource } from '../../engine/serialize/input-gate.js';

const CHECKPOINT: InputSource = { format: 'checkpoint', from: '--checkpoint' };

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
  // The input gate refuses a FIFO, a device or an oversized file by what it is, before anything opens it.
  if (!isDir) {
    checkInputFile(checkpoint, CHECKPOINT);
    return checkpoint;
  }
  for (const name of ['best.safetensors', 'last.safetensors']) {
    const file = path.join(checkpoint, name);
    if (!existsSync(file)) continue;
    checkInputFile(file, CHECKPOINT);
    return file;
  }
  throw new Error(
    `${checkpoint}: a folder without best.safetensors or last.safetensors (give a run folder of dml train, or a ` +
      `checkpoint file)`,
  );
}
