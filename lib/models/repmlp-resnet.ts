// RepMLP-ResNet (Ding et al. 2021, the reference code's repmlp_resnet.py): stage0 (7x7 stride-2
// ConvBNReLU to stemChannels, then 3x3 stride-2 max pooling with padding 1), four stages of
// blocks as resnetPlan lays them out (lib/models/repmlp-resnet-config.ts), global average
// pooling (`gap`) and `linear`. Module names and state-dict keys are the reference's
// (stage0.0.conv.weight, stage2.1.light_repmlp.fc3.weight, linear.bias, ...), in both forms.
// localityInjection() converts the whole model in place on its device, as the reference's
// repmlp_model_convert: every RepMLP block, then every remaining ConvBN (BN folded into the
// conv), so that the deploy form has no BatchNorm at all.
import { checkTensor } from '../check';
import { globalAvgPool } from '../ops/avgpool';
import { reshape } from '../ops/views';
import { Rng } from '../rng';
import type { Tensor } from '../tensor';
import { ConvBN, Linear, MaxPool2d } from '../nn/layers';
import { Module, ModuleList } from '../nn/module';
import type { FamilyBuildOptions } from './families';
import { convertToDeploy, isDeployForm } from './repmlp-block';
import { BaseBlock, RepMLPBottleneckBlock, RepMLPLightBlock, type BlockContext, type BlockRepMLPOptions } from './repmlp-blocks';
import { resnetCost, resnetPlan, validateResNetConfig, type BlockPlan, type RepMLPResNetConfig } from './repmlp-resnet-config';
import { checkParametersFit } from './size';

type Block = BaseBlock | RepMLPLightBlock | RepMLPBottleneckBlock;

function makeBlock(b: BlockPlan, repmlp: BlockRepMLPOptions, ctx: BlockContext): Block {
  if (b.type === 'light') return new RepMLPLightBlock(b.inC, b.midC, b.outC, repmlp, ctx);
  if (b.type === 'bottleneck') return new RepMLPBottleneckBlock(b.inC, b.midC, b.outC, b.r, repmlp, ctx);
  return new BaseBlock(b.inC, b.midC, b.outC, b.stride, ctx);
}

export class RepMLPResNet extends Module {
  readonly config: Required<RepMLPResNetConfig>;
  readonly stem: ConvBN;
  readonly stemPool: MaxPool2d;
  readonly stages: ModuleList<Block>[];
  readonly linear: Linear;

  constructor(config: RepMLPResNetConfig, opts: FamilyBuildOptions = {}) {
    super();
    const cfg = (this.config = validateResNetConfig(config));
    checkParametersFit(resnetCost(cfg).params, opts.device ?? 'cpu', 'RepMLPResNet', `blockType ${cfg.blockType}, channels ${JSON.stringify(cfg.channels)}`);
    const ctx: BlockContext = { rng: opts.rng ?? new Rng(opts.seed ?? 0), device: opts.device, uninitialized: opts.uninitialized, deploy: cfg.deploy };
    this.stem = new ConvBN(cfg.inChannels, cfg.stemChannels, 7, { ...ctx, stride: 2, padding: 3, activation: 'relu' });
    this.stemPool = new MaxPool2d(3, { stride: 2, padding: 1 });
    this.registerModule('stage0', new ModuleList<Module>([this.stem, this.stemPool]));
    const repmlp = { h: cfg.h, w: cfg.w, reparamConvK: cfg.reparamConvK, fc1Fc2Reduction: cfg.fc1Fc2Reduction, fc3Groups: cfg.fc3Groups };
    this.stages = resnetPlan(cfg).map((blocks, i) =>
      this.registerModule(`stage${i + 1}`, new ModuleList(blocks.map((b) => makeBlock(b, { ...repmlp, H: b.H, W: b.W }, ctx)))),
    );
    this.linear = this.registerModule('linear', new Linear(cfg.channels[3], cfg.numClasses, ctx));
  }

  /** True once every RepMLP block and ConvBN is in the deploy form. */
  get deploy(): boolean {
    return isDeployForm(this);
  }

  /** The output of each stage 1-4: (N, channels[i], imgH / 2^(i+2), imgW / 2^(i+2)). */
  forwardFeatures(x: Tensor): Tensor[] {
    const { inChannels, imgH, imgW } = this.config;
    checkTensor('RepMLPResNet', 'x', x, { shape: [null, inChannels, imgH, imgW] });
    const s = this.stem.forward(x);
    let cur = this.stemPool.forward(s);
    s.dispose();
    const feats: Tensor[] = [];
    for (const stage of this.stages) {
      for (const block of stage.items) {
        const next = block.forward(cur);
        if (!feats.includes(cur)) cur.dispose();
        cur = next;
      }
      feats.push(cur);
    }
    return feats;
  }

  /** Logits (N, numClasses). */
  forward(x: Tensor): Tensor {
    const feats = this.forwardFeatures(x);
    const pooled = globalAvgPool(feats[feats.length - 1]);
    const flat = reshape(pooled, [pooled.shape[0], pooled.shape[1]]);
    const logits = this.linear.forward(flat);
    for (const t of [...feats, pooled, flat]) t.dispose();
    return logits;
  }

  /** The deploy form, in place on the model's device (repmlp_model_convert). Returns this. */
  localityInjection(): this {
    convertToDeploy(this);
    this.config.deploy = true;
    return this;
  }
}
