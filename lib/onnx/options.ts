// The ONNX export's options and the checks of the input size (no onnx-proto types here: these
// declarations are part of the package's public types).
import { describe, fail } from '../errors';
import type { ModelConfig } from '../models/families';

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

/**
 * Input [H, W] checked against the config: for RepMLPNet every stage's map a multiple of its
 * partition; the 2021 models (a config with `arch`) are built for one input size (their Global
 * Perceptrons' FC sizes depend on it), imgH x imgW.
 */
export function onnxInputSize(config: ModelConfig, inputSize: OnnxExportOptions['inputSize'], op = 'exportOnnx'): [number, number] {
  if ('arch' in config) {
    const fixed: [number, number] = [config.imgH, config.imgW];
    const given = inputSize === undefined ? fixed : typeof inputSize === 'number' ? [inputSize, inputSize] : inputSize;
    if (!Array.isArray(given) || given.length !== 2 || given[0] !== fixed[0] || given[1] !== fixed[1])
      fail(op, 'inputSize', `the input size the ${config.arch} config is built for, ${fixed[0]} x ${fixed[1]}`, describe(inputSize));
    return fixed;
  }
  const { patchSize: p, hs, ws } = config;
  let size: [number, number];
  if (inputSize === undefined) size = [hs[0] * p, ws[0] * p];
  else if (typeof inputSize === 'number') size = [inputSize, inputSize];
  else if (Array.isArray(inputSize) && inputSize.length === 2) size = [inputSize[0], inputSize[1]];
  else return fail(op, 'inputSize', 'a positive integer or [height, width]', describe(inputSize));
  if (!size.every((d) => Number.isInteger(d) && d >= 1)) fail(op, 'inputSize', 'positive integers', describe(inputSize));
  const [H, W] = size;
  for (let i = 0; i < hs.length; i++) {
    const f = p * 2 ** i;
    const Hi = H / f, Wi = W / f;
    if (!Number.isInteger(Hi) || !Number.isInteger(Wi) || Hi % hs[i] || Wi % ws[i])
      fail(op, 'inputSize',
        `a height and width whose stage-${i + 1} map (input / ${f}) is a multiple of its partition ${hs[i]} x ${ws[i]}`,
        `${H} x ${W} (stage-${i + 1} map ${+Hi.toFixed(3)} x ${+Wi.toFixed(3)})`);
  }
  return size;
}
