// RepMLP-ResNet's config check, presets, parameter counts and FLOPs, and the RepMLP block's
// argument checks and memory.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  crossEntropy, RepMLP, RepMLPResNet, resnetCost, resnetPreset, Rng, scope, tensor, validateResNetConfig, type RepMLPResNetConfig, type ResNetPresetName,
} from '../../lib/index';
import { assertNoLeak, assertThrows, DEVICE } from '../helpers';

const small: RepMLPResNetConfig = {
  arch: 'RepMLPResNet', numBlocks: [1, 2, 2, 1], numClasses: 5, blockType: 'light', imgH: 64, imgW: 32, h: 4, w: 2,
  reparamConvK: [1, 3], fc1Fc2Reduction: 2, fc3Groups: 2, stemChannels: 8, channels: [16, 32, 32, 32],
};

// The reference code's own counts (sum of parameters() of create_RepMLPRes50_*_224(deploy=False)
// and of repmlp_model_convert's result) and the multiply-adds of its deploy form's convs and
// linear layers on one 224 x 224 image, measured with PyTorch forward hooks.
const REFERENCE: Record<string, { train: number; deploy: number; macs: number }> = {
  'RepMLP-Res50-Light-224': { train: 87_038_248, deploy: 86_142_440, macs: 3_076_915_200 },
  'RepMLP-Res50-Bottleneck-224': { train: 41_071_144, deploy: 40_871_528, macs: 3_890_710_528 },
  'ResNet-50': { train: 25_557_032, deploy: 25_530_472, macs: 4_089_184_256 },
};

test('presets: parameter counts and FLOPs are the reference code\'s', () => {
  for (const [name, ref] of Object.entries(REFERENCE)) {
    const preset = resnetPreset(name as ResNetPresetName);
    assert.is(resnetCost(preset).params, ref.train, `${name} train`);
    const deploy = resnetCost({ ...preset, deploy: true });
    assert.is(deploy.params, ref.deploy, `${name} deploy`);
    assert.is(deploy.macs, ref.macs, `${name} MACs`);
  }
});

test('resnetCost counts what the built model holds, in both forms and every block type', () => {
  for (const blockType of ['light', 'bottleneck', 'base'] as const)
    for (const deploy of [false, true]) {
      const cfg = { ...small, blockType, deploy, fc3Groups: blockType === 'bottleneck' ? 1 : 2 };
      const m = new RepMLPResNet(cfg, { device: DEVICE });
      assert.is(m.parameterCount(), resnetCost(cfg).params, `${blockType} ${deploy ? 'deploy' : 'train'}`);
      m.dispose();
    }
});

