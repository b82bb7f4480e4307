// The RepMLP block of Ding et al. 2021 ("RepMLP: Re-parameterizing Convolutions into
// Fully-connected Layers for Image Recognition", arXiv 2105.01883) as the reference code's
// repmlp.py builds it, module tree and state-dict keys included. C channels in, O out, an
// H x W map cut into h x w partitions (hp = H/h by wp = W/w of them), fc3 in g groups:
//
//   Global Perceptron (when the map holds more than one partition):
//     avg: AvgPool2d(h x w) + BatchNorm2d(C) -> (N, C*hp*wp) -> fc1_fc2.fc1 (Linear, to
//     C*hp*wp / reduction) -> ReLU -> fc1_fc2.fc2 (Linear back) -> (N, C, hp, 1, wp, 1), added
//     to the input viewed as (N, C, hp, h, wp, w)
//   partition: (N*hp*wp, C, h, w), each partition's channels together
//   Partition Perceptron: fc3, a grouped 1x1 conv (C*h*w -> O*h*w, g groups, bias only in the
//     deploy form) on the partitions as (N*hp*wp, C*h*w, 1, 1), then fc3_bn, BatchNorm1d(O*h*w)
//   Local Perceptron: repconv{k}: conv (C -> O, k x k, padding k // 2, g groups, no bias) + bn
//     (BatchNorm2d(O)) on the partitions, added to fc3_bn's output
//   un-partition: (N, O, H, W)
//
// Deploy form (localityInjection(), the reference's switch_to_deploy): fc3_bn and every
// repconv merge into fc3, which gains a bias; avg's BN is absorbed into fc1 (its scale into
// fc1's columns, its shift into fc1's bias); avg becomes a plain AvgPool2d; no fc3_bn or
// repconv*. The conv-to-FC step is right for every C and O (the reference reshapes the
// converted kernel as if C = O, so its deploy form differs from its training form when C != O).
//
// Two switches serve the paper's ablations (Table 1): `globalPerceptron: false` drops the
// Global Perceptron, and `fc3Kernel: k` makes the training form's fc3 a k x k conv (+ BN over
// O) on the partitions instead of the FC; its deploy form is the FC (the conv, like the
// branches, is merged into the FC matrix it applies to a partition).
import { noGrad } from '../autograd';
import { checkInt, checkTensor } from '../check';
import { describe, fail, shapeStr } from '../errors';
import { add, mul } from '../ops/arithmetic';
import { conv2d } from '../ops/conv2d';
import { groupedLinear } from '../ops/grouped_linear';
import { linear } from '../ops/linear';
import { partition, unpartition } from '../ops/partition';
import { relu } from '../ops/unary';
import { contiguous, reshape } from '../ops/views';
import { Rng } from '../rng';
import { scope } from '../scope';
import type { Tensor } from '../tensor';
import { AvgPool2d, BatchNorm2d, Conv2d, ConvBN, Linear, type InitOptions } from '../nn/layers';
import { Module } from '../nn/module';
import { bnAffine, convToFc, fuseBn, repeatEach, sumBranches, type Fused } from '../nn/reparam';

/** Converts a model of RepMLP blocks in place: every RepMLP (with its own branches), then every ConvBN left with a BN. */
export function convertToDeploy(model: Module): void {
  const modules = () => model.namedModules().map(([, m]) => m);
  for (const m of modules()) if (m instanceof RepMLP) m.localityInjection();
  for (const m of modules()) if (m instanceof ConvBN) m.fuseBn();
}

/** True when every RepMLP and every ConvBN of the model is in the deploy form. */
export function isDeployForm(model: Module): boolean {
  return model.namedModules().every(([, m]) => !(m instanceof RepMLP || m instanceof ConvBN) || m.deploy);
}

