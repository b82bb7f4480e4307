// ONNX export of RepMLPNet (deploy form, opset 17, dynamic batch).
export { ONNX_IR_VERSION, ONNX_OPSET, decodeOnnx, encodeOnnx, exportOnnx, onnxInputSize, onnxModel, writeOnnx, type OnnxExportOptions } from './export';
