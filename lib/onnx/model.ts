// ONNX export of RepMLPNet's deploy form (opset 17, standard ops only), mirroring the
// eval-mode forward of lib/models/repmlpnet.ts node by node:
//
//   input [batch, Cin, H, W]
//   conv_embedding, embeds.i: Conv (BN folded into its weight and bias) -> Relu
//   unit: y = x + block(BatchNormalization(x)); z = y + ffn(BatchNormalization(y))
//   block: gate = Sigmoid(Conv(Relu(Conv(GlobalAveragePool(x)))))            (N, C, 1, 1)
//          x (N, C, H, W) -> Reshape (N, C/S, S, H/h, h, W/w, w)
//            -> Transpose (S, N, H/h, W/w, C/S, h, w) -> Reshape (S, M, h*w)
//            -> MatMul fc3 (S, h*w, h*w) -> Add fc3 bias (S, 1, h*w)
//            -> the inverse Reshape / Transpose / Reshape (partitionOrder 'reference': the
//               reference code's order of partitions and channel groups) -> Mul gate
//   ffn: Conv 1x1 (BN folded) -> GELU as 0.5 * x * (1 + Erf(x / sqrt 2)) -> Conv 1x1 (BN folded)
//   head: BatchNormalization -> GlobalAveragePool -> Flatten -> Gemm -> logits [batch, classes]
//
// Every Reshape infers the batch with a single -1, so one model serves any batch size. BNs
// that follow a conv are folded in float64 (exact up to float32 rounding of the result);
// prebn1, prebn2 and head_norm stay BatchNormalization nodes (they sit before a residual
// branch or a pool). A training-form model is converted by Locality Injection on a copy.
//
// This module's types reference onnx-proto; the public API (export.ts, options.ts) does not,
// so that the package's declarations need no protobufjs or Long types.
import type { onnx } from 'onnx-proto';
import { describe, fail, warnOnStderr } from '../errors';
import { packageVersion } from '../info';
import { partitionOrderWarning, patchPair } from '../models/geometry';
import { RepMLPNet, type RepMLPBlock, type RepMLPNetUnit } from '../models/repmlpnet';
import type { BatchNorm2d, Conv2d, ConvBN } from '../nn/layers';
import type { Tensor } from '../tensor';
import { GraphBuilder } from './graph';
import { ONNX_IR_VERSION, ONNX_OPSET, onnxInputSize, type OnnxExportOptions } from './options';

const OP = 'exportOnnx';

function host(t: Tensor): Float32Array {
  return t.toFloat32Array();
}

// ---- layers ----

/** A conv followed by a BN, folded: weight * gamma / sigma and beta - mu * gamma / sigma. */
function foldBn(conv: Conv2d, bn: BatchNorm2d): { weight: Float32Array; bias: Float32Array } {
  const w = host(conv.weight);
  const gamma = host(bn.weight), beta = host(bn.bias), mean = host(bn.runningMean), variance = host(bn.runningVar);
  const O = gamma.length, per = w.length / O;
  const weight = new Float32Array(w.length), bias = new Float32Array(O);
  for (let o = 0; o < O; o++) {
    const scale = gamma[o] / Math.sqrt(variance[o] + bn.eps);
    for (let j = o * per; j < (o + 1) * per; j++) weight[j] = w[j] * scale;
    bias[o] = beta[o] - mean[o] * scale;
  }
  return { weight, bias };
}

function convAttrs(conv: Conv2d) {
  const { kernelSize: k, stride: s, padding: [ph, pw], groups } = conv;
  return { kernel_shape: { ints: [...k] }, strides: { ints: [...s] }, pads: { ints: [ph, pw, ph, pw] }, group: { int: groups } };
}

/** Conv with the BN folded in [-> Relu | GELU]. */
function convBn(g: GraphBuilder, name: string, m: ConvBN, x: string): string {
  const { weight, bias } = foldBn(m.conv, m.bn);
  const w = g.float(`${name}.weight`, m.conv.weight.shape, weight);
  const b = g.float(`${name}.bias`, [bias.length], bias);
  const y = g.node('Conv', [x, w, b], `${name}.conv`, convAttrs(m.conv));
  if (m.activation === 'relu') return g.node('Relu', [y], `${name}.relu`);
  return m.activation === 'gelu' ? gelu(g, `${name}.gelu`, y) : y;
}