export interface RepMLPOptions {
  /** The map the block sees (H, W) and its partition (h, w); H % h = W % w = 0. */
  H: number;
  W: number;
  h: number;
  w: number;
  /** Kernel sizes of the Local Perceptron's conv branches (odd, distinct); [] for none. */
  reparamConvK: readonly number[];
  /** fc1 maps C*hp*wp features to C*hp*wp / reduction (default 1). */
  fc1Fc2Reduction?: number;
  /** Groups of fc3 and of the conv branches (default 1). */
  fc3Groups?: number;
  /** Build the Global Perceptron (default: when the map holds more than one partition). */
  globalPerceptron?: boolean;
  /** A k x k conv instead of the FC as the training form's fc3 (an ablation); default null. */
  fc3Kernel?: number | null;
  /** Build the deploy form. Default false. */
  deploy?: boolean;
}

function free(...ts: Tensor[]): void {
  for (const t of ts) t.dispose();
}

/** fc1_fc2: fc1 -> ReLU -> fc2 (keys fc1.*, fc2.*). */
class Fc1Fc2 extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;

  constructor(features: number, internal: number, ctx: InitOptions) {
    super();
    this.fc1 = this.registerModule('fc1', new Linear(features, internal, ctx));
    this.fc2 = this.registerModule('fc2', new Linear(internal, features, ctx));
  }

  forward(v: Tensor): Tensor {
    const a = this.fc1.forward(v);
    const r = relu(a);
    const b = this.fc2.forward(r);
    free(a, r);
    return b;
  }
}

/** avg in the training form: AvgPool2d(h x w) -> BatchNorm2d(C) (keys bn.*). */
class AvgBn extends Module {
  readonly pool: AvgPool2d;
  readonly bn: BatchNorm2d;

  constructor(C: number, h: number, w: number, ctx: InitOptions) {
    super();
    this.pool = this.registerModule('avg', new AvgPool2d([h, w]));
    this.bn = this.registerModule('bn', new BatchNorm2d(C, { device: ctx.device }));
  }

  forward(x: Tensor): Tensor {
    const p = this.pool.forward(x);
    const y = this.bn.forward(p);
    p.dispose();
    return y;
  }
}

export class RepMLP extends Module {
  readonly C: number;
  readonly O: number;
  readonly H: number;
  readonly W: number;
  readonly h: number;
  readonly w: number;
  readonly groups: number;
  readonly reparamConvK: readonly number[];
  /** The training form's fc3 kernel size, or null for the FC. */
  readonly fc3Kernel: number | null;
  readonly hasGlobalPerceptron: boolean;
  private _deploy: boolean;

  constructor(inChannels: number, outChannels: number, opts: RepMLPOptions, ctx: InitOptions) {
    super();
    const op = 'RepMLP';
    if (typeof opts !== 'object' || opts === null) fail(op, 'options', 'an object', describe(opts));
    this.C = checkInt(op, 'inChannels', inChannels);
    this.O = checkInt(op, 'outChannels', outChannels);
    const [H, W, h, w] = (['H', 'W', 'h', 'w'] as const).map((k) => checkInt(op, k, opts[k]));
    if (H % h || W % w) fail(op, 'h, w', `a partition that tiles the ${H} x ${W} map`, `${h} x ${w}`);
    this.H = H;
    this.W = W;
    this.h = h;
    this.w = w;
    const g = (this.groups = checkInt(op, 'fc3Groups', opts.fc3Groups ?? 1));
    if (this.C % g || this.O % g) fail(op, 'fc3Groups', `a divisor of inChannels ${this.C} and outChannels ${this.O}`, String(g));
    const ks = opts.reparamConvK;
    if (!Array.isArray(ks) || ks.some((k) => !Number.isInteger(k) || k < 1 || k % 2 === 0) || new Set(ks).size !== ks.length)
      fail(op, 'reparamConvK', 'an array of distinct odd kernel sizes', describe(ks));
    this.reparamConvK = [...ks];
    const fk = opts.fc3Kernel ?? null;
    if (fk !== null && (!Number.isInteger(fk) || fk < 1 || fk % 2 === 0)) fail(op, 'fc3Kernel', 'an odd kernel size or null', describe(fk));
    this.fc3Kernel = fk;
    this._deploy = opts.deploy ?? false;
    const hp = H / h, wp = W / w, hw = h * w;
    this.hasGlobalPerceptron = opts.globalPerceptron ?? (hp > 1 || wp > 1);
    if (this.hasGlobalPerceptron) {
      const features = this.C * hp * wp;
      const reduction = checkInt(op, 'fc1Fc2Reduction', opts.fc1Fc2Reduction ?? 1);
      const internal = Math.floor(features / reduction);
      if (internal < 1) fail(op, 'fc1Fc2Reduction', `at most the Global Perceptron's ${features} features`, String(reduction));
      this.registerModule('fc1_fc2', new Fc1Fc2(features, internal, ctx));
      this.registerModule('avg', this._deploy ? new AvgPool2d([h, w]) : new AvgBn(this.C, h, w, ctx));
    }
    if (this._deploy || fk === null) {
      this.registerModule('fc3', new Conv2d(this.C * hw, this.O * hw, 1, { ...ctx, groups: g, bias: this._deploy }));
      if (!this._deploy) this.registerModule('fc3_bn', new BatchNorm2d(this.O * hw, { device: ctx.device }));
    } else {
      this.registerModule('fc3', new Conv2d(this.C, this.O, fk, { ...ctx, groups: g, padding: fk >> 1, bias: false }));
      this.registerModule('fc3_bn', new BatchNorm2d(this.O, { device: ctx.device }));
    }
    if (!this._deploy)
      for (const k of this.reparamConvK)
        this.registerModule(`repconv${k}`, new ConvBN(this.C, this.O, k, { ...ctx, padding: k >> 1, groups: g }));
  }

