// ONNX graphs of the 2021 paper's models in the deploy form (every BN folded, RepMLP blocks
// converted), node by node as their forward passes (lib/models/repmlp-resnet.ts,
// repmlp-cifar.ts):
//
//   RepMLP on (N, C, H, W), partition h x w, hp x wp partitions:
//     [AveragePool h x w -> Reshape (N, C*hp*wp) -> Gemm fc1 -> Relu -> Gemm fc2
//      -> Reshape (N, C, hp, 1, wp, 1) -> Add to x as (N, C, hp, h, wp, w)]      (Global Perceptron)
//     -> Transpose (N, hp, wp, C, h, w) -> Reshape (N*hp*wp, C*h*w, 1, 1)
//     -> Conv fc3 (1x1, fc3Groups groups, with its bias) -> Reshape (N, hp, wp, O, h, w)
//     -> Transpose (N, O, hp, h, wp, w) -> Reshape (N, O, H, W)
//   residual blocks: the convs (BN folded) -> Add the shortcut -> Relu
//   RepMLP-ResNet: Conv 7x7 -> Relu -> MaxPool 3x3 s2 p1 -> stages -> GlobalAveragePool -> Flatten -> Gemm
//   the CIFAR models: per stage Conv 1x1 -> Relu -> RepMLP -> Relu (or Conv k x k -> Relu),
//     MaxPool 2x2 after stages 1 and 2 -> GlobalAveragePool -> Flatten -> Gemm
//
// A Transpose that moves no data (one partition per map) is left out; every Reshape infers the
// batch with a -1.
import { fail } from '../errors';
import { ConvBN } from '../nn/layers';
import type { RepMLP } from '../models/repmlp-block';
import { BaseBlock, RepMLPBottleneckBlock, RepMLPLightBlock } from '../models/repmlp-blocks';
import type { RepMLPCifarNet } from '../models/repmlp-cifar';
import type { RepMLPResNet } from '../models/repmlp-resnet';
import type { GraphBuilder } from './graph';
import { convBn, gemm, host, movesData } from './layers';

const OP = 'exportOnnx';

/** x (N, C, H, W) viewed as (N, C, hp, h, wp, w) with the Global Perceptron's vector added, when the block has one. */
function globalPerceptron(g: GraphBuilder, name: string, m: RepMLP, x: string): string {
  const { C, h, w } = m;
  const hp = m.H / h, wp = m.W / w;
  const split = g.node('Reshape', [x, g.shape([-1, C, hp, h, wp, w])], `${name}.split`);
  const fc = m.fc1Fc2;
  if (!m.hasGlobalPerceptron || !fc) return split;
  const pooled = g.node('AveragePool', [x], `${name}.avg`, { kernel_shape: { ints: [h, w] }, strides: { ints: [h, w] } });
  const flat = g.node('Reshape', [pooled, g.shape([-1, C * hp * wp])], `${name}.avg.flatten`);
  const a = gemm(g, `${name}.fc1_fc2.fc1`, fc.fc1, flat);
  const r = g.node('Relu', [a], `${name}.fc1_fc2.relu`);
  const v = gemm(g, `${name}.fc1_fc2.fc2`, fc.fc2, r);
  const v6 = g.node('Reshape', [v, g.shape([-1, C, hp, 1, wp, 1])], `${name}.fc1_fc2.reshape`);
  return g.node('Add', [split, v6], `${name}.add`);
}

