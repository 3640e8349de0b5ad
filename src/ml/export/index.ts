// Model export: ONNX for serving embeddings without libtorch.
export { exportOnnx, saveOnnx, DEFAULT_OPSET, ONNX_INPUT, type OnnxExportOptions } from './onnx.js';
export { describePreprocessing, type InputNormalization } from './preprocessing.js';
