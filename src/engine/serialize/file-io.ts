// Whole-file reads that work past fs.readFile's 2 GiB cap (through the input gate), and atomic writes
// (temp file in the same directory + fsync + rename) so a crash mid-save never
// leaves a truncated checkpoint under the final name.

import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { readInputFile, readInputFileSync, type InputSource } from './input-gate.js';

// Below the 2^31-1 byte limit of a single read(2) call through Node.
const READ_CHUNK = 1 << 30;

/**
 * A whole file, through the input gate (a regular file within its format's size, never a FIFO or
 * a device); `src` says what it is read as and where its path came from, for errors.
 */
export function readWholeFileSync(path: string, src: InputSource = { format: 'weights' }): Uint8Array {
  const b = readInputFileSync(path, src);
  // A plain Uint8Array view keeps results structurally comparable with Uint8Arrays built
  // elsewhere (Buffer has a different prototype).
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export async function readWholeFile(path: string, src: InputSource = { format: 'weights' }): Promise<Uint8Array> {
  const b = await readInputFile(path, src);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

function writeAllSync(fd: number, chunk: Uint8Array): void {
  let off = 0;
  while (off < chunk.byteLength) {
    off += fs.writeSync(fd, chunk, off, Math.min(READ_CHUNK, chunk.byteLength - off));
  }
}

// Persisting the rename needs the directory entry flushed too; some platforms
// (Windows, some network filesystems) refuse to fsync a directory, which only
// weakens durability, not atomicity, so failures are ignored.
function syncDirSync(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // best effort
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

async function syncDir(dir: string): Promise<void> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(dir, 'r');
    await fh.sync();
  } catch {
    // best effort
  } finally {
    await fh?.close();
  }
}

const WRITE_REASONS: Readonly<Record<string, string>> = {
  ENOSPC: 'no space left on device (ENOSPC)',
  EDQUOT: 'disk quota exceeded (EDQUOT)',
  EFBIG: 'the file is too large for the file system (EFBIG)',
  EROFS: 'the file system is read-only (EROFS)',
  EACCES: 'permission denied (EACCES)',
  EIO: 'an I/O error (EIO)',
};

/**
 * A failed write names the file it was writing: Node's own message for a full disk is "ENOSPC: no
 * space left on device, write", which does not say which of a run's outputs could not be saved.
 */
export function writeError(path: string, err: unknown): Error {
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.code !== 'string' || !e.syscall) return err as Error;
  const why = WRITE_REASONS[e.code] ?? e.message;
  const out = new Error(`${path}: cannot write: ${why}`, { cause: err });
  (out as NodeJS.ErrnoException).code = e.code;
  return out;
}

export function writeFileAtomicSync(path: string, chunks: readonly Uint8Array[]): void {
  const tmp = tempPathFor(path);
  let fd: number;
  try {
    fd = fs.openSync(tmp, 'wx', 0o666);
  } catch (err) {
    throw writeError(path, err);
  }
  try {
    try {
      for (const chunk of chunks) writeAllSync(fd, chunk);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, path);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw writeError(path, err);
  }
  syncDirSync(dirname(path));
}

export async function writeFileAtomic(path: string, chunks: readonly Uint8Array[]): Promise<void> {
  const tmp = tempPathFor(path);
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(tmp, 'wx', 0o666);
  } catch (err) {
    throw writeError(path, err);
  }
  try {
    try {
      for (const chunk of chunks) {
        let off = 0;
        while (off < chunk.byteLength) {
          const { bytesWritten } = await fh.write(chunk, off, Math.min(READ_CHUNK, chunk.byteLength - off));
          off += bytesWritten;
        }
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, path);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw writeError(path, err);
  }
  await syncDir(dirname(path));
}

/**
 * Removes the temporary files that writers of `path` left behind when they died mid-write (the
 * pid in the name is not a live process); a live writer's file is kept. Returns the files removed.
 */
export function removeStaleTempFiles(path: string): string[] {
  const dir = dirname(path);
  const prefix = `.${basename(path)}.`;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const m = /^(\d+)\.[0-9a-f]+\.tmp$/.exec(name.slice(prefix.length));
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || isAlive(pid)) continue;
    try {
      fs.rmSync(join(dir, name), { force: true });
      removed.push(join(dir, name));
    } catch {
      // Another process removed it first, or the folder is read-only: nothing to clean.
    }
  }
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
