// The ONNX export's options and the checks of the input size (no onnx-proto types here: these
// declarations are part of the package's public types).
import { describe, fail } from '../errors';
import { checkInputSize, designedInputSize } from '../models/input-size';
import type { RepMLPNetConfig } from '../models/repmlpnet';

/** The operator set the graphs use (ONNX 1.12; Gelu is not a standard op before 20). */
export const ONNX_OPSET = 17;
/** The IR version that goes with opset 17. */
export const ONNX_IR_VERSION = 8;

export interface OnnxExportOptions {
  /**
   * Input height and width: one number (square) or [height, width]. Default: the size the
   * config was designed for, hs[0] * patchSize by ws[0] * patchSize. A larger map is cut
   * into several h x w partitions per block.
   */
  inputSize?: number | readonly [number, number];
}

/** Input [H, W] checked against the config: every stage's map a multiple of its partition. */
export function onnxInputSize(config: RepMLPNetConfig, inputSize: OnnxExportOptions['inputSize'], op = 'exportOnnx'): [number, number] {
  let size: [number, number];
  if (inputSize === undefined) size = designedInputSize(config);
  else if (typeof inputSize === 'number') size = [inputSize, inputSize];
  else if (Array.isArray(inputSize) && inputSize.length === 2) size = [inputSize[0], inputSize[1]];
  else return fail(op, 'inputSize', 'a positive integer or [height, width]', describe(inputSize));
  if (!size.every((d) => Number.isInteger(d) && d >= 1)) fail(op, 'inputSize', 'positive integers', describe(inputSize));
  checkInputSize(config, size, op);
  return size;
}
