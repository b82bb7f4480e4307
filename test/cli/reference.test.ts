// The command line on the reference code's files (test/fixtures/gen_reference.py): inspect
// shows what they hold, convert writes the deploy form as .pth or safetensors, verify checks
// the multi-partition case, eval runs them on data, export-onnx gives the reference code's
// logits in onnxruntime; a config in the reference code's names serves as --arch.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AdamW, preset, RepMLPNet } from '../../lib/index';
import { readPth } from '../../lib/io/pth';
import { writeCheckpoint } from '../../lib/train/checkpoint';
import { readSafetensors } from '../../lib/io/safetensors';
import type { FileContents } from '../../lib/cli/inspect-file';
import type { VerifyResult } from '../../lib/cli/verify';
import { assertClose, assertRejects, fixture, fixtureSection } from '../helpers';
import { ortLogits, openSession } from '../onnx/ort';
import { runCli, scratchDir } from './run-cli';

const fixtures = path.join(__dirname, '..', 'fixtures');
const fx = (name: string) => path.join(fixtures, name);
const config = fx('ref_config.json');
const get = fixture('reference');
const section = (prefix: string) => fixtureSection('reference', prefix);
const tmp = scratchDir('reference');
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test("inspect: the training script's checkpoint, text and JSON", async () => {
  let r = await runCli(['inspect', fx('ref_ckpt.pth')]);
  assert.is(r.code, 0, r.stderr);
  const text = r.stdout;
  assert.match(text, /^.*ref_ckpt\.pth: pth \(zip\)\nentries:\n {2}model: state dict of 107 tensors\n {2}optimizer: dict of 2 entries \(state, param_groups\)\n/);
  for (const line of ['  max_accuracy: 12.5', '  epoch: 1', '  config: yacs.config.CfgNode object of 15 entries (BASE, DATA, MODEL, TRAIN, AUG, TEST, ...)',
    'state dict (model): 107 tensors, 5501 elements', 'EMA of the weights: ema, 107 tensors', 'config (yacs.config.CfgNode):', '  MODEL.ARCH: "RepMLPNet-tiny"',
    '  TRAIN.OPTIMIZER.BETAS: [0.9,0.999]', 'architecture: train form, no preset; the keys imply'])
    assert.ok(text.split('\n').includes(line), `inspect prints '${line}'`);
  assert.match(text, /\n {2}stages\.0\.0\.repmlp_block\.fc3\.weight +float32 \[32, 16, 1, 1\]\n/);
  r = await runCli(['inspect', fx('ref_ckpt.pth'), '--json']);
  const j = JSON.parse(r.stdout) as FileContents;
  assert.equal(j.scalars, { max_accuracy: 12.5, epoch: 1 });
  assert.is(j.config!.fields['MODEL.NUM_CLASSES'], 10);
  assert.equal(j.architecture.config, {
    inChannels: 1, numClasses: 10, patchSize: 8, numBlocks: [1, 1], channels: [8, 16], hs: [4, 2], ws: [4, 2], sharesetsNums: [2, 4],
    reparamConvK: [1, 3], globalPerceptronReduce: 4, deploy: false,
  });
  assert.is((j.object as Record<string, { class: string }>).config.class, 'yacs.config.CfgNode');
  // the legacy file, the deploy file, a safetensors state dict
  assert.match((await runCli(['inspect', fx('ref_legacy.pth')])).stdout, /^.*ref_legacy\.pth: pth \(legacy\)\nstate dict \(\(top level\)\): 107 tensors/);
  assert.match((await runCli(['inspect', fx('ref_deploy.pth')])).stdout, /\narchitecture: deploy form, no preset; the keys imply\n/);
  assert.match((await runCli(['inspect', fx('pth.safetensors')])).stdout, /^.*pth\.safetensors: safetensors\n.*\narchitecture: not a RepMLPNet state dict: no 4-d 'conv_embedding\.conv\.weight'\n$/s);
});

test('inspect: a checkpoint of repmlp train (safetensors): its metadata, model and EMA tensors, config', async () => {
  const cfg = { ...preset('small'), inChannels: 1, numClasses: 4, numBlocks: [1, 1, 1], channels: [8, 16, 32] };
  const model = new RepMLPNet(cfg);
  const file = path.join(tmp, 'last.safetensors');
  const meta = {
    epoch: 2, batch: 0, step: 30, loader: { seed: 0, epoch: 2, batch: 0, rng: [1, 2, 3, 4] }, bestAccuracy: 0.5, lastAccuracy: 0.25,
    epochLoss: 0, epochCorrect: 0, epochSeen: 0, config: cfg, options: { arch: 'custom' },
  };
  writeCheckpoint(file, { model: model.stateDict(), ema: model.stateDict(), optimizer: new AdamW(model.parameters(), { lr: 1e-3 }).stateDict(), meta });
  model.dispose();
  const j = JSON.parse((await runCli(['inspect', file, '--json'])).stdout) as FileContents;
  assert.equal([j.format, j.stateDict.at, j.stateDict.tensors.length, j.ema], ['safetensors (repmlp training checkpoint)', 'model.*', 157, { at: 'ema.*', tensors: 157 }]);
  assert.equal(j.stateDict.tensors.find((t) => t.name === 'head.weight'), { name: 'head.weight', dtype: 'float32', shape: [4, 32] });
  assert.equal([j.scalars.epoch, j.scalars.step, j.scalars.bestAccuracy], [2, 30, 0.5]);
  assert.equal(j.config, { class: 'RepMLPNetConfig', fields: cfg });
  assert.equal(j.architecture.config, { ...cfg, deploy: false });
});

