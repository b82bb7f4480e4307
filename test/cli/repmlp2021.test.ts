// The commands on the 2021 paper's models: convert (against the PyTorch peer's deploy form),
// verify (counts and the two forms' logits), export-onnx, and train then eval of a reduced
// pure-MLP CIFAR model on the Fashion-MNIST sample, each through `--arch <preset | config.json>`;
// then eval, predict and inspect of its weights through their model card alone.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import sharp from 'sharp';
import { cifarCost, cifarPreset, fashionMnistSampleDir, resnetCost, type RepMLPCifarConfig, type RepMLPResNetConfig } from '../../lib/index';
import type { VerifyResult } from '../../lib/cli/verify';
import { FASHION_MNIST_CLASSES } from '../../lib/data/fashion-mnist';
import type { TrainSummary } from '../../lib/train/trainer';
import { readSafetensors, writeSafetensors, type HostTensor } from '../../lib/io/safetensors';
import { assertClose, assertRejects } from '../helpers';
import { runCli, scratchDir, writeJson } from './run-cli';

const golden = readSafetensors(path.join(__dirname, '..', 'fixtures', 'repmlp_resnet.safetensors'));
function section(prefix: string): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [k, v] of golden) if (k.startsWith(`${prefix}.`)) out.set(k.slice(prefix.length + 1), v);
  return out;
}

// The `light` case of test/fixtures/gen_repmlp_resnet.py.
const LIGHT: RepMLPResNetConfig = {
  arch: 'RepMLPResNet', numBlocks: [1, 2, 2, 1], numClasses: 5, blockType: 'light', imgH: 64, imgW: 32, h: 4, w: 2,
  reparamConvK: [1, 3], fc1Fc2Reduction: 2, fc3Groups: 2, stemChannels: 8, channels: [16, 32, 32, 32],
};
const tmp = scratchDir('repmlp2021');
const lightJson = writeJson(tmp, 'light.json', LIGHT);

// The state the fixture's deploy form came from: the initial parameters, the buffers after its training forward.
function trainState(): Map<string, HostTensor> {
  const sd = section('light.init');
  for (const [k, v] of section('light.buffers')) sd.set(k, v);
  return sd;
}
const trainFile = path.join(tmp, 'light-train.safetensors');
writeSafetensors(trainFile, trainState());

test('convert: RepMLP-ResNet training-form weights to the PyTorch peer\'s deploy form', async () => {
  const out = path.join(tmp, 'light-deploy.safetensors');
  const r = await runCli(['convert', trainFile, out, '--arch', lightJson]);
  assert.is(r.code, 0, r.stderr);
  const params = resnetCost({ ...LIGHT, deploy: true }).params;
  assert.match(r.stdout, new RegExp(`: ${trainState().size} keys in, \\d+ keys out, ${params} parameters \\(deploy form\\)`));
  const got = readSafetensors(out), ref = section('light.deploy');
  assert.equal([...got.keys()].sort(), [...ref.keys()].sort());
  for (const [k, e] of ref) assertClose(`convert ${k} vs torch`, got.get(k)!.data as Float32Array, e, { rtol: 3e-5, atol: 1e-6 });
});

