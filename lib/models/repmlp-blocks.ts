// The residual blocks of RepMLP-ResNet (Ding et al. 2021, the reference code's
// repmlp_blocks.py and repmlp_resnet.py), with the reference's module names:
//
//   BaseBlock (ResNet-50's bottleneck): conv1 1x1 ConvBNReLU (in -> mid), conv2 3x3
//     ConvBNReLU (mid -> mid, the block's stride), conv3 1x1 ConvBN (mid -> out)
//   RepMLPLightBlock: light_conv1 1x1 ConvBNReLU (in -> mid), light_repmlp (mid -> mid), ReLU,
//     light_conv3 1x1 ConvBN (mid -> out)
//   RepMLPBottleneckBlock: btnk_conv1 1x1 ConvBNReLU (in -> mid), btnk_conv2 3x3 ConvBNReLU
//     (mid -> mid / r), btnk_repmlp (mid / r), ReLU, btnk_conv4 3x3 ConvBNReLU (mid / r -> mid),
//     btnk_conv5 1x1 ConvBN (mid -> out)
//
// each with `shortcut`, a 1x1 ConvBN (with the block's stride) when the channels or the
// stride change and the identity otherwise, added before the last ReLU. The last ConvBN adds
// the shortcut in its BN pass. In the deploy form every ConvBN is a conv with a bias.
import { relu } from '../ops/unary';
import type { Tensor } from '../tensor';
import { ConvBN, type InitOptions } from '../nn/layers';
import { Module } from '../nn/module';
import { RepMLP, type RepMLPOptions } from './repmlp-block';

/** What every block's layers are built with: the generator, the device, the form. */
export interface BlockContext extends InitOptions {
  deploy: boolean;
}

function free(...ts: Tensor[]): void {
  for (const t of ts) t.dispose();
}

/** A 1x1 or 3x3 (padding 1) ConvBN, with ReLU when `relu`. */
function convBn(inC: number, outC: number, k: 1 | 3, ctx: BlockContext, opts: { relu?: boolean; stride?: number } = {}): ConvBN {
  return new ConvBN(inC, outC, k, { ...ctx, padding: k >> 1, stride: opts.stride ?? 1, activation: opts.relu ? 'relu' : 'none' });
}

/** A residual block: `shortcut` (ConvBN or identity) registered first, as the reference does. */
abstract class ResidualBlock extends Module {
  readonly shortcut: ConvBN | null;

  constructor(inC: number, outC: number, stride: number, ctx: BlockContext) {
    super();
    this.shortcut = inC !== outC || stride !== 1 ? this.registerModule('shortcut', convBn(inC, outC, 1, ctx, { stride })) : null;
  }

  /** The body up to the last ConvBN's input. */
  protected abstract body(x: Tensor): Tensor;
  /** The last ConvBN (whose BN adds the shortcut). */
  protected abstract get last(): ConvBN;

  forward(x: Tensor): Tensor {
    const s = this.shortcut ? this.shortcut.forward(x) : x;
    const b = this.body(x);
    const y = this.last.forward(b, s);
    const out = relu(y);
    free(b, y, ...(s === x ? [] : [s]));
    return out;
  }
}

/** ResNet-50's bottleneck block (the reference's BaseBlock). */
export class BaseBlock extends ResidualBlock {
  readonly conv1: ConvBN;
  readonly conv2: ConvBN;
  readonly conv3: ConvBN;

  constructor(inC: number, midC: number, outC: number, stride: number, ctx: BlockContext) {
    super(inC, outC, stride, ctx);
    this.conv1 = this.registerModule('conv1', convBn(inC, midC, 1, ctx, { relu: true }));
    this.conv2 = this.registerModule('conv2', convBn(midC, midC, 3, ctx, { relu: true, stride }));
    this.conv3 = this.registerModule('conv3', convBn(midC, outC, 1, ctx));
  }

  protected get last(): ConvBN {
    return this.conv3;
  }

  protected body(x: Tensor): Tensor {
    const a = this.conv1.forward(x);
    const b = this.conv2.forward(a);
    a.dispose();
    return b;
  }
}

/** The RepMLP options of a block's RepMLP (the map, partition and reparameterization). */
export type BlockRepMLPOptions = Omit<RepMLPOptions, 'deploy'>;

/** RepMLP Light Block: 1x1 down to mid, RepMLP, ReLU, 1x1 up. */
export class RepMLPLightBlock extends ResidualBlock {
  readonly lightConv1: ConvBN;
  readonly lightRepmlp: RepMLP;
  readonly lightConv3: ConvBN;

  constructor(inC: number, midC: number, outC: number, repmlp: BlockRepMLPOptions, ctx: BlockContext) {
    super(inC, outC, 1, ctx);
    this.lightConv1 = this.registerModule('light_conv1', convBn(inC, midC, 1, ctx, { relu: true }));
    this.lightRepmlp = this.registerModule('light_repmlp', new RepMLP(midC, midC, { ...repmlp, deploy: ctx.deploy }, ctx));
    this.lightConv3 = this.registerModule('light_conv3', convBn(midC, outC, 1, ctx));
  }

  protected get last(): ConvBN {
    return this.lightConv3;
  }

  protected body(x: Tensor): Tensor {
    const a = this.lightConv1.forward(x);
    const b = this.lightRepmlp.forward(a);
    const c = relu(b);
    free(a, b);
    return c;
  }
}

/** RepMLP Bottleneck Block: 1x1 to mid, 3x3 to mid / r, RepMLP, ReLU, 3x3 back to mid, 1x1 up. */
export class RepMLPBottleneckBlock extends ResidualBlock {
  readonly btnkConv1: ConvBN;
  readonly btnkConv2: ConvBN;
  readonly btnkRepmlp: RepMLP;
  readonly btnkConv4: ConvBN;
  readonly btnkConv5: ConvBN;

  constructor(inC: number, midC: number, outC: number, r: number, repmlp: BlockRepMLPOptions, ctx: BlockContext) {
    super(inC, outC, 1, ctx);
    const repmlpC = Math.floor(midC / r);
    this.btnkConv1 = this.registerModule('btnk_conv1', convBn(inC, midC, 1, ctx, { relu: true }));
    this.btnkConv2 = this.registerModule('btnk_conv2', convBn(midC, repmlpC, 3, ctx, { relu: true }));
    this.btnkRepmlp = this.registerModule('btnk_repmlp', new RepMLP(repmlpC, repmlpC, { ...repmlp, deploy: ctx.deploy }, ctx));
    this.btnkConv4 = this.registerModule('btnk_conv4', convBn(repmlpC, midC, 3, ctx, { relu: true }));
    this.btnkConv5 = this.registerModule('btnk_conv5', convBn(midC, outC, 1, ctx));
  }

  protected get last(): ConvBN {
    return this.btnkConv5;
  }

  protected body(x: Tensor): Tensor {
    const a = this.btnkConv1.forward(x);
    const b = this.btnkConv2.forward(a);
    const c = this.btnkRepmlp.forward(b);
    const d = relu(c);
    const e = this.btnkConv4.forward(d);
    free(a, b, c, d);
    return e;
  }
}