  get deploy(): boolean {
    return this._deploy;
  }

  get fc3(): Conv2d {
    return this.child('fc3') as Conv2d;
  }

  /** fc1_fc2 (null without a Global Perceptron). */
  get fc1Fc2(): Fc1Fc2 | null {
    return this.child('fc1_fc2') as Fc1Fc2 | null;
  }

  /** BatchNorm1d(O*h*w) after the FC, or BatchNorm2d(O) after a conv fc3; null in the deploy form. */
  get fc3Bn(): BatchNorm2d | null {
    return this.child('fc3_bn') as BatchNorm2d | null;
  }

  /** The conv branch of kernel k (training form only). */
  repconv(k: number): ConvBN | null {
    return this.child(`repconv${k}`) as ConvBN | null;
  }

  /** The Global Perceptron's output added to x: (N, C, H, W). */
  private withGlobal(x: Tensor): Tensor {
    const { C, H, W, h, w } = this;
    const N = x.shape[0], hp = H / h, wp = W / w;
    const avg = this.child('avg') as AvgBn | AvgPool2d;
    const pooled = avg.forward(x); // (N, C, hp, wp)
    const flat = reshape(pooled, [N, C * hp * wp]);
    const v = this.fc1Fc2!.forward(flat);
    const v6 = reshape(v, [N, C, hp, 1, wp, 1]);
    const x6 = reshape(x, [N, C, hp, h, wp, w]);
    const sum6 = add(x6, v6);
    const out = reshape(sum6, [N, C, H, W]);
    free(pooled, flat, v, v6, x6, sum6);
    return out;
  }

  /** The Partition Perceptron (and, in the training form, its BN): (B, O, h, w) from parts (B, C, h, w). */
  private partitionPerceptron(parts: Tensor): Tensor {
    const { C, O, h, w, groups } = this;
    const B = parts.shape[0], hw = h * w;
    const bn = this.fc3Bn;
    if (this.fc3Kernel !== null && bn) {
      const c = conv2d(parts, this.fc3.weight, null, { padding: this.fc3Kernel >> 1, groups });
      const y = bn.forward(c);
      c.dispose();
      return y;
    }
    const rows = reshape(parts, [B, C * hw]);
    const weight = reshape(this.fc3.weight, [O * hw, (C * hw) / groups]);
    const fc = groupedLinear(rows, weight, this.fc3.bias, groups); // (B, O*hw)
    const fc4 = reshape(fc, [B, O * hw, 1, 1]);
    const y = bn ? bn.forward(fc4) : fc4; // BatchNorm1d(O*hw) as a BN over (B, O*hw, 1)
    const out = reshape(y, [B, O, h, w]);
    free(rows, weight, fc, fc4, ...(y === fc4 ? [] : [y]));
    return out;
  }

