// RepMLPNet (Ding et al., CVPR 2022) exactly as the paper's reference PyTorch code builds
// it (docs/DESIGN.md, "The model, exactly"): the same module tree, key names, shapes and
// forward semantics, so a state dict trained there loads here and gives the same outputs.
// Locality Injection (docs/DESIGN.md, docs/MODELS.md) turns the training form into the
// deploy form in place, on the model's device, with the project's own kernels.
import { noGrad } from '../autograd';
import { checkInt, checkTensor } from '../check';
import { checkFits } from './size';
import { validateConfig, type CheckedConfig, type ReferenceRepMLPNetConfig } from './config';
import { partitionOrderWarning, patchPair } from './geometry';
import { tensor, zeros } from '../creation';
import { describe, fail, shapeStr, warnOnStderr } from '../errors';
import { add } from '../ops/arithmetic';
import { globalAvgPool } from '../ops/avgpool';
import { batchNorm2d } from '../ops/batchnorm';
import { conv2d } from '../ops/conv2d';
import { expand } from '../ops/expand';
import { partition } from '../ops/partition';
import { unpartitionGate } from '../ops/unpartition_gate';
import { setSharingFc } from '../ops/setsharing_fc';
import { relu, sigmoid } from '../ops/unary';
import { contiguous, permute, reshape } from '../ops/views';
import { Rng } from '../rng';
import { scope } from '../scope';
import type { Device, Tensor } from '../tensor';
import { BatchNorm2d, Conv2d, ConvBN, Linear, type InitOptions } from '../nn/layers';
import { Module, ModuleList } from '../nn/module';

/**
 * How a RepMLP block orders its partitions and channel groups when a map holds more than one
 * partition: 'paper' (the paper's, the default) or 'reference' (the reference code's
 * partition_affine, which mixes them; docs/MODELS.md, Partition order). Both agree at one
 * partition per map.
 */
export type PartitionOrder = 'paper' | 'reference';

export interface RepMLPNetConfig {
  inChannels: number;
  numClasses: number;
  /** Kernel and stride of the patch embedding: one number, or [height, width]. */
  patchSize: number | readonly [number, number];
  /** Units per stage. */
  numBlocks: readonly number[];
  /** Channels per stage. */
  channels: readonly number[];
  /** Partition height and width per stage. */
  hs: readonly number[];
  ws: readonly number[];
  /** Share-sets S per stage. */
  sharesetsNums: readonly number[];
  /** Kernel sizes of the Local Perceptron's conv branches (odd). */
  reparamConvK: readonly number[];
  /** Channel reduction of the Global Perceptron (default 4). */
  globalPerceptronReduce?: number;
  /** Build the deploy form (fc3 with bias, no fc3_bn or conv branches). Default false. */
  deploy?: boolean;
  /** The order of partitions and channel groups at more than one partition per map (default 'paper', with a warning once). */
  partitionOrder?: PartitionOrder;
}

export interface BuildOptions {
  /** Seed of the initial weights (default 0); ignored when rng is given. */
  seed?: number;
  rng?: Rng;
  device?: Device;
  /** Where warnings go (default: a line on stderr); the model warns once, when it first runs with several partitions in the default order. */
  onWarning?: (message: string) => void;
}

/** What every layer's initialisation needs: the generator and the device. */
type Ctx = InitOptions;

function ctxOf(opts: BuildOptions): Ctx {
  return { rng: opts.rng ?? new Rng(opts.seed ?? 0), device: opts.device };
}

/** Disposes intermediates once the graph (which holds its own references) no longer needs them. */
function free(...ts: Tensor[]): void {
  for (const t of ts) t.dispose();
}

/** A BN folded into the layer before it: the layer's rows scaled by gamma / sigma (each BN
 * channel over `rows` consecutive rows), and the bias beta - mu * gamma / sigma. */
interface Fused {
  weight: Tensor;
  bias: Tensor;
}

// Fuses bn into a weight whose leading dimension is C * rows (C = BN channels), with
// batchNorm2d's own eval kernel: the weight viewed as (1, C, rows * rest, 1) normalised with
// mean 0 and beta 0 is weight * gamma / sigma; zeros normalised with the real statistics
// give the bias (C), repeated `rows` times per channel when rows > 1.
function fuseBn(weight: Tensor, bn: BatchNorm2d, rows: number): Fused {
  const C = bn.weight.shape[0];
  const device = weight.device;
  const zero = zeros([C], { device });
  const wv = reshape(weight, [1, C, weight.numel / C, 1]);
  const wn = batchNorm2d(wv, bn.weight, zero, zero, bn.runningVar, null, { training: false, eps: bn.eps });
  const w = reshape(wn, [...weight.shape]);
  const z = zeros([1, C, rows, 1], { device });
  const bz = batchNorm2d(z, bn.weight, bn.bias, bn.runningMean, bn.runningVar, null, { training: false, eps: bn.eps });
  const b = reshape(bz, [C * rows]);
  free(zero, wv, wn, z, bz);
  return { weight: w, bias: b };
}

