// The pure-MLP CIFAR model of the RepMLP paper (section 4.1), its Wide ConvNet and Table 1's
// ablations (lib/models/repmlp-cifar-config.ts describes them). Keys: stages.i.fc.{conv, bn}.*,
// stages.i.repmlp.* (a RepMLP, or a ConvBN in the conv variants), linear.*. localityInjection()
// converts every RepMLP and folds every BN, as RepMLP-ResNet's does.
import { checkTensor } from '../check';
import { globalAvgPool } from '../ops/avgpool';
import { relu } from '../ops/unary';
import { reshape } from '../ops/views';
import { Rng } from '../rng';
import type { Tensor } from '../tensor';
import { ConvBN, Linear, MaxPool2d, type InitOptions } from '../nn/layers';
import { Module, ModuleList } from '../nn/module';
import type { FamilyBuildOptions } from './families';
import { convertToDeploy, isDeployForm, RepMLP } from './repmlp-block';
import { cifarCost, mixerOf, stageMap, validateCifarConfig, type RepMLPCifarConfig } from './repmlp-cifar-config';
import { checkParametersFit } from './size';

/** fc (1x1 ConvBNReLU) -> the mixing layer -> ReLU. */
export class CifarStage extends Module {
  readonly fc: ConvBN;
  readonly mixer: RepMLP | ConvBN;

  constructor(cfg: Required<RepMLPCifarConfig>, i: number, inC: number, ctx: InitOptions) {
    super();
    const C = cfg.channels[i], [H, W] = stageMap(cfg, i), m = mixerOf(cfg), deploy = cfg.deploy;
    this.fc = this.registerModule('fc', new ConvBN(inC, C, 1, { ...ctx, activation: 'relu', deploy }));
    this.mixer = this.registerModule('repmlp', m.kind === 'conv'
      ? new ConvBN(C, C, m.k, { ...ctx, padding: m.k >> 1, activation: 'relu', deploy })
      : new RepMLP(C, C, {
        H, W, h: cfg.h, w: cfg.w, reparamConvK: m.reparamConvK, fc1Fc2Reduction: cfg.fc1Fc2Reduction, fc3Groups: cfg.fc3Groups,
        globalPerceptron: m.globalPerceptron, fc3Kernel: m.fc3Kernel, deploy,
      }, ctx));
  }

  forward(x: Tensor): Tensor {
    const a = this.fc.forward(x);
    const b = this.mixer.forward(a);
    a.dispose();
    if (this.mixer instanceof ConvBN) return b; // its ReLU runs in the BN's pass
    const y = relu(b);
    b.dispose();
    return y;
  }
}

export class RepMLPCifarNet extends Module {
  readonly config: Required<RepMLPCifarConfig>;
  readonly stages: ModuleList<CifarStage>;
  readonly pool = new MaxPool2d(2);
  readonly linear: Linear;

  constructor(config: RepMLPCifarConfig, opts: FamilyBuildOptions = {}) {
    super();
    const cfg = (this.config = validateCifarConfig(config));
    checkParametersFit(cifarCost(cfg).params, opts.device ?? 'cpu', 'RepMLPCifarNet', `channels ${JSON.stringify(cfg.channels)}`);
    const ctx: InitOptions = { rng: opts.rng ?? new Rng(opts.seed ?? 0), device: opts.device, uninitialized: opts.uninitialized };
    this.stages = this.registerModule('stages', new ModuleList(cfg.channels.map((_, i) => new CifarStage(cfg, i, i ? cfg.channels[i - 1] : cfg.inChannels, ctx))));
    this.linear = this.registerModule('linear', new Linear(cfg.channels[2], cfg.numClasses, ctx));
  }

  get deploy(): boolean {
    return isDeployForm(this);
  }

  /** Logits (N, numClasses). */
  forward(x: Tensor): Tensor {
    const { inChannels, imgH, imgW } = this.config;
    checkTensor('RepMLPCifarNet', 'x', x, { shape: [null, inChannels, imgH, imgW] });
    let cur = x;
    this.stages.items.forEach((stage, i) => {
      const y = stage.forward(cur);
      if (cur !== x) cur.dispose();
      cur = y;
      if (i < 2) {
        const p = this.pool.forward(cur);
        cur.dispose();
        cur = p;
      }
    });
    const pooled = globalAvgPool(cur);
    const flat = reshape(pooled, [pooled.shape[0], pooled.shape[1]]);
    const logits = this.linear.forward(flat);
    for (const t of [cur, pooled, flat]) t.dispose();
    return logits;
  }

  /** The deploy form, in place on the model's device. Returns this. */
  localityInjection(): this {
    convertToDeploy(this);
    this.config.deploy = true;
    return this;
  }
}