test('verify: a RepMLP-ResNet config and the pure-MLP CIFAR preset, counts and both forms\' logits', async () => {
  let r = await runCli(['verify', '--arch', lightJson, '--json']);
  assert.is(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as VerifyResult;
  const train = resnetCost(LIGHT), deploy = resnetCost({ ...LIGHT, deploy: true });
  assert.equal([j.inputSize, j.params, j.flops, j.ok], [[64, 32], { train: train.params, deploy: deploy.params }, { train: train.macs, deploy: deploy.macs }, true]);
  r = await runCli(['verify', '--arch', 'RepMLP-CIFAR-MLP']);
  assert.is(r.code, 0, r.stderr);
  const c = cifarCost(cifarPreset('RepMLP-CIFAR-MLP')), cd = cifarCost(cifarPreset('RepMLP-CIFAR-MLP', { deploy: true }));
  assert.match(r.stdout, new RegExp(`^RepMLP-CIFAR-MLP: input 32x32, batch 2, seed 0, weights random init\\nparameters  train form ${c.params}, deploy form ${cd.params}\\n`));
  assert.match(r.stdout, /: ok\n$/);
});

test('export-onnx: RepMLP-ResNet weights in the training form', async () => {
  const out = path.join(tmp, 'light.onnx');
  const r = await runCli(['export-onnx', '--arch', lightJson, '--weights', trainFile, out]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /train form \(converted by Locality Injection\), .*light\.json\ninput \[batch, 3, 64, 32\] -> logits \[batch, 5\], opset 17/);
  assert.match(r.stdout, /MaxPool 1/);
  assert.ok(fs.statSync(out).size > 10_000);
  await assertRejects(runCli(['export-onnx', '--arch', lightJson, '--weights', trainFile, out, '--input-size', '32']),
    /^export-onnx: expected the input size the RepMLPResNet config is built for, 64 x 32 for inputSize but received \[32, 32\]$/);
});

test('train and eval: a reduced pure-MLP CIFAR model (with an EMA) on the Fashion-MNIST sample', async () => {
  const cfg: RepMLPCifarConfig = cifarPreset('RepMLP-CIFAR-MLP', { inChannels: 1, channels: [4, 8, 8] });
  const cfgJson = writeJson(tmp, 'mlp.json', cfg);
  const dataDir = fashionMnistSampleDir(), out = path.join(tmp, 'run');
  const r = await runCli(['train', '--arch', cfgJson, '--data-dir', dataDir, '--epochs', '1', '--batch-size', '32', '--limit-train', '64',
    '--limit-test', '48', '--out', out, '--json', '--warmup', '0.5', '--ema', '--ema-every', '1']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /model: RepMLPCifarNet custom, \d+ parameters, input 32x32/);
  const lines = r.stdout.trim().split('\n');
  const summary = JSON.parse(lines[lines.length - 1]) as TrainSummary;
  assert.is(summary.steps, 2);
  assert.ok(summary.deployTestAccuracy !== null && Math.abs(summary.deployTestAccuracy - summary.testAccuracy) <= 1 / 48, 'both forms agree');
  const deploy = readSafetensors(path.join(out, 'deploy.safetensors'));
  assert.not.ok([...deploy.keys()].some((k) => /(^|\.)(bn|fc3_bn|repconv\d)\./.test(k)), 'no BN in the deploy form');
  for (const [file, form, extra] of [['deploy.safetensors', 'deploy', ['--arch', cfgJson]], ['last.safetensors', 'train', []], ['best-ema.safetensors', 'train', ['--arch', cfgJson]]] as const) {
    const e = await runCli(['eval', '--weights', path.join(out, file), '--data-dir', dataDir, '--limit-test', '48', '--json', ...extra]);
    assert.is(e.code, 0, e.stderr);
    const res = JSON.parse(e.stdout) as { form: string; accuracy: number; total: number };
    assert.equal([res.form, res.total], [form, 48], file);
    if (file === 'last.safetensors') assert.is(res.accuracy, summary.testAccuracy);
  }
  // the model card records the config: eval and predict need no --arch; inspect names the config's family
  const e = await runCli(['eval', '--weights', path.join(out, 'deploy.safetensors'), '--data-dir', dataDir, '--limit-test', '48', '--json']);
  assert.is(e.code, 0, e.stderr);
  const d = JSON.parse(e.stdout) as { form: string; accuracy: number; total: number };
  assert.equal([d.form, d.total, d.accuracy], ['deploy', 48, summary.deployTestAccuracy]);
  const png = path.join(tmp, 'grey.png');
  await sharp(Buffer.alloc(28 * 28, 128), { raw: { width: 28, height: 28, channels: 1 } }).png().toFile(png);
  const p = await runCli(['predict', '--weights', path.join(out, 'deploy.safetensors'), png, '--top', '2', '--json']);
  assert.is(p.code, 0, p.stderr);
  const top = (JSON.parse(p.stdout) as { top: { label: string }[] }).top;
  assert.is(top.length, 2);
  assert.ok(top.every((t) => (FASHION_MNIST_CLASSES as readonly string[]).includes(t.label)), JSON.stringify(top));
  const i = await runCli(['inspect', path.join(out, 'last.safetensors')]);
  assert.is(i.code, 0, i.stderr);
  assert.match(i.stdout, /\nconfig \(RepMLPCifarConfig\):\n  arch: "RepMLPCifar"\n/);
  assert.match(i.stdout, /\(the file records a RepMLPCifarConfig, whose keys are not matched here\)\n$/);
});

test.run();