/** Global Perceptron: avg pool -> fc1 -> relu -> fc2 -> sigmoid, a gate (N, C, 1, 1). */
export class GlobalPerceptron extends Module {
  readonly fc1: Conv2d;
  readonly fc2: Conv2d;

  constructor(C: number, internal: number, ctx: Ctx) {
    super();
    this.fc1 = this.registerModule('fc1', new Conv2d(C, internal, 1, { ...ctx, bias: true }));
    this.fc2 = this.registerModule('fc2', new Conv2d(internal, C, 1, { ...ctx, bias: true }));
  }

  forward(x: Tensor): Tensor {
    const p = globalAvgPool(x);
    const a = this.fc1.forward(p);
    const r = relu(a);
    const b = this.fc2.forward(r);
    const g = sigmoid(b);
    free(p, a, r, b);
    return g;
  }
}

export interface RepMLPBlockOptions {
  /** Partition size. */
  h: number;
  w: number;
  /** Share-sets S (C divisible by S). */
  S: number;
  reparamConvK: readonly number[];
  globalPerceptronReduce?: number;
  deploy?: boolean;
  /** default 'paper' */
  partitionOrder?: PartitionOrder;
}

/** The RepMLP block (C channels in and out): gp, fc3 [+ fc3_bn, repconv{k}]. */
export class RepMLPBlock extends Module {
  readonly C: number;
  readonly h: number;
  readonly w: number;
  readonly S: number;
  readonly reparamConvK: readonly number[];
  readonly partitionOrder: PartitionOrder;
  readonly gp: GlobalPerceptron;
  readonly fc3: Conv2d;
  private _deploy: boolean;

  constructor(C: number, opts: RepMLPBlockOptions, ctx: Ctx) {
    super();
    const op = 'RepMLPBlock';
    this.C = checkInt(op, 'channels', C);
    this.h = checkInt(op, 'h', opts.h);
    this.w = checkInt(op, 'w', opts.w);
    this.S = checkInt(op, 'S', opts.S);
    if (C % this.S) fail(op, 'S', `a divisor of the channels ${C}`, String(this.S));
    const reduce = checkInt(op, 'globalPerceptronReduce', opts.globalPerceptronReduce ?? 4);
    if (C < reduce) fail(op, 'globalPerceptronReduce', `at most the channels ${C}`, String(reduce));
    if (!Array.isArray(opts.reparamConvK) || opts.reparamConvK.some((k) => !Number.isInteger(k) || k < 1 || k % 2 === 0))
      fail(op, 'reparamConvK', 'an array of odd kernel sizes', describe(opts.reparamConvK));
    if (new Set(opts.reparamConvK).size !== opts.reparamConvK.length) fail(op, 'reparamConvK', 'distinct kernel sizes', describe(opts.reparamConvK));
    this.reparamConvK = [...opts.reparamConvK];
    this._deploy = opts.deploy ?? false;
    this.partitionOrder = opts.partitionOrder ?? 'paper';
    if (this.partitionOrder !== 'paper' && this.partitionOrder !== 'reference') fail(op, 'partitionOrder', "'paper' or 'reference'", describe(opts.partitionOrder));
    const hw = this.h * this.w, S = this.S;
    this.gp = this.registerModule('gp', new GlobalPerceptron(C, Math.floor(C / reduce), ctx));
    this.fc3 = this.registerModule('fc3', new Conv2d(S * hw, S * hw, 1, { ...ctx, groups: S, bias: this._deploy }));
    if (!this._deploy) {
      this.registerModule('fc3_bn', new BatchNorm2d(S, { device: ctx.device }));
      for (const k of this.reparamConvK)
        this.registerModule(`repconv${k}`, new ConvBN(S, S, k, { ...ctx, padding: k >> 1, groups: S }));
    }
  }

  get deploy(): boolean {
    return this._deploy;
  }

  /** BatchNorm over the S share-sets (training form only). */
  get fc3Bn(): BatchNorm2d | null {
    return this._deploy ? null : (this.child('fc3_bn') as BatchNorm2d);
  }

