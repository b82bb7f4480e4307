// The folded weights (fold.ts) on the model's device, each GEMM weight packed once into the
// GEMM's panel layout (native gemm_pack) as the plan's products read it: a conv's weight as
// op(A) (out, in), a linear layer's (the Global Perceptron, the head) and fc3's share-set
// matrices as op(B) = W^T (in, out).
import { tensor } from '../creation';
import { native } from '../native';
import { keep } from '../scope';
import { Tensor, type Device } from '../tensor';
import type { Dense, FoldedNet, FoldedUnit } from './fold';
import type { Ref } from './program';

/** A layer's weight (packed) and bias (plain) on the device, and its (rows, cols). */
export interface LayerRefs {
  weight: Ref;
  bias: Ref;
  rows: number;
  cols: number;
}

export interface UnitRefs {
  C: number;
  h: number;
  w: number;
  S: number;
  /** prebn1 as fc3's input affine (C each) */
  scale: Ref;
  shift: Ref;
  fc1: LayerRefs;
  fc2: LayerRefs;
  fc3: LayerRefs;
  ffn1: LayerRefs;
  ffn2: LayerRefs;
}

export interface NetRefs {
  embed: LayerRefs;
  stages: UnitRefs[][];
  embeds: LayerRefs[];
  head: LayerRefs;
}

/** The floats of one packed matrix: op(A) of (rows, K), or op(B) of (K, rows) when sideB. */
export function packedNumel(sideB: boolean, rows: number, K: number): number {
  const width = native.runtimeInfo().gemmPanels[sideB ? 1 : 0];
  return Math.ceil(rows / width) * width * K;
}

/** How a weight is packed: op(A) of (rows, cols) or op(B) of (cols, rows) read from W (rows, cols) transposed, per matrix of a batch. */
type Packing = { side: 'A' | 'B'; batch: number };

export class WeightSet {
  /** the device tensors, Ref index order; kept out of scopes, freed by dispose() */
  readonly tensors: Tensor[] = [];
  constructor(readonly device: Device) {}

  plain(data: Float32Array): Ref {
    return this.add(keep(tensor(data, [data.length], { device: this.device })));
  }

  /** W, `batch` matrices of (rows, cols) each, packed as `how` says. */
  packed(data: Float32Array, rows: number, cols: number, how: Packing): Ref {
    const sideB = how.side === 'B', K = cols;
    const size = packedNumel(sideB, rows, K);
    const plain = tensor(data, [data.length], { device: this.device });
    const out = keep(Tensor.empty([how.batch * size], { device: this.device }));
    try {
      // Side A: op(A) = W (rows, K) as stored. Side B: op(B) = W^T (K, rows), W stored (rows, K): the transpose.
      native.gemm_pack({
        out: out.storage, offOut: 0, inp: plain.storage, offInp: 0, sideB, rows, K, batch: how.batch,
        ld: cols, stride: rows * cols, trans: sideB,
      });
    } finally {
      plain.dispose();
    }
    return this.add(out);
  }

  dispose(): void {
    for (const t of this.tensors) t.dispose();
    this.tensors.length = 0;
  }

  private add(t: Tensor): Ref {
    this.tensors.push(t);
    return { at: 'weight', index: this.tensors.length - 1, offset: 0 };
  }
}

function layer(ws: WeightSet, d: Dense, side: 'A' | 'B'): LayerRefs {
  return { weight: ws.packed(d.weight, d.rows, d.cols, { side, batch: 1 }), bias: ws.plain(d.bias), rows: d.rows, cols: d.cols };
}

function unit(ws: WeightSet, u: FoldedUnit): UnitRefs {
  const hw = u.h * u.w;
  return {
    C: u.C, h: u.h, w: u.w, S: u.S,
    scale: ws.plain(u.prebn1.scale), shift: ws.plain(u.prebn1.shift),
    fc1: layer(ws, u.fc1, 'B'),
    fc2: layer(ws, u.fc2, 'B'),
    // S share-set matrices (hw, hw), each op(B) = W_s^T
    fc3: { weight: ws.packed(u.fc3.weight, hw, hw, { side: 'B', batch: u.S }), bias: ws.plain(u.fc3.bias), rows: hw, cols: hw },
    ffn1: layer(ws, u.ffn1, 'A'),
    ffn2: layer(ws, u.ffn2, 'A'),
  };
}

/** Uploads and packs the folded net into ws. */
export function uploadNet(ws: WeightSet, net: FoldedNet): NetRefs {
  return {
    embed: layer(ws, net.embed, 'A'),
    stages: net.stages.map((s) => s.map((u) => unit(ws, u))),
    embeds: net.embeds.map((e) => layer(ws, e, 'A')),
    head: layer(ws, net.head, 'B'),
  };
}
