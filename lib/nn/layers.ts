// The basic layers, with PyTorch's parameter names, shapes and default initialisation:
// Conv2d, Linear (kaiming-uniform, i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and
// bias, drawn from a seeded Rng), BatchNorm2d (ones, zeros, running statistics 0 and 1,
// num_batches_tracked an int64 scalar), and ConvBN: the reference code's
// nn.Sequential(conv, bn[, relu]) with keys conv.weight and bn.*, whose activation (ReLU, or
// the FFN's GELU) runs in the BN's output pass.
import { batchNorm2d, type BatchNormActivation } from '../ops/batchnorm';
import { conv1x1 } from '../ops/conv1x1';
import { conv2d } from '../ops/conv2d';
import { linear } from '../ops/linear';
import { checkInt } from '../check';
import { describe, fail } from '../errors';
import { full, rand, tensor } from '../creation';
import type { Rng } from '../rng';
import type { Device, Tensor } from '../tensor';
import { Module } from './module';

export interface InitOptions {
  /** The generator of the initial weights. */
  rng: Rng;
  /** Where the parameters live (default 'cpu'). */
  device?: Device;
}

function checkRng(op: string, opts: InitOptions): Rng {
  if (typeof opts !== 'object' || opts === null || typeof opts.rng?.uniform !== 'function')
    fail(op, 'options.rng', 'an Rng', describe(opts?.rng));
  return opts.rng;
}

function uniform(shape: number[], bound: number, rng: Rng, device: Device | undefined): Tensor {
  return rand(shape, rng, { low: -bound, high: bound, device });
}

/** One size for both dimensions, or [height, width]. */
export type Size2 = number | readonly [number, number];

export interface Conv2dLayerOptions extends InitOptions {
  stride?: Size2;
  padding?: Size2;
  groups?: number;
  /** Default true, as in PyTorch. */
  bias?: boolean;
}

/** A Size2 as [height, width], each an integer >= min. */
function pair(arg: string, v: Size2, min: number): [number, number] {
  if (Array.isArray(v) && v.length === 2) return [checkInt('Conv2d', arg, v[0], min), checkInt('Conv2d', arg, v[1], min)];
  if (typeof v === 'number') {
    const n = checkInt('Conv2d', arg, v, min);
    return [n, n];
  }
  return fail('Conv2d', arg, `an integer >= ${min} or a pair [h, w] of them`, describe(v));
}

/** weight (out, in / groups, kh, kw), bias (out) unless bias is false. */
export class Conv2d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  /** [height, width] of the kernel, the stride and the padding */
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly groups: number;

  constructor(inChannels: number, outChannels: number, kernelSize: Size2, opts: Conv2dLayerOptions) {
    super();
    const rng = checkRng('Conv2d', opts);
    this.inChannels = checkInt('Conv2d', 'inChannels', inChannels);
    this.outChannels = checkInt('Conv2d', 'outChannels', outChannels);
    this.kernelSize = pair('kernelSize', kernelSize, 1);
    this.stride = pair('options.stride', opts.stride ?? 1, 1);
    this.padding = pair('options.padding', opts.padding ?? 0, 0);
    this.groups = checkInt('Conv2d', 'options.groups', opts.groups ?? 1);
    if (inChannels % this.groups || outChannels % this.groups)
      fail('Conv2d', 'options.groups', `a divisor of inChannels ${inChannels} and outChannels ${outChannels}`, String(this.groups));
    const [kh, kw] = this.kernelSize;
    const bound = 1 / Math.sqrt((inChannels / this.groups) * kh * kw);
    this.registerParameter('weight', uniform([outChannels, inChannels / this.groups, kh, kw], bound, rng, opts.device));
    if (opts.bias ?? true) this.registerParameter('bias', uniform([outChannels], bound, rng, opts.device));
  }

  get weight(): Tensor {
    return this.param('weight');
  }

  get bias(): Tensor | null {
    return this.optionalParam('bias');
  }

  /** Adds, replaces (disposing the old) or removes the bias; the layer owns t. */
  setBias(t: Tensor | null): void {
    if (t === null) this.deleteParameter('bias');
    else this.registerParameter('bias', t);
  }

  /** Replaces the weight (same shape), disposing the old; the layer owns t. */
  setWeight(t: Tensor): void {
    if (t.shape.join() !== this.weight.shape.join())
      fail('Conv2d.setWeight', 'weight', `shape (${this.weight.shape.join(', ')})`, `shape (${t.shape.join(', ')})`);
    this.registerParameter('weight', t);
  }

  forward(x: Tensor): Tensor {
    // A plain 1x1 convolution is a GEMM per image.
    const ones = (p: [number, number], v: number) => p[0] === v && p[1] === v;
    if (ones(this.kernelSize, 1) && ones(this.stride, 1) && ones(this.padding, 0) && this.groups === 1)
      return conv1x1(x, this.weight, this.bias);
    return conv2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding, groups: this.groups });
  }
}