/** A deploy-form RepMLP on its (N, C, H, W) map. */
function repmlp(g: GraphBuilder, name: string, m: RepMLP, x: string): string {
  const { C, O, h, w, groups } = m;
  const bias = m.fc3.bias;
  if (!m.deploy || !bias) fail(OP, name, 'a RepMLP in the deploy form (after localityInjection(): fc3 with a bias)', 'one that is not');
  const hp = m.H / h, wp = m.W / w, hw = h * w;
  const split = globalPerceptron(g, name, m, x);
  const toParts = [0, 2, 4, 1, 3, 5];
  const moved = movesData([null, C, hp, h, wp, w], toParts) ? g.node('Transpose', [split], `${name}.partition`, { perm: { ints: toParts } }) : split;
  const rows = g.node('Reshape', [moved, g.shape([-1, C * hw, 1, 1])], `${name}.partition.reshape`);
  const weight = g.float(`${name}.fc3.weight`, m.fc3.weight.shape, host(m.fc3.weight));
  const b = g.float(`${name}.fc3.bias`, bias.shape, host(bias));
  const fc = g.node('Conv', [rows, weight, b], `${name}.fc3`, { kernel_shape: { ints: [1, 1] }, group: { int: groups } });
  const parts = g.node('Reshape', [fc, g.shape([-1, hp, wp, O, h, w])], `${name}.unpartition.reshape`);
  const toMap = [0, 3, 1, 4, 2, 5];
  const back = movesData([null, hp, wp, O, h, w], toMap) ? g.node('Transpose', [parts], `${name}.unpartition`, { perm: { ints: toMap } }) : parts;
  return g.node('Reshape', [back, g.shape([-1, O, m.H, m.W])], `${name}.unpartition.map`);
}

type Block = BaseBlock | RepMLPLightBlock | RepMLPBottleneckBlock;

/** A residual block: its body, the shortcut added, ReLU. */
function block(g: GraphBuilder, name: string, b: Block, x: string): string {
  const c = (key: string, m: ConvBN, v: string) => convBn(g, `${name}.${key}`, m, v);
  let y: string;
  if (b instanceof BaseBlock) y = c('conv3', b.conv3, c('conv2', b.conv2, c('conv1', b.conv1, x)));
  else if (b instanceof RepMLPLightBlock) {
    const r = g.node('Relu', [repmlp(g, `${name}.light_repmlp`, b.lightRepmlp, c('light_conv1', b.lightConv1, x))], `${name}.repmlp_nonlinear`);
    y = c('light_conv3', b.lightConv3, r);
  } else {
    const a = c('btnk_conv2', b.btnkConv2, c('btnk_conv1', b.btnkConv1, x));
    const r = g.node('Relu', [repmlp(g, `${name}.btnk_repmlp`, b.btnkRepmlp, a)], `${name}.repmlp_nonlinear`);
    y = c('btnk_conv5', b.btnkConv5, c('btnk_conv4', b.btnkConv4, r));
  }
  const s = b.shortcut ? c('shortcut', b.shortcut, x) : x;
  return g.node('Relu', [g.node('Add', [y, s], `${name}.add`)], `${name}.relu`);
}

/** GlobalAveragePool -> Flatten -> Gemm into the graph output. */
function head(g: GraphBuilder, model: RepMLPResNet | RepMLPCifarNet, x: string, logits: string): void {
  const pooled = g.node('GlobalAveragePool', [x], 'gap');
  const flat = g.node('Flatten', [pooled], 'flatten', { axis: { int: 1 } });
  gemm(g, 'linear', model.linear, flat, logits);
}

function maxPool(g: GraphBuilder, name: string, x: string, k: number, stride: number, pad: number): string {
  return g.node('MaxPool', [x], name, { kernel_shape: { ints: [k, k] }, strides: { ints: [stride, stride] }, pads: { ints: [pad, pad, pad, pad] } });
}

/** The graph of a deploy-form RepMLP-ResNet. */
export function resnetGraph(g: GraphBuilder, model: RepMLPResNet, input: string, logits: string): void {
  let x = maxPool(g, 'stage0.1', convBn(g, 'stage0.0', model.stem, input), 3, 2, 1);
  model.stages.forEach((stage, i) => stage.items.forEach((b, j) => (x = block(g, `stage${i + 1}.${j}`, b, x))));
  head(g, model, x, logits);
}

/** The graph of a deploy-form CIFAR model (the pure MLP, its Wide ConvNet or an ablation). */
export function cifarGraph(g: GraphBuilder, model: RepMLPCifarNet, input: string, logits: string): void {
  let x = input;
  model.stages.items.forEach((stage, i) => {
    const name = `stages.${i}`;
    x = convBn(g, `${name}.fc`, stage.fc, x);
    const m = stage.mixer;
    x = m instanceof ConvBN ? convBn(g, `${name}.repmlp`, m, x) : g.node('Relu', [repmlp(g, `${name}.repmlp`, m, x)], `${name}.relu`);
    if (i < 2) x = maxPool(g, `pools.${i}`, x, 2, 2, 0);
  });
  head(g, model, x, logits);
}

