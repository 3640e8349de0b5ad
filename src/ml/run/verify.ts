// dml verify's logic: every checkpoint of a run folder (or one file) read whole through the input
// gate and checked against the tensor checksums its metadata records, without loading the engine's
// native side, so that a damaged file is found before a long eval or a resume trusts it.
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { readInputFileSync } from '../../engine/serialize/input-gate.js';
import { verifyChecksums } from '../../engine/serialize/integrity.js';
import { readSafetensors } from '../../engine/serialize/safetensors.js';
import { loadTorchStateDict } from '../../engine/serialize/torch-zip.js';

export interface VerifiedFile {
  file: string;
  /** 'ok': every tensor matched; 'unchecked': readable, but the file has no checksums; 'damaged': refused. */
  status: 'ok' | 'unchecked' | 'damaged';
  /** One line for the user: the file, what was checked or what is wrong. */
  line: string;
}

/** The checkpoint files a path stands for: a folder's *.safetensors (sorted), or the file itself. */
export function checkpointFilesOf(target: string): string[] {
  let st;
  try {
    st = statSync(target);
  } catch {
    throw new Error(`${target}: no such file or folder`);
  }
  if (!st.isDirectory()) return [target];
  const files = readdirSync(target)
    .filter((n) => n.endsWith('.safetensors') && !n.startsWith('.'))
    .sort()
    .map((n) => path.join(target, n));
  if (files.length === 0) throw new Error(`${target}: a folder without .safetensors files`);
  return files;
}

/** Reads and checks one file; never throws (a damaged file is a result). */
export function verifyFile(file: string): VerifiedFile {
  try {
    const bytes = readInputFileSync(file, { format: 'checkpoint' });
    const buf = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const isZip = buf.length >= 4 && buf[0] === 0x50 && buf[1] === 0x4b && buf[2] === 0x03 && buf[3] === 0x04;
    const { tensors, metadata } = isZip
      ? { tensors: loadTorchStateDict(buf, file), metadata: {} }
      : readSafetensors(buf, file);
    const n = `${tensors.size} tensor${tensors.size === 1 ? '' : 's'}`;
    return verifyChecksums(tensors, metadata, file) === 'verified'
      ? { file, status: 'ok', line: `ok         ${file}: ${n}, every checksum matches` }
      : {
          file,
          status: 'unchecked',
          line: `unchecked  ${file}: ${n}, readable, but it records no checksums (an older dml-ts or another tool)`,
        };
  } catch (e) {
    const msg = (e as Error).message;
    return { file, status: 'damaged', line: `DAMAGED    ${msg.includes(file) ? msg : `${file}: ${msg}`}` };
  }
}