  /** x (N, C, H, W) -> (N, O, H, W). */
  forward(x: Tensor): Tensor {
    checkTensor('RepMLP', 'x', x, { shape: [null, this.C, this.H, this.W] });
    const inp = this.hasGlobalPerceptron ? this.withGlobal(x) : x;
    const parts = partition(inp, this.h, this.w); // (B, C, h, w)
    let sum = this.partitionPerceptron(parts);
    // Local Perceptron: each branch's BN adds the running sum in its output pass
    for (const k of this._deploy ? [] : this.reparamConvK) {
      const s = this.repconv(k)!.forward(parts, sum);
      sum.dispose();
      sum = s;
    }
    const out = unpartition(sum, this.H, this.W);
    free(parts, sum, ...(inp === x ? [] : [inp]));
    return out;
  }

  /** fc3 with fc3_bn and every branch folded in, as the FC weight (O*hw, C*hw/g, 1, 1) and bias (O*hw). */
  private equivalentFc3(): Fused {
    const { C, O, h, w, groups } = this;
    const hw = h * w;
    const convs = this.reparamConvK.map((k) => fuseBn(this.repconv(k)!.conv.weight, this.repconv(k)!.bn!));
    let fc: Fused | null = null;
    if (this.fc3Kernel === null) fc = fuseBn(this.fc3.weight, this.fc3Bn!);
    else convs.push(fuseBn(this.fc3.weight, this.fc3Bn!));
    if (convs.length) {
      const conv = sumBranches(convs);
      const weight = reshape(convToFc(conv.weight, C, groups, h, w), [O * hw, (C * hw) / groups, 1, 1]);
      const bias = repeatEach(conv.bias, hw);
      fc = fc ? { weight: add(fc.weight, weight), bias: add(fc.bias, bias) } : { weight, bias };
    }
    return fc!;
  }

  /** fc1 with avg's BN absorbed: the weight's columns scaled, the BN's shift through fc1 added to the bias. */
  private absorbAvgBn(): void {
    const { bn } = this.child('avg') as AvgBn;
    const fc1 = this.fc1Fc2!.fc1;
    const P = (this.H / this.h) * (this.W / this.w);
    const { scale, shift } = bnAffine(bn); // (C)
    const colScale = reshape(repeatEach(scale, P), [1, this.C * P]);
    const colShift = reshape(repeatEach(shift, P), [1, this.C * P]);
    const bias = reshape(linear(colShift, fc1.weight, fc1.bias), [fc1.weight.shape[0]]);
    fc1.setWeight(mul(fc1.weight, colScale));
    fc1.setBias(contiguous(bias));
    this.deleteModule('avg');
    this.registerModule('avg', new AvgPool2d([this.h, this.w]));
  }

  /**
   * Locality Injection, in place on the block's device without autograd (the reference's
   * switch_to_deploy): the deploy form's fc3 (with a bias) from fc3, fc3_bn and the conv
   * branches; avg's BN absorbed into fc1. Returns this; a no-op in the deploy form.
   */
  localityInjection(): this {
    if (this._deploy) return this;
    scope(() => noGrad(() => {
      const { C, O, h, w, groups } = this;
      const fc = this.equivalentFc3();
      for (const k of this.reparamConvK) this.deleteModule(`repconv${k}`);
      this.deleteModule('fc3_bn');
      // a conv fc3 gives way to the FC of the deploy form (its initial values are overwritten)
      if (this.fc3Kernel !== null)
        this.registerModule('fc3', new Conv2d(C * h * w, O * h * w, 1, { rng: new Rng(0), groups, bias: false, device: fc.weight.device }));
      this.fc3.setWeight(contiguous(fc.weight));
      this.fc3.setBias(contiguous(fc.bias));
      if (this.hasGlobalPerceptron) this.absorbAvgBn();
      this._deploy = true;
    }));
    return this;
  }
}