test('convert: the checkpoint to a deploy .pth, the deploy file to safetensors as it is, the EMA', async () => {
  const out = path.join(tmp, 'deploy.pth');
  let r = await runCli(['convert', fx('ref_ckpt.pth'), out, '--arch', config]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /: 107 keys in, 75 keys out, 4984 parameters \(deploy form\), /);
  const ours = readPth(out);
  assert.equal([...ours.keys()].sort(), [...section('ref.sd.deploy').keys()].sort());
  for (const [k, v] of section('ref.sd.deploy')) {
    if (v.dtype === 'int64') assert.equal([...ours.get(k)!.data], [...v.data], k);
    else assertClose(`convert .pth ${k} vs the reference's Locality Injection`, ours.get(k)!.data as Float32Array, v, { rtol: 2e-5, atol: 1e-7 });
  }
  const asIs = path.join(tmp, 'deploy.safetensors');
  r = await runCli(['convert', fx('ref_deploy.pth'), asIs, '--arch', config]);
  assert.match(r.stdout, /75 keys in, 75 keys out, .*\(already in the deploy form: written as it is\)/);
  for (const [k, v] of readSafetensors(asIs)) assert.equal([...v.data], [...section('ref.sd.deploy').get(k)!.data], k);
  const ema = path.join(tmp, 'ema.pth');
  r = await runCli(['convert', fx('ref_ckpt.pth'), ema, '--arch', config, '--ema']);
  assert.is(r.code, 0, r.stderr);
  const head = 'head.weight';
  assert.not.equal([...readPth(ema).get(head)!.data], [...ours.get(head)!.data], 'the EMA is not the model');
  assert.equal([...readPth(ema).get(head)!.data], [...section('ref.sd.ema').get(head)!.data]);
});

test('verify --input-size: several partitions per map, the warning once, --partition-order reference', async () => {
  let r = await runCli(['verify', '--arch', config, '--weights', fx('ref_ckpt.pth'), '--input-size', '64', '--json']);
  assert.is(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as VerifyResult;
  assert.equal([j.inputSize, j.partitions, j.partitionOrder], [[64, 64], [4, 4], 'paper']);
  assert.ok(j.maxRelDiff < 1e-5, String(j.maxRelDiff));
  assert.is(r.stderr.split('\n').filter(Boolean).length, 1, r.stderr);
  assert.match(r.stderr, /^repmlp: warning: RepMLPNet: the 64 x 64 input cuts stage 1's map into 4 partitions, .*\(--partition-order reference\)/);
  r = await runCli(['verify', '--arch', config, '--weights', fx('ref_ckpt.pth'), '--input-size', '64', '--partition-order', 'reference']);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stderr, '');
  assert.match(r.stdout, /^.*ref_config\.json: input 64x64, .*\n.*\n.*\npartitions {2}4, 4 per map by stage \(reference order\)\n/);
  await assertRejects(runCli(['verify', '--arch', config, '--input-size', '48x64']),
    /^verify: expected a height and width whose stage-1 map \(input \/ 8\) is a multiple of its partition 4 x 4 for inputSize but received 48 x 64 \(stage-1 map 6 x 8\)$/);
  r = await runCli(['verify', '--arch', config, '--input-size', 'big']);
  assert.is(r.code, 2);
  assert.match(r.stderr, /^repmlp verify: expected N or HxW \(e\.g\. 224 or 64x96\) for --input-size but received 'big'/);
  r = await runCli(['verify', '--arch', config, '--partition-order', 'rows']);
  assert.match(r.stderr, /^repmlp verify: expected paper or reference for --partition-order but received 'rows'/);
});

test('eval: the checkpoint on the Fashion-MNIST sample; without --arch its config names no preset', async () => {
  let r = await runCli(['eval', '--weights', fx('ref_ckpt.pth'), '--arch', config, '--limit-test', '16', '--json', '--device', 'cpu']);
  assert.is(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { form: string; total: number; accuracy: number };
  assert.equal([j.form, j.total], ['train', 16]);
  r = await runCli(['eval', '--weights', fx('ref_ckpt.pth')]);
  assert.is(r.code, 2);
  assert.match(r.stderr, /^repmlp eval: --arch <preset \| config\.json> is required for weights that record no config \(written elsewhere, or not by repmlp train\): the checkpoint's config names arch 'RepMLPNet-tiny', which is not a preset\n/);
});

test('export-onnx: the deploy file at several partitions per map, in the reference code\'s order', async () => {
  const out = path.join(tmp, 'ref.onnx');
  const r = await runCli(['export-onnx', '--arch', config, '--weights', fx('ref_deploy.pth'), out, '--input-size', '64', '--partition-order', 'reference']);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stderr, '');
  const x = get('ref.x.multi');
  const got = await ortLogits(await openSession(out), x.data as Float32Array, x.shape);
  assertClose('export-onnx of ref_deploy.pth (reference order) vs torch', got.data, get('ref.out.multi.deploy'), { rtol: 2e-5, atol: 1e-7 });
});

test('viz: the locality picture of the checkpoint\'s training-form weights', async () => {
  const out = path.join(tmp, 'fc3.svg');
  const r = await runCli(['viz', '--weights', fx('ref_ckpt.pth'), '--arch', config, out, '--json']);
  assert.is(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { S: number; h: number; w: number; K: number };
  assert.equal([j.S, j.h, j.w, j.K], [2, 4, 4, 3]);
  assert.match(fs.readFileSync(out, 'utf8'), /^<\?xml [^\n]*\n<svg /);
});

test.run();
