// The inference plan of one input shape: the deploy form's forward as a list of steps
// (program.ts) over the packed weights (weights.ts), the input, the output and one arena of
// activation buffers laid out once. Per unit, on a map x (N, C, H, W):
//   pooled = rowsum(x)                                   (N * C)
//   g1 = relu(pooled @ fc1^T / HW + b1)                  (N, C / r)   prebn1 folded into fc1
//   gate = sigmoid(g1 @ fc2^T + b2)                      (N, C)
//   y = x + gate * fc3(prebn1(x))                        one GEMM: prebn1 as its prologue,
//                                                        bias, gate and residual as its epilogue
//       (several partitions per map: partition copy, the GEMM with its bias, then the gate
//       step; in the reference code's partition order a copy of the rows between the two)
//   z = y + ffn2 @ gelu(ffn1 @ y + b1) + b2              (N, C, HW)   prebn2 and BN folded;
//       one step (native ffn_forward), its hidden maps (N, 4C, HW) in the kernel's buffers
// The patch embedding and each embed are a patch copy (im2col of a conv whose stride is its
// kernel) and one GEMM with bias and ReLU; the head a rowsum and one GEMM (head_norm folded).
import type { CheckedConfig } from '../models/config';
import { patchPair } from '../models/geometry';
import type { PartitionOrder } from '../models/repmlpnet';
import { copyStep, type Ref, type Step } from './program';
import { gemmStep } from './gemm-step';
import { packedNumel, type LayerRefs, type NetRefs, type UnitRefs } from './weights';

/** A feature map in the plan: where it is and its shape (N, C, H, W). */
interface Map4 {
  ref: Ref;
  C: number;
  H: number;
  W: number;
}

const ALIGN = 16; // floats: buffers start on 64-byte lines

/**
 * The arena: a buffer per role, sized for the largest use of it. The plan is walked twice,
 * once to size the roles and once with their final offsets.
 */
class Arena {
  private sizes = new Map<string, number>();
  private bases: Map<string, number> | null = null;

  get(role: string, numel: number): Ref {
    if (!this.bases) {
      this.sizes.set(role, Math.max(this.sizes.get(role) ?? 0, numel));
      return { at: 'arena', offset: 0 };
    }
    return { at: 'arena', offset: this.bases.get(role)! };
  }

  /** Fixes the layout; returns the arena's size in floats. */
  layout(): number {
    this.bases = new Map();
    let end = 0;
    for (const [role, n] of this.sizes) {
      this.bases.set(role, end);
      end += Math.ceil(n / ALIGN) * ALIGN;
    }
    return end;
  }
}

export interface Plan {
  steps: Step[];
  /** floats of the arena */
  arenaNumel: number;
}

class Builder {
  readonly steps: Step[] = [];
  /** where in the network the next steps are ('stage 0 block 1 '), for their labels */
  at = '';
  private flip = 0;
  constructor(readonly arena: Arena, readonly N: number, readonly order: PartitionOrder) {}

  private add(what: string, step: Step): void {
    this.steps.push({ ...step, label: this.at + what });
  }

  /** The next of the two buffers the maps between units alternate in. */
  nextMap(numel: number): Ref {
    this.flip ^= 1;
    return this.arena.get(`map${this.flip}`, numel);
  }

  /** conv with kernel = stride = [ph, pw] (no padding), BN folded, then ReLU: (N, C, H, W) -> (N, rows, H/ph, W/pw). */
  patchConv(x: Map4, [ph, pw]: readonly [number, number], l: LayerRefs): Map4 {
    const { N } = this, H = x.H / ph, W = x.W / pw, HW = H * W, K = x.C * ph * pw;
    let cols = x.ref;
    if (ph * pw > 1) {
      // cols[n] (C, ph, pw, H, W): element (c, ky, kx, y, x) = x[n, c, y * ph + ky, x * pw + kx]
      cols = this.arena.get('cols', N * K * HW);
      const XW = x.W, XHW = x.H * x.W;
      this.add('patch copy', copyStep(cols, x.ref, [N, x.C, ph, pw, H, W], [x.C * XHW, XHW, XW, 1, ph * XW, pw]));
    }
    const out = this.nextMap(N * l.rows * HW);
    this.add('patch conv', gemmStep({
      C: { ref: out, ld: HW, stride: l.rows * HW }, A: { ref: l.weight, ld: K, stride: 0, packed: true },
      B: { ref: cols, ld: HW, stride: K * HW }, M: l.rows, N: HW, K, batch: N,
      bias: { ref: l.bias, stride: 0, perColumn: false }, act: 'relu',
    }));
    return { ref: out, C: l.rows, H, W };
  }

  /** pooled (N, C) = the sums of every (n, c) plane of x. */
  pooled(x: Map4): Ref {
    const out = this.arena.get('pooled', this.N * x.C);
    this.add('pool', { kind: 'rowsum', out, inp: x.ref, rows: this.N * x.C, cols: x.H * x.W });
    return out;
  }

  /** out (N, l.rows) = act(alpha * inp (N, l.cols) @ W^T + bias). */
  linear(role: string, inp: Ref, l: LayerRefs, act: 'none' | 'relu' | 'sigmoid', alpha = 1, out?: Ref): Ref {
    const c = out ?? this.arena.get(role, this.N * l.rows);
    this.add(role, gemmStep({
      C: { ref: c, ld: l.rows, stride: 0 }, A: { ref: inp, ld: l.cols, stride: 0 }, B: { ref: l.weight, ld: l.cols, stride: 0, packed: true },
      M: this.N, N: l.rows, K: l.cols, alpha, bias: { ref: l.bias, stride: 0, perColumn: true }, act,
    }));
    return c;
  }

