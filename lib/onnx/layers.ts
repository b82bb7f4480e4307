// The ONNX nodes of the layers every exported model is made of: convs with their BN folded
// (or a deploy-form ConvBN's own bias), 1x1 convs with a bias, inference-mode BatchNormalization,
// exact GELU, and the check that a Transpose moves data. Weights are copied to the host.
import { fail } from '../errors';
import { foldConvBn } from '../models/fold';
import type { BatchNorm2d, Conv2d, ConvBN, Linear } from '../nn/layers';
import type { Tensor } from '../tensor';
import type { GraphBuilder } from './graph';

const OP = 'exportOnnx';

export function host(t: Tensor): Float32Array {
  return t.toFloat32Array();
}

export function convAttrs(conv: Conv2d) {
  const { kernelSize: k, stride: s, padding: [ph, pw], groups } = conv;
  return { kernel_shape: { ints: [...k] }, strides: { ints: [...s] }, pads: { ints: [ph, pw, ph, pw] }, group: { int: groups } };
}

/** Conv with the BN folded in [-> Relu | GELU]. */
export function convBn(g: GraphBuilder, name: string, m: ConvBN, x: string): string {
  const { weight, bias } = m.bn ? foldConvBn(m.conv, m.bn) : { weight: host(m.conv.weight), bias: host(m.conv.bias!) };
  const w = g.float(`${name}.weight`, m.conv.weight.shape, weight);
  const b = g.float(`${name}.bias`, [bias.length], bias);
  const y = g.node('Conv', [x, w, b], `${name}.conv`, convAttrs(m.conv));
  if (m.activation === 'relu') return g.node('Relu', [y], `${name}.relu`);
  return m.activation === 'gelu' ? gelu(g, `${name}.gelu`, y) : y;
}

/** A 1x1 conv with its own bias (the Global Perceptron's fc1 and fc2). */
export function conv(g: GraphBuilder, name: string, m: Conv2d, x: string): string {
  if (!m.bias) fail(OP, name, 'a conv with a bias', 'one without');
  const w = g.float(`${name}.weight`, m.weight.shape, host(m.weight));
  const b = g.float(`${name}.bias`, m.bias.shape, host(m.bias));
  return g.node('Conv', [x, w, b], name, convAttrs(m));
}

/** BatchNormalization in inference mode (running statistics). */
export function batchNorm(g: GraphBuilder, name: string, bn: BatchNorm2d, x: string): string {
  const C = bn.weight.shape[0];
  const inputs = [x];
  for (const [key, t] of [['weight', bn.weight], ['bias', bn.bias], ['running_mean', bn.runningMean], ['running_var', bn.runningVar]] as const)
    inputs.push(g.float(`${name}.${key}`, [C], host(t)));
  return g.node('BatchNormalization', inputs, name, { epsilon: { float: bn.eps } });
}

/** Exact GELU: 0.5 * x * (1 + erf(x / sqrt(2))). */
export function gelu(g: GraphBuilder, name: string, x: string): string {
  const d = g.node('Div', [x, g.scalar(Math.SQRT2)], `${name}.div`);
  const e = g.node('Erf', [d], `${name}.erf`);
  const a = g.node('Add', [e, g.scalar(1)], `${name}.add`);
  const m = g.node('Mul', [x, a], `${name}.mul`);
  return g.node('Mul', [m, g.scalar(0.5)], name);
}

/**
 * A Transpose that moves only size-1 axes (the others keep their order) leaves the memory
 * order unchanged: a Reshape suffices. `dims` are the input sizes, null for the batch.
 */
export function movesData(dims: readonly (number | null)[], perm: readonly number[]): boolean {
  const order = perm.filter((a) => dims[a] !== 1);
  return order.some((a, i) => i > 0 && a < order[i - 1]);
}

/** A Linear layer as Gemm (transB), with its bias; `output` names a graph output. */
export function gemm(g: GraphBuilder, name: string, m: Linear, x: string, output?: string): string {
  if (!m.bias) fail(OP, name, 'a linear layer with a bias', 'one without');
  const w = g.float(`${name}.weight`, m.weight.shape, host(m.weight));
  const b = g.float(`${name}.bias`, m.bias.shape, host(m.bias));
  return g.node('Gemm', [x, w, b], name, { transB: { int: 1 } }, output);
}
