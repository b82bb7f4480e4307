// ONNX export of RepMLPNet (deploy form, opset 17, dynamic batch).
export { exportOnnx, writeOnnx, type OnnxSummary } from './export';
export { ONNX_IR_VERSION, ONNX_OPSET, onnxInputSize, type OnnxExportOptions } from './options';
