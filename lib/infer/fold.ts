// Everything linear in the deploy form folded on the host, in float64 (each weight rounded to
// float32 once), for the inference plan (plan.ts). What is folded where:
//   conv_embedding, embeds.i: the BN into the conv (rows scaled, the shift as bias)
//   prebn1: into the Global Perceptron's fc1 through the average pool (pool(a x + b) =
//           a pool(x) + b, so fc1(.) = (W1 diag a) pool(x) + W1 b + b1); for fc3 it stays a
//           per-channel affine of fc3's input, applied by the GEMM while it packs that input
//   prebn2: into ffn_fc1 (exact for a 1x1 conv: W diag a, plus W b in the bias), and
//           ffn_fc1's and ffn_fc2's own BNs into their convs
//   head_norm: into head through the global average pool, as prebn1 into fc1
import { fail } from '../errors';
import { bnAffine, type Affine } from '../models/fold';
import type { RepMLPNet, RepMLPNetUnit } from '../models/repmlpnet';
import type { BatchNorm2d, Conv2d, ConvBN, Linear } from '../nn/layers';
import type { Tensor } from '../tensor';

/** A row-major (rows, cols) weight and its bias (rows). */
export interface Dense {
  weight: Float32Array;
  bias: Float32Array;
  rows: number;
  cols: number;
}

/** One unit of a stage, folded (C channels, partitions h x w, S share-sets). */
export interface FoldedUnit {
  C: number;
  h: number;
  w: number;
  S: number;
  /** prebn1 as fc3's input affine: scale and shift per channel (C) */
  prebn1: { scale: Float32Array; shift: Float32Array };
  fc1: Dense; // (C / r, C), prebn1 folded
  fc2: Dense; // (C, C / r)
  fc3: Dense; // (S * hw, hw): rows s * hw + o of share-set s; bias (S * hw)
  ffn1: Dense; // (4C, C), prebn2 and its BN folded
  ffn2: Dense; // (C, 4C), its BN folded
}

export interface FoldedNet {
  /** conv_embedding as (C0, Cin * p * p), its BN folded; columns ordered (cin, ky, kx) */
  embed: Dense;
  stages: FoldedUnit[][];
  /** embeds.i as (C_{i+1}, C_i * 4) */
  embeds: Dense[];
  /** head with head_norm folded: (classes, C_last) */
  head: Dense;
}

const host = (t: Tensor): Float32Array => t.toFloat32Array();

/**
 * y = out.scale * (W (inp.scale * x + inp.shift) + bias) + out.shift as one (rows, cols)
 * layer, in float64: a per-channel affine of the layer's input (a BN before it) and of its
 * output (a BN after it), each optional.
 */
function foldLinear(w: Float32Array, rows: number, bias: Float32Array | null, inp: Affine | null, out: Affine | null): Dense {
  const cols = w.length / rows;
  const weight = new Float32Array(rows * cols), b = new Float32Array(rows);
  for (let o = 0; o < rows; o++) {
    const os = out ? out.scale[o] : 1;
    let acc = bias ? bias[o] : 0;
    for (let i = 0; i < cols; i++) {
      const wi = w[o * cols + i];
      weight[o * cols + i] = os * wi * (inp ? inp.scale[i] : 1);
      if (inp) acc += wi * inp.shift[i];
    }
    b[o] = os * acc + (out ? out.shift[o] : 0);
  }
  return { weight, bias: b, rows, cols };
}

/** A conv (flattened to (out, in * k * k)) with the BN after it folded. */
function convBn(conv: Conv2d, bn: BatchNorm2d): Dense {
  return foldLinear(host(conv.weight), conv.outChannels, null, null, bnAffine(bn));
}

/** A RepMLPNet ConvBN's BN: its deploy form keeps every ConvBN's (only the 2021 models build ConvBNs without). */
function bnOf(m: ConvBN): BatchNorm2d {
  if (!m.bn) fail('compileInference', 'model', "a RepMLPNet whose ConvBNs have their BNs", 'a ConvBN without one');
  return m.bn;
}

function foldUnit(u: RepMLPNetUnit): FoldedUnit {
  const blk = u.repmlpBlock;
  const a1 = bnAffine(u.prebn1);
  const { fc1, fc2 } = blk.gp;
  const { ffnFc1, ffnFc2 } = u.ffnBlock;
  return {
    C: blk.C, h: blk.h, w: blk.w, S: blk.S,
    prebn1: { scale: Float32Array.from(a1.scale), shift: Float32Array.from(a1.shift) },
    fc1: foldLinear(host(fc1.weight), fc1.outChannels, host(fc1.bias!), a1, null),
    fc2: foldLinear(host(fc2.weight), fc2.outChannels, host(fc2.bias!), null, null),
    fc3: { weight: host(blk.fc3.weight), bias: host(blk.fc3.bias!), rows: blk.S * blk.h * blk.w, cols: blk.h * blk.w },
    ffn1: foldLinear(host(ffnFc1.conv.weight), ffnFc1.conv.outChannels, null, bnAffine(u.prebn2), bnAffine(bnOf(ffnFc1))),
    ffn2: convBn(ffnFc2.conv, bnOf(ffnFc2)),
  };
}

function foldHead(head: Linear, norm: BatchNorm2d): Dense {
  return foldLinear(host(head.weight), head.weight.shape[0], host(head.bias!), bnAffine(norm), null);
}

/** The deploy-form model (every block after Locality Injection), folded. */
export function foldNet(model: RepMLPNet): FoldedNet {
  return {
    embed: convBn(model.convEmbedding.conv, bnOf(model.convEmbedding)),
    stages: model.stages.items.map((s) => s.items.map(foldUnit)),
    embeds: model.embeds.items.map((e) => convBn(e.conv, bnOf(e))),
    head: foldHead(model.head, model.headNorm),
  };
}
