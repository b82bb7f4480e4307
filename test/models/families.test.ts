// The registry of model families: a config's `arch` picks the family, presets of every family
// resolve, and each family tells its two forms apart and reads its data shapes from weights.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  allPresetNames, buildModel, checkModelInputSize, familyOf, familyOfPreset, flops, isRepMLPNetConfig, modelInputSize, preset, presetConfig,
  RepMLPCifarNet, RepMLPNet, RepMLPResNet, resnetPreset,
} from '../../lib/index';
import { fitPresetToWeights, weightsForm } from '../../lib/cli/weights';
import { resolveConfig } from '../../lib/train/options';
import type { HostTensor } from '../../lib/io/safetensors';
import { assertThrows } from '../helpers';

test('familyOf: by arch, RepMLPNet without one; unknown archs named', () => {
  assert.is(familyOf(preset('small')).arch, 'RepMLPNet');
  assert.is(familyOf(resnetPreset('ResNet-50')).arch, 'RepMLPResNet');
  assert.is(familyOf(presetConfig('RepMLP-CIFAR-MLP')).arch, 'RepMLPCifar');
  assertThrows(() => familyOf({ arch: 'VGG' }, 'config x.json'), /^config x\.json: expected one of 'RepMLPResNet', 'RepMLPCifar' \(or none, for RepMLPNet\) for 'arch' but received "VGG"$/);
  assertThrows(() => familyOf(null), /^config: expected an object for config but received null$/);
});

test('presets: every family\'s, one name each, each building its own model', () => {
  assert.equal(new Set(allPresetNames).size, allPresetNames.length, 'names are unique');
  for (const name of ['small', 'RepMLP-Res50-Light-224', 'RepMLP-Res50-Bottleneck-224', 'ResNet-50', 'RepMLP-CIFAR-MLP', 'RepMLP-CIFAR-WideConvNet'])
    assert.ok(allPresetNames.includes(name), name);
  assert.is(familyOfPreset('nope'), null);
  assertThrows(() => presetConfig('nope'), /^presetConfig: expected a preset \(RepMLPNet-T224, .*\) for name but received 'nope'$/);
  const kinds: [string, Function][] = [['small', RepMLPNet], ['RepMLP-CIFAR-WideConvNet', RepMLPCifarNet]];
  for (const [name, kind] of kinds) {
    const m = buildModel(presetConfig(name));
    assert.ok(m instanceof kind, name);
    m.dispose();
  }
  const r = buildModel({ ...resnetPreset('ResNet-50'), imgH: 32, imgW: 32, channels: [8, 8, 8, 8], stemChannels: 4, numClasses: 3 });
  assert.ok(r instanceof RepMLPResNet);
  r.dispose();
});

const st = (shape: number[]): HostTensor => ({ dtype: 'float32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });

test('weightsForm and fitPresetToWeights: per family', () => {
  const res = resnetPreset('RepMLP-Res50-Light-224');
  // RepMLPNet's deploy form keeps its embedding BNs; the 2021 models' deploy form has no BN at all
  assert.is(weightsForm(new Map([['conv_embedding.bn.weight', st([4])]])), 'deploy');
  assert.is(weightsForm(new Map([['stage0.0.bn.weight', st([4])]]), res), 'train');
  assert.is(weightsForm(new Map([['stage0.0.conv.bias', st([4])]]), res), 'deploy');
  const fitted = fitPresetToWeights(res, new Map([['stage0.0.conv.weight', st([64, 1, 7, 7])], ['linear.weight', st([10, 2048])]]));
  assert.equal([(fitted as typeof res).inChannels, fitted.numClasses], [1, 10]);
  const cifar = fitPresetToWeights(presetConfig('RepMLP-CIFAR-MLP'), new Map([['linear.weight', st([7, 64])]]));
  assert.equal([(cifar as { inChannels: number }).inChannels, cifar.numClasses], [3, 7]);
});

test('the trainer takes any family\'s preset or config, fitted to the data', () => {
  const res = resolveConfig('RepMLP-Res50-Light-224', 1, 10) as ReturnType<typeof resnetPreset>;
  assert.equal([res.arch, res.inChannels, res.numClasses, res.deploy], ['RepMLPResNet', 1, 10, undefined]);
  const cifar = presetConfig('RepMLP-CIFAR-MLP');
  assert.is(resolveConfig({ ...cifar, inChannels: 1 }, 1, 10).deploy, false);
  assertThrows(() => resolveConfig(cifar, 1, 10), /^train: expected 1 \(the data set's channels\) for arch\.inChannels but received 3$/);
  assertThrows(() => resolveConfig({ ...resnetPreset('ResNet-50'), numClasses: 5 }, 3, 10), /^train: expected 10 \(the data set's classes\) for arch\.numClasses but received 5$/);
});

test('input sizes: RepMLPNet takes multiples of its partitions, the 2021 models only their own', () => {
  const small = preset('small');
  assert.ok(isRepMLPNetConfig(small));
  assert.not.ok(isRepMLPNetConfig(presetConfig('RepMLP-CIFAR-MLP')));
  assert.equal(modelInputSize(small), [32, 32]);
  assert.equal(modelInputSize({ ...resnetPreset('ResNet-50'), imgW: 192 }), [224, 192]);
  assert.equal(checkModelInputSize(small, 64, 'train'), [64, 64]);
  assert.equal(familyOf(small).cost(small, [64, 64]).macs, flops(small, 64));
  assertThrows(() => checkModelInputSize(small, 36, 'train'), /^train: expected a height and width whose stage-1 map \(input \/ 2\) is a multiple of its partition 16 x 16 for inputSize but received 36 x 36 \(stage-1 map 18 x 18\)$/);
  const res = presetConfig('RepMLP-Res50-Light-224');
  assert.equal(checkModelInputSize(res, undefined, 'eval'), [224, 224]);
  assert.equal(checkModelInputSize(res, [224, 224], 'eval'), [224, 224]);
  assertThrows(() => checkModelInputSize(res, 256, 'predict', 'inputSize'),
    /^predict: expected the input size the RepMLPResNet config is built for, 224 x 224 for inputSize but received 256$/);
  assertThrows(() => checkModelInputSize(presetConfig('RepMLP-CIFAR-MLP'), [32, 0], 'eval'), /^eval: expected positive integers for inputSize but received \[32, 0\]$/);
});

test.run();