test('validateResNetConfig: every field checked, with the field named', () => {
  const bad = (patch: Record<string, unknown>, re: RegExp) => assertThrows(() => validateResNetConfig({ ...small, ...patch } as never), re);
  bad({ arch: 'RepMLPNet' }, /^RepMLPResNet: expected 'RepMLPResNet' for 'arch' but received "RepMLPNet"$/);
  bad({ blockType: 'heavy' }, /expected one of 'light', 'bottleneck', 'base' for 'blockType' but received "heavy"/);
  bad({ numBlocks: [3, 4, 6] }, /expected 4 positive integers for 'numBlocks' but received \[3,4,6\]/);
  bad({ bottleneckR: [2] }, /expected 2 positive integers for 'bottleneckR' but received \[2\]/);
  bad({ reparamConvK: [1, 2] }, /expected distinct odd kernel sizes for 'reparamConvK' but received \[1,2\]/);
  bad({ imgH: 48 }, /expected a multiple of 32 for 'imgH' \(the stem and stages halve the map five times\) but received 48/);
  bad({ h: 3 }, /expected a partition 'h' x 'w' that tiles the 8 x 4 map of a RepMLP block but received 3 x 2/);
  bad({ fc3Groups: 3 }, /expected 'fc3Groups' to divide the 4 channels of a RepMLP block \(stage channels 32\) but received 3/);
  bad({ fc3Groups: 0 }, /expected a positive integer for 'fc3Groups' but received 0/);
  bad({ deploy: 'yes' }, /expected a boolean for 'deploy' but received "yes"/);
  bad({ hs: [1] }, /unknown field 'hs' \(fields: arch, numBlocks/);
  assertThrows(() => validateResNetConfig({ ...small, h: undefined } as never), /missing field 'h'/);
  assertThrows(() => validateResNetConfig(null as never), /RepMLPResNet: expected an object for config but received null/);
  // a base ResNet needs no partition that tiles its maps
  assert.is(validateResNetConfig({ ...small, blockType: 'base', h: 3 }).h, 3);
  // the defaults
  const d = validateResNetConfig({ ...small, stemChannels: undefined, channels: undefined });
  assert.equal([d.stemChannels, d.channels, d.bottleneckR, d.inChannels, d.deploy], [64, [256, 512, 1024, 2048], [2, 4], 3, false]);
});

test('RepMLPResNet: refuses an input of another size, names it', () => {
  const m = new RepMLPResNet(small, { device: DEVICE });
  const x = tensor(new Float32Array(2 * 3 * 32 * 32), [2, 3, 32, 32], { device: DEVICE });
  assertThrows(() => m.forward(x), /RepMLPResNet: expected shape \(\*, 3, 64, 32\) for x but received shape \(2, 3, 32, 32\)/);
  x.dispose();
  m.dispose();
});

test('RepMLP: argument checks name the argument', () => {
  const ctx = { rng: new Rng(1), device: DEVICE };
  const make = (C: number, O: number, o: Record<string, unknown>) => () => new RepMLP(C, O, { H: 8, W: 8, h: 4, w: 4, reparamConvK: [1, 3], ...o } as never, ctx);
  assertThrows(make(4, 4, { h: 3 }), /RepMLP: expected a partition that tiles the 8 x 8 map for h, w but received 3 x 4/);
  assertThrows(make(4, 6, { fc3Groups: 4 }), /RepMLP: expected a divisor of inChannels 4 and outChannels 6 for fc3Groups but received 4/);
  assertThrows(make(4, 4, { reparamConvK: [2] }), /RepMLP: expected an array of distinct odd kernel sizes for reparamConvK but received \[2\]/);
  assertThrows(make(4, 4, { fc1Fc2Reduction: 65 }), /RepMLP: expected at most the Global Perceptron's 16 features for fc1Fc2Reduction but received 65/);
  assertThrows(make(4, 4, { fc3Kernel: 4 }), /RepMLP: expected an odd kernel size or null for fc3Kernel but received 4/);
  assertThrows(make(0, 4, {}), /RepMLP: expected an integer >= 1 for inChannels but received 0/);
  const block = make(4, 4, {})();
  const x = tensor(new Float32Array(2 * 4 * 8 * 6), [2, 4, 8, 6], { device: DEVICE });
  assertThrows(() => block.forward(x), /RepMLP: expected shape \(\*, 4, 8, 8\) for x but received shape \(2, 4, 8, 6\)/);
  x.dispose();
  block.dispose();
});

test('RepMLPResNet: a training step and Locality Injection leave no live storage behind', () => {
  const model = new RepMLPResNet(small, { device: DEVICE, seed: 2 });
  const rng = new Rng(3);
  assertNoLeak('RepMLPResNet step', () => scope(() => {
    const x = tensor(Float32Array.from({ length: 2 * 3 * 64 * 32 }, () => rng.normal()), [2, 3, 64, 32], { device: DEVICE });
    const y = tensor(BigInt64Array.from([1n, 3n]), [2], { device: DEVICE });
    crossEntropy(model.forward(x), y).backward();
    model.zeroGrad();
  }), 3);
  const before = model.parameters().length;
  model.eval();
  model.localityInjection();
  assert.ok(model.deploy && model.parameters().length < before);
  model.dispose();
});

test.run();