  /** The Global Perceptron's gate (N, C) of x; prebn1 is folded into fc1. */
  gate(x: Map4, u: UnitRefs): Ref {
    const pooled = this.pooled(x);
    const g1 = this.linear('gp fc1', pooled, u.fc1, 'relu', 1 / (x.H * x.W));
    return this.linear('gp fc2', g1, u.fc2, 'sigmoid');
  }

  /** y (N, C, H, W) = x + gate * unpartition(fc3(partition(prebn1(x)))). */
  block(x: Map4, u: UnitRefs, gate: Ref): Ref {
    const { N } = this, { C, S, h, w } = u, hw = h * w, hp = x.H / h, wp = x.W / w, numel = N * C * x.H * x.W;
    const y = this.arena.get('y', numel);
    // fc3 rows: B * C / S vectors of S * hw values (share-set s in columns s * hw ..), B = N * hp * wp;
    // row r of set s is channel (r % (C / S)) * S + s of its partition
    const fc = (out: Ref, inp: Ref) => ({
      C: { ref: out, ld: S * hw, stride: hw }, A: { ref: inp, ld: S * hw, stride: hw },
      B: { ref: u.fc3.weight, ld: hw, stride: packedNumel(true, hw, hw), packed: true },
      M: (N * hp * wp * C) / S, N: hw, K: hw, batch: S,
      prologue: { scale: u.scale, shift: u.shift, period: C / S, ld: S, stride: 1 },
      bias: { ref: u.fc3.bias, stride: hw, perColumn: true },
    });
    if (hp * wp === 1) {
      // one partition per map: the map is its own partition; gate[n, c] is row r * S + s
      this.add('fc3', gemmStep({
        ...fc(y, x.ref),
        rowScale: { ref: gate, ld: S, stride: 1 },
        residual: { ref: x.ref, ld: S * hw, stride: hw },
      }));
      return y;
    }
    const parts = this.arena.get('parts', numel), out = this.arena.get('fc', numel);
    const HW = x.H * x.W, P = hp * wp, G = C / S, row = S * hw;
    // (N, C, hp, h, wp, w) -> (N, hp, wp, C, h, w)
    this.add('partition', copyStep(parts, x.ref, [N, hp, wp, C, h, w], [C * HW, h * x.W, w, HW, x.W, 1]));
    this.add('fc3', gemmStep(fc(out, parts)));
    let rows = out;
    if (this.order === 'reference') {
      // the reference code reads the rows (N, P, C/S, S*hw) as (N, C/S, P, S*hw): the GEMM's
      // rows permuted back into the partitions the gate step reads (parts is free again)
      rows = parts;
      this.add('reference order', copyStep(rows, out, [N, P, G, row], [G * P * row, row, P * row, 1]));
    }
    this.add('unpartition gate', { kind: 'gate', out: y, y: rows, gate, residual: x.ref, N, C, Hp: hp, h, Wp: wp, w });
    return y;
  }

  /** z = y + ffn2(gelu(ffn1(y))): one native step (ffn_forward), the hidden maps in its own buffers. */
  ffn(y: Ref, x: Map4, u: UnitRefs): Ref {
    const { N } = this, { ffn1, ffn2 } = u;
    const z = this.nextMap(N * x.C * x.H * x.W);
    this.add('ffn', {
      kind: 'ffn', out: z, y, w1: ffn1.weight, b1: ffn1.bias, w2: ffn2.weight, b2: ffn2.bias, N, C: x.C, Ch: ffn1.rows, HW: x.H * x.W,
    });
    return z;
  }

  unit(x: Map4, u: UnitRefs): Map4 {
    const gate = this.gate(x, u);
    const y = this.block(x, u, gate);
    return { ...x, ref: this.ffn(y, x, u) };
  }
}

function walk(b: Builder, cfg: CheckedConfig, net: NetRefs, [, Cin, H, W]: readonly number[]): void {
  let x: Map4 = { ref: { at: 'input', offset: 0 }, C: Cin, H, W };
  b.at = 'stem ';
  x = b.patchConv(x, patchPair(cfg), net.embed);
  net.stages.forEach((stage, i) => {
    stage.forEach((u, j) => {
      b.at = `stage ${i} block ${j} `;
      x = b.unit(x, u);
    });
    if (i < net.embeds.length) {
      b.at = `embed ${i} `;
      x = b.patchConv(x, [2, 2], net.embeds[i]);
    }
  });
  b.at = 'head ';
  const pooled = b.pooled(x);
  b.linear('logits', pooled, net.head, 'none', 1 / (x.H * x.W), { at: 'output', offset: 0 });
}

/** The plan for inputs of `shape` (N, Cin, H, W), already checked against the config. */
export function buildPlan(cfg: CheckedConfig, net: NetRefs, shape: readonly number[]): Plan {
  const arena = new Arena();
  const order = cfg.partitionOrder ?? 'paper';
  walk(new Builder(arena, shape[0], order), cfg, net, shape);
  const arenaNumel = arena.layout();
  const b = new Builder(arena, shape[0], order);
  walk(b, cfg, net, shape);
  return { steps: b.steps, arenaNumel };
}