/** A 1x1 conv with its own bias (the Global Perceptron's fc1 and fc2). */
function conv(g: GraphBuilder, name: string, m: Conv2d, x: string): string {
  if (!m.bias) fail(OP, name, 'a conv with a bias', 'one without');
  const w = g.float(`${name}.weight`, m.weight.shape, host(m.weight));
  const b = g.float(`${name}.bias`, m.bias.shape, host(m.bias));
  return g.node('Conv', [x, w, b], name, convAttrs(m));
}

/** BatchNormalization in inference mode (running statistics). */
function batchNorm(g: GraphBuilder, name: string, bn: BatchNorm2d, x: string): string {
  const C = bn.weight.shape[0];
  const inputs = [x];
  for (const [key, t] of [['weight', bn.weight], ['bias', bn.bias], ['running_mean', bn.runningMean], ['running_var', bn.runningVar]] as const)
    inputs.push(g.float(`${name}.${key}`, [C], host(t)));
  return g.node('BatchNormalization', inputs, name, { epsilon: { float: bn.eps } });
}

/** Exact GELU: 0.5 * x * (1 + erf(x / sqrt(2))). */
function gelu(g: GraphBuilder, name: string, x: string): string {
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
function movesData(dims: readonly (number | null)[], perm: readonly number[]): boolean {
  const order = perm.filter((a) => dims[a] !== 1);
  return order.some((a, i) => i > 0 && a < order[i - 1]);
}

/** The RepMLP block in the deploy form on a (N, C, H, W) map. */
function repmlpBlock(g: GraphBuilder, name: string, blk: RepMLPBlock, x: string, H: number, W: number): string {
  const { C, h, w, S } = blk;
  if (!blk.deploy || !blk.fc3.bias) fail(OP, name, 'a block in the deploy form (after localityInjection(): fc3 with a bias)', 'one that is not');
  const hw = h * w, hp = H / h, wp = W / w;
  // Global Perceptron: the gate (N, C, 1, 1)
  const pooled = g.node('GlobalAveragePool', [x], `${name}.gp.pool`);
  const a = conv(g, `${name}.gp.fc1`, blk.gp.fc1, pooled);
  const r = g.node('Relu', [a], `${name}.gp.relu`);
  const b = conv(g, `${name}.gp.fc2`, blk.gp.fc2, r);
  const gate = g.node('Sigmoid', [b], `${name}.gp.sigmoid`);

  // fc3 weight (S*hw, hw, 1, 1): row s*hw + o, column i -> (S, hw_in, hw_out) for MatMul
  const w3 = host(blk.fc3.weight);
  const wt = new Float32Array(S * hw * hw);
  for (let s = 0; s < S; s++)
    for (let o = 0; o < hw; o++) {
      const row = (s * hw + o) * hw;
      for (let i = 0; i < hw; i++) wt[(s * hw + i) * hw + o] = w3[row + i];
    }
  const weight = g.float(`${name}.fc3.weight`, [S, hw, hw], wt);
  const bias = g.float(`${name}.fc3.bias`, [S, 1, hw], host(blk.fc3.bias));

  // Partition and share-sets: channel c = (c / S) * S + s uses set s; one row per vector of
  // h*w values, rows grouped by set. Axes of the 7-d view: N, C/S, S, H/h, h, W/w, w.
  const view = [null, C / S, S, hp, h, wp, w];
  const perm = [2, 0, 3, 5, 1, 4, 6]; // -> S, N, H/h, W/w, C/S, h, w
  const inverse = perm.map((_, j) => perm.indexOf(j));
  const split = g.node('Reshape', [x, g.shape([-1, C / S, S, hp, h, wp, w])], `${name}.partition.reshape`);
  const moved = movesData(view, perm) ? g.node('Transpose', [split], `${name}.partition.transpose`, { perm: { ints: perm } }) : split;
  const rows = g.node('Reshape', [moved, g.shape([S, -1, hw])], `${name}.fc3.rows`);
  const mm = g.node('MatMul', [rows, weight], `${name}.fc3.matmul`);
  const fc = g.node('Add', [mm, bias], `${name}.fc3.add`);
  // Back: the rows of one image are (H/h, W/w, C/S) in the paper's order; the reference
  // code's partition_affine reads them as (C/S, H/h, W/w) (docs/MODELS.md, Partition order).
  const reference = blk.partitionOrder === 'reference' && hp * wp > 1;
  const partsDims = reference ? [S, null, C / S, hp, wp, h, w] : perm.map((a2) => view[a2]);
  const backPerm = reference ? [1, 2, 0, 3, 5, 4, 6] : inverse; // -> N, C/S, S, H/h, h, W/w, w
  const parts = g.node('Reshape', [fc, g.shape(partsDims.map((d) => d ?? -1))], `${name}.unpartition.reshape`);
  const back = movesData(partsDims, backPerm) ? g.node('Transpose', [parts], `${name}.unpartition.transpose`, { perm: { ints: backPerm } }) : parts;
  const map = g.node('Reshape', [back, g.shape([-1, C, H, W])], `${name}.unpartition.map`);
  return g.node('Mul', [map, gate], `${name}.gate`);
}

function unit(g: GraphBuilder, name: string, u: RepMLPNetUnit, x: string, H: number, W: number): string {
  const a = batchNorm(g, `${name}.prebn1`, u.prebn1, x);
  const b = repmlpBlock(g, `${name}.repmlp_block`, u.repmlpBlock, a, H, W);
  const y = g.node('Add', [x, b], `${name}.add1`);
  const c = batchNorm(g, `${name}.prebn2`, u.prebn2, y);
  const f1 = convBn(g, `${name}.ffn_block.ffn_fc1`, u.ffnBlock.ffnFc1, c);
  const f2 = convBn(g, `${name}.ffn_block.ffn_fc2`, u.ffnBlock.ffnFc2, f1);
  return g.node('Add', [y, f2], `${name}.add2`);
}

// ---- the model ----

/** The graph of a deploy-form model. */
function deployGraph(model: RepMLPNet, [H, W]: [number, number]): onnx.IGraphProto {
  const cfg = model.config;
  const g = new GraphBuilder();
  const input = g.reserve('input');
  const logits = g.reserve('logits');
  let x = convBn(g, 'conv_embedding', model.convEmbedding, input);
  const [ph, pw] = patchPair(cfg);
  let h = H / ph, w = W / pw;
  model.stages.items.forEach((stage, i) => {
    stage.items.forEach((u, j) => (x = unit(g, `stages.${i}.${j}`, u, x, h, w)));
    if (i < model.embeds.items.length) {
      x = convBn(g, `embeds.${i}`, model.embeds.items[i], x);
      h /= 2;
      w /= 2;
    }
  });
  const nrm = batchNorm(g, 'head_norm', model.headNorm, x);
  const pooled = g.node('GlobalAveragePool', [nrm], 'head.pool');
  const flat = g.node('Flatten', [pooled], 'head.flatten', { axis: { int: 1 } });
  const hw = g.float('head.weight', model.head.weight.shape, host(model.head.weight));
  const hb = g.float('head.bias', [cfg.numClasses], host(model.head.bias!));
  g.node('Gemm', [flat, hw, hb], 'head', { transB: { int: 1 } }, logits);
  return g.graph('repmlpnet', { name: input, dims: ['batch', cfg.inChannels, H, W] }, { name: logits, dims: ['batch', cfg.numClasses] });
}

/** Runs fn on the deploy form: the model itself, or a converted copy (disposed afterwards). */
function withDeployForm<T>(model: RepMLPNet, fn: (m: RepMLPNet) => T): T {
  if (model.deploy) return fn(model);
  const cfg = model.config;
  const copy = new RepMLPNet({ ...cfg, deploy: false }, { device: model.head.weight.device });
  try {
    copy.loadStateDict(model.stateDict());
    copy.localityInjection();
    return fn(copy);
  } finally {
    copy.dispose();
  }
}

/**
 * The ONNX ModelProto (as onnx-proto's message object) of a RepMLPNet in eval semantics
 * (BN running statistics). A training-form model is converted by Locality Injection on a
 * copy; the model itself is left as it is.
 */
export function onnxModel(model: RepMLPNet, opts: OnnxExportOptions = {}): onnx.IModelProto {
  if (!(model instanceof RepMLPNet)) fail(OP, 'model', 'a RepMLPNet', describe(model));
  if (typeof opts !== 'object' || opts === null) fail(OP, 'options', 'an object', describe(opts));
  const size = onnxInputSize(model.config, opts.inputSize);
  const warning = partitionOrderWarning(model.config, size);
  if (warning !== null) (opts.onWarning ?? warnOnStderr)(warning);
  const { deploy: _, ...config } = model.config;
  const graph = withDeployForm(model, (m) => deployGraph(m, size));
  return {
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'repmlp',
    producerVersion: packageVersion(),
    docString: 'RepMLPNet (deploy form, eval mode)',
    graph,
    metadataProps: [{ key: 'repmlp.config', value: JSON.stringify(config) }],
  };
}
