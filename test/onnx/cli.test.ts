// `repmlp export-onnx`: training-form, deploy-form and training-checkpoint weights to ONNX,
// the file run by onnxruntime-node, and the command's errors.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertRejects } from '../helpers';
import { runCli, scratchDir, writeJson } from '../cli/run-cli';
import { AdamW, preset, randomizeBatchNorms, RepMLPNet, Rng, writeSafetensors, type RepMLPNetConfig } from '../../lib/index';
import { writeCheckpoint, type CheckpointMeta } from '../../lib/train/checkpoint';
import { compareWithOrt, decodeOnnx, openSession } from './ort';

// several partitions per map (h != w), S = 1 and S = 4
const PART: RepMLPNetConfig = {
  inChannels: 3, numClasses: 5, patchSize: 2, numBlocks: [1, 1], channels: [8, 16], hs: [4, 2], ws: [2, 4],
  sharesetsNums: [1, 4], reparamConvK: [1, 3], partitionOrder: 'paper',
};

const tmp = scratchDir('export-onnx');
const partJson = writeJson(tmp, 'part.json', PART);

function build(config: RepMLPNetConfig, seed: number): RepMLPNet {
  const rng = new Rng(seed);
  const model = new RepMLPNet({ ...config, deploy: false }, { rng });
  randomizeBatchNorms(model, rng, 0.3);
  return model.eval();
}

test('export-onnx: training-form safetensors with partitions -> onnxruntime matches the model', async () => {
  const model = build(PART, 1);
  try {
    const weights = path.join(tmp, 'part-train.safetensors');
    writeSafetensors(weights, model.stateDict());
    const out = path.join(tmp, 'part.onnx');
    const r = await runCli(['export-onnx', '--arch', partJson, '--weights', weights, out, '--input-size', '16x32']);
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stdout, `${weights}: train form (converted by Locality Injection), ${partJson}`);
    assert.match(r.stdout, /\ninput \[batch, 3, 16, 32\] -> logits \[batch, 5\], opset 17, \d+ parameters\n/);
    const nodes = decodeOnnx(fs.readFileSync(out)).nodes.length;
    assert.match(r.stdout, new RegExp(`\\n${nodes} nodes: .*MatMul 2`));
    assert.match(r.stdout, new RegExp(`wrote ${out.replace(/[.\\]/g, '\\$&')}: \\d+\\.\\d kB in \\d+\\.\\d\\d s`));
    const worst = await compareWithOrt(await openSession(out), model, [3, 16, 32], [1, 4], new Rng(2));
    console.log(`  export-onnx (train form, partitioned): worst relative difference ${worst.toExponential(2)}`);
    assert.ok(worst <= 1e-4, `relative difference ${worst}`);
  } finally {
    model.dispose();
  }
});

test('export-onnx: a preset with deploy-form weights takes channels and classes from them', async () => {
  const config = preset('small', { inChannels: 1, numClasses: 7 });
  const model = build(config, 3);
  try {
    model.localityInjection();
    const weights = path.join(tmp, 'small-deploy.safetensors');
    writeSafetensors(weights, model.stateDict());
    const out = path.join(tmp, 'small.onnx');
    const r = await runCli(['export-onnx', '--arch', 'small', '--weights', weights, out]);
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stdout, `${weights}: deploy form, small\ninput [batch, 1, 32, 32] -> logits [batch, 7]`);
    const worst = await compareWithOrt(await openSession(out), model, [1, 32, 32], [1, 2], new Rng(4));
    assert.ok(worst <= 1e-4, `relative difference ${worst}`);
  } finally {
    model.dispose();
  }
});

test('export-onnx: a training checkpoint brings its config (no --arch needed)', async () => {
  const model = build(PART, 5);
  try {
    const file = path.join(tmp, 'last.safetensors');
    const opt = new AdamW(model.parameters(), { lr: 1e-3, weightDecay: 0.05 });
    const meta: CheckpointMeta = {
      epoch: 1, batch: 0, step: 10, loader: { seed: 0, epoch: 1, batch: 0, rng: [1, 2, 3, 4] }, bestAccuracy: 0.5, lastAccuracy: 0.5,
      epochLoss: 0, epochCorrect: 0, epochSeen: 0, config: PART, options: {},
    };
    writeCheckpoint(file, { model: model.stateDict(), optimizer: opt.stateDict(), meta });
    const out = path.join(tmp, 'ck.onnx');
    const r = await runCli(['export-onnx', '--weights', file, out, '--input-size', '16x32']);
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stdout, "train form (converted by Locality Injection), the checkpoint's config");
    const worst = await compareWithOrt(await openSession(out), model, [3, 16, 32], [3], new Rng(6));
    assert.ok(worst <= 1e-4, `relative difference ${worst}`);
  } finally {
    model.dispose();
  }
});

test('export-onnx: --help', async () => {
  const r = await runCli(['export-onnx', '--help']);
  assert.is(r.code, 0);
  assert.match(r.stdout, /^Usage: repmlp export-onnx --arch/);
});

test('export-onnx: bad command lines exit with 2 and the usage', async () => {
  const weights = path.join(tmp, 'part-train.safetensors');
  const cases: [string[], string][] = [
    [['--arch', 'small', 'out.onnx'], 'export-onnx: --weights <file> is required'],
    [['--arch', 'small', '--weights', weights], 'export-onnx: expected an output .onnx file'],
    [['--arch', 'nope', '--weights', weights, 'o.onnx'], "export-onnx: --arch 'nope' is neither a preset"],
    [['--arch', partJson, '--weights', weights, 'o.onnx', '--input-size', '16by32'], "export-onnx: expected N or HxW (e.g. 224 or 64x96) for --input-size but received '16by32'"],
    [['--arch', partJson, '--weights', weights, 'a.onnx', 'b.onnx'], "export-onnx: unexpected argument 'b.onnx'"],
    [['--weights', weights, 'o.onnx'], 'export-onnx: --arch <preset | config.json> is required for weights that record no config (written elsewhere, or not by repmlp train)'],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(['export-onnx', ...args]);
    assert.is(r.code, 2, args.join(' '));
    assert.ok(r.stderr.startsWith(`repmlp ${message}`), r.stderr);
    assert.match(r.stderr, 'Usage: repmlp export-onnx');
  }
});

test('export-onnx: missing weights, weights of another model, an input size that does not fit', async () => {
  const out = path.join(tmp, 'never.onnx');
  const missing = path.join(tmp, 'missing.safetensors');
  await assertRejects(runCli(['export-onnx', '--arch', 'small', '--weights', missing, out]), new RegExp(`^export-onnx: ${missing} does not exist$`));
  const weights = path.join(tmp, 'part-train.safetensors');
  await assertRejects(runCli(['export-onnx', '--arch', 'cifar', '--weights', weights, out]), /^loadStateDict: the state dict does not fit RepMLPNet: .*stages\.0\.0\.repmlp_block\.fc3\.weight/);
  await assertRejects(runCli(['export-onnx', '--arch', partJson, '--weights', weights, out, '--input-size', '16x24']),
    /^export-onnx: expected a height and width whose stage-2 map \(input \/ 4\) is a multiple of its partition 2 x 4 for inputSize but received 16 x 24/);
  const badJson = writeJson(tmp, 'bad.json', { ...PART, channels: [8] });
  await assertRejects(runCli(['export-onnx', '--arch', badJson, '--weights', weights, out]), /^config .*bad\.json: expected 2 entries \(one per stage, like numBlocks\) in 'channels' but received 1$/);
  assert.not.ok(fs.existsSync(out), 'no output on failure');
});

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test.run();
