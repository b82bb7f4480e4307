// The pure-MLP CIFAR model of the 2021 paper, its Wide ConvNet and Table 1's ablations: what
// each switch builds, exact parameter counts, the deploy form's outputs against the training
// form's, config checks, and memory.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  CIFAR_PRESETS, cifarCost, cifarPreset, crossEntropy, randn, randomizeBatchNorms, RepMLPCifarNet, Rng, scope, tensor,
  validateCifarConfig, type CifarPresetName,
} from '../../lib/index';
import { assertClose, assertNoLeak, assertThrows, DEVICE } from '../helpers';

const NAMES = Object.keys(CIFAR_PRESETS) as CifarPresetName[];
const keysOf = (m: RepMLPCifarNet) => [...m.stateDict().keys()];

test('presets: section 4.1\'s model (16, 32, 64 channels, g = 2, 8 x 8 partitions) and its counterparts', () => {
  const mlp = validateCifarConfig(cifarPreset('RepMLP-CIFAR-MLP'));
  assert.equal([mlp.channels, mlp.fc3Groups, mlp.h, mlp.w, mlp.imgH, mlp.variant, mlp.ablation], [[16, 32, 64], 2, 8, 8, 32, 'mlp', 'none']);
  assert.equal(validateCifarConfig(cifarPreset('RepMLP-CIFAR-WideConvNet')).channels, [32, 64, 128]);
  // the pure MLP holds an FC per partition: ~11 M parameters, where the Wide ConvNet has 0.2 M
  assert.is(cifarCost({ ...mlp, deploy: true }).params, 11_185_194);
  assert.is(cifarCost(cifarPreset('RepMLP-CIFAR-WideConvNet', { deploy: true })).params, 205_610);
});

test('each preset builds what it says: the Global Perceptron where a map holds several partitions, the switches', () => {
  const has = (name: CifarPresetName, re: RegExp) => {
    const m = new RepMLPCifarNet(cifarPreset(name), { device: DEVICE });
    const found = keysOf(m).filter((k) => re.test(k));
    m.dispose();
    return found;
  };
  assert.equal(has('RepMLP-CIFAR-MLP', /fc1_fc2\.fc1\.weight$/), ['stages.0.repmlp.fc1_fc2.fc1.weight', 'stages.1.repmlp.fc1_fc2.fc1.weight']);
  assert.equal(has('RepMLP-CIFAR-MLP', /repconv\d\.conv\.weight$/).length, 9);
  assert.equal(has('RepMLP-CIFAR-MLP-wo-Local', /repconv/), []);
  assert.equal(has('RepMLP-CIFAR-MLP-wo-Global', /fc1_fc2|avg/), []);
  const conv9 = new RepMLPCifarNet(cifarPreset('RepMLP-CIFAR-MLP-FC3-conv9'), { device: DEVICE });
  assert.equal(conv9.stateDict().get('stages.0.repmlp.fc3.weight')!.shape, [16, 8, 9, 9]);
  assert.equal(conv9.stateDict().get('stages.0.repmlp.fc3_bn.weight')!.shape, [16]);
  conv9.dispose();
  const whole = new RepMLPCifarNet(cifarPreset('RepMLP-CIFAR-MLP-RepMLP-conv9'), { device: DEVICE });
  assert.equal(whole.stateDict().get('stages.2.repmlp.conv.weight')!.shape, [64, 64, 9, 9]);
  whole.dispose();
  const wide = new RepMLPCifarNet(cifarPreset('RepMLP-CIFAR-WideConvNet'), { device: DEVICE });
  assert.equal(wide.stateDict().get('stages.1.repmlp.conv.weight')!.shape, [64, 64, 3, 3]);
  wide.dispose();
});

// Reduced so that the tests stay quick: 16 x 16 inputs, 4 x 4 partitions.
const reduced = (name: CifarPresetName) => cifarPreset(name, { channels: [4, 8, 8], imgH: 16, imgW: 16, h: 4, w: 4, inChannels: 1 });

