// The basic layers, with PyTorch's parameter names, shapes and default initialisation:
// Conv2d, Linear (kaiming-uniform, i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and
// bias, drawn from a seeded Rng), BatchNorm2d (ones, zeros, running statistics 0 and 1,
// num_batches_tracked an int64 scalar), and ConvBN: the reference code's
// nn.Sequential(conv, bn[, relu]) with keys conv.weight and bn.*, whose activation (ReLU, or
// the FFN's GELU) runs in the BN's output pass, and whose deploy form (RepMLP's ConvBN after
// switch_to_deploy) is the conv alone with the BN folded into its weight and a bias; and the
// parameter-free pooling layers MaxPool2d and AvgPool2d.
import { noGrad } from '../autograd';
import { add } from '../ops/arithmetic';
import { avgPool2d } from '../ops/avgpool';
import { batchNorm2d, type BatchNormActivation } from '../ops/batchnorm';
import { maxPool2d, type MaxPool2dOptions } from '../ops/maxpool';
import { gelu, relu } from '../ops/unary';
import { scope } from '../scope';
import { conv1x1 } from '../ops/conv1x1';
import { conv2d } from '../ops/conv2d';
import { linear } from '../ops/linear';
import { checkInt } from '../check';
import { describe, fail } from '../errors';
import { full, rand, tensor } from '../creation';
import type { Rng } from '../rng';
import { Tensor, type Device } from '../tensor';
import { Module } from './module';
import { fuseBn } from './reparam';

// Replaces a parameter by t of the same shape (the module owns t); errors name the layer.
function checkSameShape(op: string, old: Tensor, t: Tensor): void {
  if (t.shape.join() !== old.shape.join()) fail(op, 'weight', `shape (${old.shape.join(', ')})`, `shape (${t.shape.join(', ')})`);
}

export interface InitOptions {
  /** The generator of the initial weights. */
  rng: Rng;
  /** Where the parameters live (default 'cpu'). */
  device?: Device;
  /** Leave the weights uninitialised (a module whose state dict is loaded next); default false. */
  uninitialized?: boolean;
}

function checkRng(op: string, opts: InitOptions): Rng {
  if (typeof opts !== 'object' || opts === null || typeof opts.rng?.uniform !== 'function')
    fail(op, 'options.rng', 'an Rng', describe(opts?.rng));
  return opts.rng;
}

function uniform(shape: number[], bound: number, rng: Rng, opts: InitOptions): Tensor {
  if (opts.uninitialized) return Tensor.empty(shape, { device: opts.device });
  return rand(shape, rng, { low: -bound, high: bound, device: opts.device });
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
    this.registerParameter('weight', uniform([outChannels, inChannels / this.groups, kh, kw], bound, rng, opts));
    if (opts.bias ?? true) this.registerParameter('bias', uniform([outChannels], bound, rng, opts));
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
    checkSameShape('Conv2d.setWeight', this.weight, t);
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
    this.registerParameter('weight', uniform([outFeatures, inFeatures], bound, rng, opts));
    if (opts.bias ?? true) this.registerParameter('bias', uniform([outFeatures], bound, rng, opts));
  }

  get weight(): Tensor {
    return this.param('weight');
  }

  get bias(): Tensor | null {
    return this.optionalParam('bias');
  }

  /** Replaces the weight (same shape), disposing the old; the layer owns t. */
  setWeight(t: Tensor): void {
    checkSameShape('Linear.setWeight', this.weight, t);
    this.registerParameter('weight', t);
  }

  /** Adds, replaces (disposing the old) or removes the bias; the layer owns t. */
  setBias(t: Tensor | null): void {
    if (t === null) this.deleteParameter('bias');
    else this.registerParameter('bias', t);
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
  /** Build the deploy form: the conv with a bias and no BN (as after fuseBn()). Default false. */
  deploy?: boolean;
}

/** conv (no bias) -> bn [-> activation]: keys conv.weight, bn.*; deploy form conv.weight, conv.bias. */
export class ConvBN extends Module {
  readonly conv: Conv2d;
  readonly activation: BatchNormActivation;

  constructor(inChannels: number, outChannels: number, kernelSize: Size2, opts: ConvBNOptions) {
    super();
    const deploy = opts.deploy ?? false;
    this.conv = this.registerModule('conv', new Conv2d(inChannels, outChannels, kernelSize, { ...opts, bias: deploy }));
    if (!deploy) this.registerModule('bn', new BatchNorm2d(outChannels, { device: opts.device }));
    const activation = opts.activation ?? 'none';
    if (!['none', 'relu', 'gelu'].includes(activation))
      fail('ConvBN', 'activation', "'none', 'relu' or 'gelu'", describe(activation));
    this.activation = activation;
  }

  /** The BN after the conv; null in the deploy form. */
  get bn(): BatchNorm2d | null {
    return this.child('bn') as BatchNorm2d | null;
  }

  get deploy(): boolean {
    return this.bn === null;
  }

  /**
   * act(bn(conv(x))), plus `residual` (a tensor of the output's shape) when given: in the BN's
   * pass in the training form, after the conv (with its bias) in the deploy form.
   */
  forward(x: Tensor, residual: Tensor | null = null): Tensor {
    const c = this.conv.forward(x);
    const bn = this.bn;
    if (bn) {
      const y = bn.forward(c, this.activation, residual);
      c.dispose();
      return y;
    }
    if (residual && this.activation !== 'none') fail('ConvBN', 'residual', `no residual with activation '${this.activation}'`, 'a Tensor');
    if (this.activation === 'none' && !residual) return c;
    const y = residual ? add(c, residual) : this.activation === 'relu' ? relu(c) : gelu(c);
    c.dispose();
    return y;
  }

  /**
   * Folds the BN into the conv, in place on the layer's device (the reference's
   * ConvBN.switch_to_deploy): conv.weight * gamma / sigma, conv.bias beta - mu * gamma / sigma,
   * and no bn. Returns this; a no-op in the deploy form.
   */
  fuseBn(): this {
    const bn = this.bn;
    if (!bn) return this;
    scope(() => noGrad(() => {
      const f = fuseBn(this.conv.weight, bn);
      this.conv.setWeight(f.weight);
      this.conv.setBias(f.bias);
      this.deleteModule('bn');
    }));
    return this;
  }
}

/** Max pooling (no parameters), as nn.MaxPool2d(kernel, stride, padding). */
export class MaxPool2d extends Module {
  constructor(readonly kernelSize: number, readonly opts: MaxPool2dOptions = {}) {
    super();
  }

  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.kernelSize, this.opts);
  }
}

/** Average pooling with the window as its stride (no parameters), as nn.AvgPool2d(kernel). */
export class AvgPool2d extends Module {
  constructor(readonly kernel: readonly [number, number]) {
    super();
  }

  forward(x: Tensor): Tensor {
    return avgPool2d(x, this.kernel);
  }
}
