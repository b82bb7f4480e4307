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
import { familyOf, isFamilyModel, type FamilyModel } from '../models/families';
import { withDeployForm } from '../models/fold';
import { RepMLPCifarNet } from '../models/repmlp-cifar';
import { RepMLPResNet } from '../models/repmlp-resnet';
import { partitionOrderWarning, patchPair } from '../models/geometry';
import { RepMLPNet, type RepMLPBlock, type RepMLPNetUnit } from '../models/repmlpnet';
import { GraphBuilder } from './graph';
import { batchNorm, conv, convBn, gemm, host, movesData } from './layers';
import { ONNX_IR_VERSION, ONNX_OPSET, onnxInputSize, type OnnxExportOptions } from './options';
import { cifarGraph, resnetGraph } from './repmlp2021';

const OP = 'exportOnnx';

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

/** The graph of a deploy-form RepMLPNet. */
function repmlpnetGraph(g: GraphBuilder, model: RepMLPNet, input: string, logits: string, [H, W]: [number, number]): void {
  const cfg = model.config;
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
  gemm(g, 'head', model.head, flat, logits);
}

/** The graph of a deploy-form model of any family. */
function deployGraph(model: FamilyModel, [H, W]: [number, number]): onnx.IGraphProto {
  const g = new GraphBuilder();
  const input = g.reserve('input');
  const logits = g.reserve('logits');
  if (model instanceof RepMLPNet) repmlpnetGraph(g, model, input, logits, [H, W]);
  else if (model instanceof RepMLPResNet) resnetGraph(g, model, input, logits);
  else if (model instanceof RepMLPCifarNet) cifarGraph(g, model, input, logits);
  const [C] = familyOf(model.config).inputShape(model.config);
  return g.graph(familyOf(model.config).arch.toLowerCase(), { name: input, dims: ['batch', C, H, W] }, { name: logits, dims: ['batch', model.config.numClasses] });
}

/**
 * The ONNX ModelProto (as onnx-proto's message object) of a model in eval semantics (BN
 * running statistics): a RepMLPNet, a RepMLPResNet or a RepMLPCifarNet. A training-form model
 * is converted by Locality Injection on a copy; the model itself is left as it is.
 */
export function onnxModel(model: FamilyModel, opts: OnnxExportOptions = {}): onnx.IModelProto {
  if (!isFamilyModel(model)) fail(OP, 'model', 'a RepMLPNet, RepMLPResNet or RepMLPCifarNet', describe(model));
  if (typeof opts !== 'object' || opts === null) fail(OP, 'options', 'an object', describe(opts));
  const size = onnxInputSize(model.config, opts.inputSize);
  const warning = model instanceof RepMLPNet ? partitionOrderWarning(model.config, size) : null;
  if (warning !== null) (opts.onWarning ?? warnOnStderr)(warning);
  const { deploy: _, ...config } = model.config;
  const graph = withDeployForm(model, (m) => deployGraph(m, size));
  return {
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'repmlp',
    producerVersion: packageVersion(),
    docString: `${model.constructor.name} (deploy form, eval mode)`,
    graph,
    metadataProps: [{ key: 'repmlp.config', value: JSON.stringify(config) }],
  };
}