  /** The conv branch of kernel k (training form only). */
  repconv(k: number): ConvBN | null {
    return this._deploy ? null : ((this.child(`repconv${k}`) as ConvBN | null) ?? null);
  }

  /** The block's output, unpartition(...) * gate, plus `residual` (x's shape) when given. */
  forward(x: Tensor, residual: Tensor | null = null): Tensor {
    const op = 'RepMLPBlock';
    checkTensor(op, 'x', x, { shape: [null, this.C, null, null] });
    const [N, C, H, W] = x.shape;
    const { h, w, S } = this;
    if (H % h || W % w) fail(op, 'x', `a map whose height and width are multiples of ${h} x ${w}`, `shape ${shapeStr(x.shape)}`);
    const gate = this.gp.forward(x);
    // parts: (N * H/h * W/w, C, h, w); a view of x when the map is one partition
    const parts = partition(x, h, w);
    // Channel Perceptron: fc3 over the share-sets, (B, C, h, w)
    const fc = setSharingFc(parts, this.fc3.weight, S, h, w, this.fc3.bias);
    let sum: Tensor;
    if (this._deploy) {
      sum = fc;
    } else {
      // (B * C / S, S, h, w): fc3_bn and the conv branches see the share-sets as channels
      const fcS = reshape(fc, [-1, S, h, w]);
      sum = this.fc3Bn!.forward(fcS);
      free(fc, fcS);
      const convIn = reshape(parts, [-1, S, h, w]);
      // each branch's BN adds the running sum in its output pass
      for (const k of this.reparamConvK) {
        const s = this.repconv(k)!.forward(convIn, sum);
        free(sum);
        sum = s;
      }
      free(convIn);
    }
    // un-partition, gate and residual add in one pass: (N, C, H, W)
    const back = this.partitionRows(sum, N, (H / h) * (W / w));
    const out = unpartitionGate(back, gate, H, W, { residual });
    free(gate, parts, sum, back);
    return out;
  }

  /**
   * The block's output rows (N * P, C, h, w) in the order un-partition reads them. The
   * memory of `sum` is (N, P, C/S, S*h*w) (P partitions); the reference code's
   * partition_affine reads it as (N, C/S, P, S*h*w), so in that order the rows are
   * permuted (one copy) when P > 1.
   */
  private partitionRows(sum: Tensor, N: number, P: number): Tensor {
    const { C, S, h, w } = this;
    if (this.partitionOrder === 'paper' || P === 1) return reshape(sum, [N * P, C, h, w]);
    const rows = reshape(sum, [N, C / S, P, S * h * w]);
    const moved = permute(rows, [0, 2, 1, 3]);
    const dense = contiguous(moved);
    const back = reshape(dense, [N * P, C, h, w]);
    free(rows, moved, dense);
    return back;
  }

