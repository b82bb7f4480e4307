// The ONNX export's options and the checks of the input size (no onnx-proto types here: these
// declarations are part of the package's public types).
import { checkInputSize } from '../models/geometry';
import type { RepMLPNetConfig } from '../models/repmlpnet';

/** The operator set the graphs use (ONNX 1.12; Gelu is not a standard op before 20). */
export const ONNX_OPSET = 17;
/** The IR version that goes with opset 17. */
export const ONNX_IR_VERSION = 8;

export interface OnnxExportOptions {
  /**
   * Input height and width: one number (square) or [height, width]. Default: the size the
   * config was designed for, hs[0] * the patch height by ws[0] * the patch width. A larger map is cut
   * into several h x w partitions per block.
   */
  inputSize?: number | readonly [number, number];
  /**
   * Where a warning goes (default: a line on stderr): an input cut into several partitions
   * per map by a model of the default partition order (docs/MODELS.md, Partition order).
   */
  onWarning?: (message: string) => void;
}

/** Input [H, W] checked against the config: every stage's map a multiple of its partition. */
export function onnxInputSize(config: RepMLPNetConfig, inputSize: OnnxExportOptions['inputSize'], op = 'exportOnnx'): [number, number] {
  return checkInputSize(config, inputSize, op);
}