test('every preset: the counted parameters, and Locality Injection keeps the eval outputs', () => {
  NAMES.forEach((name, i) => {
    const cfg = reduced(name);
    const rng = new Rng(30 + i);
    const model = new RepMLPCifarNet(cfg, { rng, device: DEVICE });
    assert.is(model.parameterCount(), cifarCost(cfg).params, `${name} train`);
    randomizeBatchNorms(model, rng, 0.3);
    model.eval();
    const x = randn([3, 1, 16, 16], rng, { device: DEVICE });
    const y0 = scope(() => model.forward(x));
    model.localityInjection();
    assert.ok(model.deploy && !keysOf(model).some((k) => /(^|\.)(bn|fc3_bn|repconv\d)\./.test(k)), `${name}: no BN left`);
    assert.is(model.parameterCount(), cifarCost({ ...cfg, deploy: true }).params, `${name} deploy`);
    const y1 = scope(() => model.forward(x));
    assertClose(`${name} deploy vs train form`, y1, y0, { rtol: 1e-5, atol: 1e-6 });
    const direct = new RepMLPCifarNet({ ...cfg, deploy: true }, { device: DEVICE });
    assert.equal(keysOf(direct).sort(), keysOf(model).sort(), `${name}: deploy keys`);
    for (const t of [x, y0, y1]) t.dispose();
    model.dispose();
    direct.dispose();
  });
});

test('validateCifarConfig: fields named', () => {
  const base = reduced('RepMLP-CIFAR-MLP');
  const bad = (patch: Record<string, unknown>, re: RegExp) => assertThrows(() => validateCifarConfig({ ...base, ...patch } as never), re);
  bad({ variant: 'cnn' }, /^RepMLPCifar: expected 'mlp' or 'wide-convnet' for 'variant' but received "cnn"$/);
  bad({ ablation: 'no-fc' }, /expected one of 'none', 'no-local', 'no-global', 'fc3-conv9', 'repmlp-conv9' for 'ablation' but received "no-fc"/);
  bad({ variant: 'wide-convnet', ablation: 'no-local' }, /expected no ablation for the 'wide-convnet' variant but received "no-local"/);
  bad({ channels: [4, 8] }, /expected 3 positive integers \(one per stage\) for 'channels' but received \[4,8\]/);
  bad({ imgH: 18 }, /expected a multiple of 4 for 'imgH' \(two 2x2 poolings\) but received 18/);
  bad({ h: 3 }, /expected a partition 'h' x 'w' that tiles stage 1's 16 x 16 map but received 3 x 4/);
  bad({ fc3Groups: 3 }, /expected 'fc3Groups' to divide stage 1's 4 channels but received 3/);
  bad({ reparamConvK: [2] }, /expected distinct odd kernel sizes for 'reparamConvK' but received \[2\]/);
  bad({ extra: 1 }, /unknown field 'extra' \(fields: arch, variant/);
  // a conv variant needs no partition that tiles the maps
  assert.is(validateCifarConfig({ ...base, variant: 'wide-convnet', h: 3 }).h, 3);
});

test('RepMLPCifarNet: a training step leaves no live storage behind; the input size is checked', () => {
  const model = new RepMLPCifarNet(reduced('RepMLP-CIFAR-MLP'), { device: DEVICE, seed: 1 });
  const rng = new Rng(4);
  assertNoLeak('RepMLPCifarNet step', () => scope(() => {
    const x = randn([2, 1, 16, 16], rng, { device: DEVICE });
    crossEntropy(model.forward(x), tensor(BigInt64Array.from([1n, 7n]), [2], { device: DEVICE })).backward();
    model.zeroGrad();
  }), 3);
  const x = randn([2, 1, 32, 32], rng, { device: DEVICE });
  assertThrows(() => model.forward(x), /RepMLPCifarNet: expected shape \(\*, 1, 16, 16\) for x but received shape \(2, 1, 32, 32\)/);
  x.dispose();
  model.dispose();
});

test.run();
