// Engine-free checkpoint I/O: safetensors read/write and torch.save (zip) loading.

export * from './raw.js';
export {
  MAX_SAFETENSORS_HEADER_BYTES,
  MAX_SAFETENSORS_TENSORS,
  loadSafetensorsFile,
  loadSafetensorsFileSync,
  readSafetensors,
  saveSafetensorsFile,
  saveSafetensorsFileSync,
  writeSafetensors,
  type SafetensorsContents,
  type TensorCollection,
} from './safetensors.js';
export { loadTorchFile, loadTorchFileSync, loadTorchStateDict } from './torch-zip.js';
export { CHECKSUM_KEY, tensorChecksums, verifyChecksums, type Integrity } from './integrity.js';
export {
  INPUT_LIMITS,
  InputFileError,
  checkInputFile,
  formatBytes,
  inputLimit,
  limitVariable,
  openInputFileSync,
  readInputFile,
  readInputFileSync,
  readInputTextSync,
  type InputFormat,
  type InputSource,
} from './input-gate.js';