/** weight (out, in), bias (out). */
export class Linear extends Module {
  constructor(inFeatures: number, outFeatures: number, opts: InitOptions & { bias?: boolean }) {
    super();
    const rng = checkRng('Linear', opts);
    checkInt('Linear', 'inFeatures', inFeatures);
    checkInt('Linear', 'outFeatures', outFeatures);
    const bound = 1 / Math.sqrt(inFeatures);
    this.registerParameter('weight', uniform([outFeatures, inFeatures], bound, rng, opts.device));
    if (opts.bias ?? true) this.registerParameter('bias', uniform([outFeatures], bound, rng, opts.device));
  }

  get weight(): Tensor {
    return this.param('weight');
  }

  get bias(): Tensor | null {
    return this.optionalParam('bias');
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}

/** PyTorch's BatchNorm2d(C): eps 1e-5, momentum 0.1, running statistics tracked. */
export class BatchNorm2d extends Module {
  readonly eps: number;
  readonly momentum: number;
  /**
   * Training statistics over every rank of the distributed world (SyncBatchNorm; see
   * batchNorm2d's sync option). Default false: each rank normalises by its own batch.
   */
  sync = false;

  constructor(numFeatures: number, opts: { device?: Device; eps?: number; momentum?: number } = {}) {
    super();
    const C = checkInt('BatchNorm2d', 'numFeatures', numFeatures);
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum ?? 0.1;
    const device = opts.device;
    this.registerParameter('weight', full([C], 1, { device }));
    this.registerParameter('bias', full([C], 0, { device }));
    this.registerBuffer('running_mean', full([C], 0, { device }));
    this.registerBuffer('running_var', full([C], 1, { device }));
    this.registerBuffer('num_batches_tracked', tensor(BigInt64Array.of(0n), [], { device }));
  }

  get weight(): Tensor {
    return this.param('weight');
  }
  get bias(): Tensor {
    return this.param('bias');
  }
  get runningMean(): Tensor {
    return this.buffer('running_mean');
  }
  get runningVar(): Tensor {
    return this.buffer('running_var');
  }
  get numBatchesTracked(): Tensor {
    return this.buffer('num_batches_tracked');
  }

  /**
   * act(BN(x)), or BN(x) + residual: the activation (default none) or the residual is applied
   * in the same pass.
   */
  forward(x: Tensor, activation: BatchNormActivation = 'none', residual: Tensor | null = null): Tensor {
    return batchNorm2d(x, this.weight, this.bias, this.runningMean, this.runningVar, this.numBatchesTracked, {
      training: this.training,
      momentum: this.momentum,
      eps: this.eps,
      activation,
      residual,
      sync: this.sync,
    });
  }
}

export interface ConvBNOptions extends InitOptions {
  stride?: Size2;
  padding?: Size2;
  groups?: number;
  /**
   * An activation after the BN, computed in the BN's output pass: 'relu' is the reference's
   * conv_bn_relu, 'gelu' the FFN's first layer with its GELU. Default 'none'.
   */
  activation?: BatchNormActivation;
}

/** conv (no bias) -> bn [-> activation]: keys conv.weight, bn.*. */
export class ConvBN extends Module {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;
  readonly activation: BatchNormActivation;

  constructor(inChannels: number, outChannels: number, kernelSize: Size2, opts: ConvBNOptions) {
    super();
    this.conv = this.registerModule('conv', new Conv2d(inChannels, outChannels, kernelSize, { ...opts, bias: false }));
    this.bn = this.registerModule('bn', new BatchNorm2d(outChannels, { device: opts.device }));
    const activation = opts.activation ?? 'none';
    if (!['none', 'relu', 'gelu'].includes(activation))
      fail('ConvBN', 'activation', "'none', 'relu' or 'gelu'", describe(activation));
    this.activation = activation;
  }

  /** act(bn(conv(x))), plus `residual` (a tensor of the output's shape) when given, in the BN's pass. */
  forward(x: Tensor, residual: Tensor | null = null): Tensor {
    const c = this.conv.forward(x);
    const y = this.bn.forward(c, this.activation, residual);
    c.dispose();
    return y;
  }
}