  /**
   * Locality Injection (docs/MODELS.md), in place: fc3_bn and every conv branch (with its BN)
   * merge into fc3, which gains a bias; fc3_bn and repconv* are removed (the deploy form).
   * Runs on the block's device without autograd. Returns this.
   */
  localityInjection(): this {
    if (this._deploy) return this;
    // Parameters registered below are kept; every temporary is freed with the scope.
    scope(() => noGrad(() => {
      const { h, w, S } = this;
      const hw = h * w;
      const device = this.fc3.weight.device;
      // fc3 weight (S*hw, hw, 1, 1) and bias (S*hw) with fc3_bn folded in
      const fc = fuseBn(this.fc3.weight, this.fc3Bn!, hw);
      let weight = fc.weight, bias = fc.bias;
      if (this.reparamConvK.length) {
        const K = Math.max(...this.reparamConvK);
        // the fused kernels zero-padded to K x K and summed: (S, 1, K, K), bias (S)
        let kernel: Tensor | null = null, kbias: Tensor | null = null;
        const one = tensor([1], [1, 1, 1, 1], { device });
        for (const k of this.reparamConvK) {
          const br = this.repconv(k)!;
          const f = fuseBn(br.conv.weight, br.bn, 1);
          // zero-padding as a convolution of the kernels (a batch of S 1-channel images) with 1
          const padded = k === K ? f.weight : conv2d(f.weight, one, null, { padding: (K - k) >> 1 });
          if (padded !== f.weight) f.weight.dispose();
          if (kernel === null || kbias === null) {
            kernel = padded;
            kbias = f.bias;
          } else {
            const nk = add(kernel, padded), nb = add(kbias, f.bias);
            free(kernel, padded, kbias, f.bias);
            kernel = nk;
            kbias = nb;
          }
        }
        one.dispose();
        // the kernel as an FC matrix: convolve the identity, hw images of S channels (h, w)
        const eyeHost = new Float32Array(hw * S * hw);
        for (let i = 0; i < hw; i++) for (let s = 0; s < S; s++) eyeHost[(i * S + s) * hw + i] = 1;
        const eye = tensor(eyeHost, [hw, S, h, w], { device });
        const conv = conv2d(eye, kernel!, null, { padding: K >> 1, groups: S }); // (hw, S, h, w)
        // (hw, S*hw) transposed -> (S*hw, hw): row s*hw + o, column i = output o of set s for input pixel i
        const flat = reshape(conv, [hw, S * hw]);
        const tr = permute(flat, [1, 0]);
        const fcK = contiguous(tr);
        const w2 = reshape(weight, [S * hw, hw]);
        const sumW = add(w2, fcK);
        const newW = reshape(sumW, [S * hw, hw, 1, 1]);
        // conv bias (S) repeated hw times per share-set
        const kb2 = reshape(kbias!, [S, 1]);
        const kbE = expand(kb2, [S, hw]);
        const kbC = contiguous(kbE);
        const kbFlat = reshape(kbC, [S * hw]);
        const newB = add(bias, kbFlat);
        free(eye, conv, flat, tr, fcK, w2, sumW, kernel!, kbias!, kb2, kbE, kbC, kbFlat, weight, bias);
        weight = newW;
        bias = newB;
      }
      const wDense = contiguous(weight);
      if (wDense !== weight) weight.dispose();
      this.fc3.setWeight(wDense);
      this.fc3.setBias(bias);
      this.deleteModule('fc3_bn');
      for (const k of this.reparamConvK) this.deleteModule(`repconv${k}`);
      this._deploy = true;
    }));
    return this;
  }
}

/** ffn_fc1 (1x1 conv C -> hidden + BN) -> GELU -> ffn_fc2 (1x1 conv hidden -> C + BN); the GELU
 * runs in ffn_fc1's BN pass. */
export class FFNBlock extends Module {
  readonly ffnFc1: ConvBN;
  readonly ffnFc2: ConvBN;

  constructor(C: number, hidden: number, ctx: Ctx) {
    super();
    this.ffnFc1 = this.registerModule('ffn_fc1', new ConvBN(C, hidden, 1, { ...ctx, activation: 'gelu' }));
    this.ffnFc2 = this.registerModule('ffn_fc2', new ConvBN(hidden, C, 1, ctx));
  }

  /** ffn(x), plus `residual` when given (added in ffn_fc2's BN pass). */
  forward(x: Tensor, residual: Tensor | null = null): Tensor {
    const g = this.ffnFc1.forward(x);
    const y = this.ffnFc2.forward(g, residual);
    g.dispose();
    return y;
  }
}

/** y = x + repmlp_block(prebn1(x)); z = y + ffn_block(prebn2(y)). */
export class RepMLPNetUnit extends Module {
  readonly repmlpBlock: RepMLPBlock;
  readonly ffnBlock: FFNBlock;
  readonly prebn1: BatchNorm2d;
  readonly prebn2: BatchNorm2d;

  constructor(C: number, opts: RepMLPBlockOptions, ctx: Ctx) {
    super();
    this.repmlpBlock = this.registerModule('repmlp_block', new RepMLPBlock(C, opts, ctx));
    this.ffnBlock = this.registerModule('ffn_block', new FFNBlock(C, 4 * C, ctx));
    this.prebn1 = this.registerModule('prebn1', new BatchNorm2d(C, { device: ctx.device }));
    this.prebn2 = this.registerModule('prebn2', new BatchNorm2d(C, { device: ctx.device }));
  }

  forward(x: Tensor): Tensor {
    const a = this.prebn1.forward(x);
    const y = this.repmlpBlock.forward(a, x); // x + block(a)
    const c = this.prebn2.forward(y);
    const z = this.ffnBlock.forward(c, y);
    free(a, y, c);
    return z;
  }
}

/** The whole network: conv_embedding, stages.{i}.{j}, embeds.{i}, head_norm, head. */
export class RepMLPNet extends Module {
  readonly config: CheckedConfig;
  readonly convEmbedding: ConvBN;
  readonly stages: ModuleList<ModuleList<RepMLPNetUnit>>;
  readonly embeds: ModuleList<ConvBN>;
  readonly headNorm: BatchNorm2d;
  readonly head: Linear;

  private readonly warn: (message: string) => void;
  private warned = false;

  /** A config under repmlp's names or the reference code's (lib/models/config.ts). */
  constructor(config: RepMLPNetConfig | ReferenceRepMLPNetConfig, opts: BuildOptions = {}) {
    super();
    const cfg = (this.config = validateConfig(config));
    const ctx = ctxOf(opts);
    this.warn = opts.onWarning ?? warnOnStderr;
    checkFits(cfg, ctx.device ?? 'cpu');
    const ch = cfg.channels;
    const p = patchPair(cfg);
    this.convEmbedding = this.registerModule('conv_embedding', new ConvBN(cfg.inChannels, ch[0], p, { ...ctx, stride: p, activation: 'relu' }));
    const stages: ModuleList<RepMLPNetUnit>[] = [];
    const embeds: ConvBN[] = [];
    for (let i = 0; i < cfg.numBlocks.length; i++) {
      const units: RepMLPNetUnit[] = [];
      for (let j = 0; j < cfg.numBlocks[i]; j++)
        units.push(new RepMLPNetUnit(ch[i], {
          h: cfg.hs[i], w: cfg.ws[i], S: cfg.sharesetsNums[i], reparamConvK: cfg.reparamConvK,
          globalPerceptronReduce: cfg.globalPerceptronReduce, deploy: cfg.deploy, partitionOrder: cfg.partitionOrder,
        }, ctx));
      stages.push(new ModuleList(units));
      if (i < cfg.numBlocks.length - 1) embeds.push(new ConvBN(ch[i], ch[i + 1], 2, { ...ctx, stride: 2, activation: 'relu' }));
    }
    this.stages = this.registerModule('stages', new ModuleList(stages));
    this.embeds = this.registerModule('embeds', new ModuleList(embeds));
    this.headNorm = this.registerModule('head_norm', new BatchNorm2d(ch[ch.length - 1], { device: ctx.device }));
    this.head = this.registerModule('head', new Linear(ch[ch.length - 1], cfg.numClasses, ctx));
  }

  /** Every RepMLP block, stage by stage. */
  blocks(): RepMLPBlock[] {
    return this.stages.items.flatMap((s) => s.items.map((u) => u.repmlpBlock));
  }

  /** True once every block is in the deploy form. */
  get deploy(): boolean {
    return this.blocks().every((b) => b.deploy);
  }

  /** The output of each stage (before the next embedding): one (N, C_i, H_i, W_i) per stage. */
  forwardFeatures(x: Tensor): Tensor[] {
    const { inChannels } = this.config;
    checkTensor('RepMLPNet', 'x', x, { shape: [null, inChannels, null, null] });
    const [, , H, W] = x.shape;
    const n = this.stages.items.length;
    const [ph, pw] = patchPair(this.config);
    const sh = ph * 2 ** (n - 1), sw = pw * 2 ** (n - 1);
    if (H % sh || W % sw) {
      const by = sh === sw ? `${sh}` : `${sh} and ${sw}`;
      fail('RepMLPNet', 'x', `a height and width divisible by ${by} (patch ${ph === pw ? ph : `${ph} x ${pw}`}, ${n} stages)`, `shape ${shapeStr(x.shape)}`);
    }
    this.warnPartitionOrder(H, W);
    const feats: Tensor[] = [];
    let cur = this.convEmbedding.forward(x);
    this.stages.items.forEach((stage, i) => {
      for (const unit of stage.items) {
        const next = unit.forward(cur);
        cur.dispose();
        cur = next;
      }
      feats.push(cur);
      if (i < n - 1) cur = this.embeds.items[i].forward(cur);
    });
    return feats;
  }

  /** Warns once when the model runs with several partitions per map in the default order. */
  private warnPartitionOrder(H: number, W: number): void {
    if (this.warned) return;
    const message = partitionOrderWarning(this.config, [H, W]);
    if (message === null) return;
    this.warned = true;
    this.warn(message);
  }

  /** Logits (N, numClasses). */
  forward(x: Tensor): Tensor {
    const feats = this.forwardFeatures(x);
    const last = feats[feats.length - 1];
    const nrm = this.headNorm.forward(last);
    const pooled = globalAvgPool(nrm);
    const flat = reshape(pooled, [pooled.shape[0], pooled.shape[1]]);
    const logits = this.head.forward(flat);
    free(...feats, nrm, pooled, flat);
    return logits;
  }

  /** Locality Injection in every block (in place, on the model's device). Returns this. */
  localityInjection(): this {
    for (const b of this.blocks()) b.localityInjection();
    this.config.deploy = true;
    return this;
  }
}
