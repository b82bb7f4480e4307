import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli as cli } from '../cli/run-cli';
import { assertRejects, liveStorages } from '../helpers';
import { fashionMnistSampleDir, readSafetensors, writeSafetensors, type RepMLPNetConfig } from '../../lib/index';
import { train, type TrainOptions, type TrainSummary } from '../../lib/train/trainer';

// A reduced `small` (one unit per stage, narrow) on the shipped sample.
const TINY: RepMLPNetConfig = {
  inChannels: 1, numClasses: 10, patchSize: 2, numBlocks: [1, 1, 1], channels: [8, 16, 32], hs: [16, 8, 4], ws: [16, 8, 4],
  sharesetsNums: [2, 4, 8], reparamConvK: [1, 3], globalPerceptronReduce: 4,
};
const dataDir = fashionMnistSampleDir();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'repmlp-train-'));
const tinyJson = path.join(tmp, 'tiny.json');
fs.writeFileSync(tinyJson, JSON.stringify(TINY));

type Rec = Record<string, number | string>;

function metrics(out: string): Rec[] {
  return fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Rec);
}

async function run(opts: TrainOptions): Promise<{ summary: TrainSummary; text: string }> {
  let text = '';
  const summary = await train({
    arch: TINY, dataDir, batchSize: 32, limitTrain: 192, limitTest: 96, lr: 5e-3, warmupEpochs: 0.5, logEvery: 1, ...opts,
    write: (t) => void (text += t), tty: false,
  });
  return { summary, text };
}

const one = path.join(tmp, 'one');
let oneSummary: TrainSummary;

test('one epoch: the loss falls, every file is written, the JSON summary is the last line, nothing leaks', async () => {
  const before = liveStorages();
  const { summary, text } = await run({ epochs: 1, limitTrain: 320, out: one, json: true, prefetch: false });
  assert.equal(liveStorages(), before);
  oneSummary = summary;
  assert.equal(fs.readdirSync(one).sort(), ['best.safetensors', 'config.json', 'deploy.safetensors', 'last.safetensors', 'metrics.jsonl']);
  const lines = text.trim().split('\n');
  assert.match(lines[0], /^data: Fashion-MNIST from .*fashion-mnist-sample/);
  const last = JSON.parse(lines[lines.length - 1]) as Record<string, unknown>;
  assert.equal(Object.keys(last).sort(), [
    'dataSource', 'deployTestAccuracy', 'emaTestAccuracy', 'emaTestTop5', 'epochs', 'imagesPerSecond', 'out', 'seconds', 'skippedImages', 'steps', 'stopped', 'testAccuracy', 'testTop5', 'worldSize',
  ]);
  assert.is(last.worldSize, 1);
  assert.equal([last.emaTestAccuracy, last.emaTestTop5], [null, null]);
  assert.ok(summary.testTop5 >= summary.testAccuracy && summary.testTop5 <= 1, `top-5 ${summary.testTop5} >= top-1 ${summary.testAccuracy}`);
  assert.equal(last.steps, 10);
  assert.equal(last.dataSource, 'dir');
  assert.equal(last.out, one);
  const recs = metrics(one);
  const steps = recs.filter((r) => r.type === 'step');
  assert.equal(steps.map((r) => r.step), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  for (const r of steps) assert.equal(Object.keys(r).sort(), ['epoch', 'imgsPerSec', 'loss', 'lr', 'step', 'type']);
  // the running mean of the epoch's loss goes down from its start
  assert.ok((steps[9].loss as number) < (steps[1].loss as number) - 0.02, `loss ${steps[1].loss} -> ${steps[9].loss}`);
  const epoch = recs.filter((r) => r.type === 'epoch');
  assert.equal(epoch.length, 1);
  assert.equal([epoch[0].testAccuracy, epoch[0].testTop5], [summary.testAccuracy, summary.testTop5]);
  assert.match(text, /^optimizer: AdamW, weight decay 0\.05 on >= 2-d tensors; lr 0\.005, min lr 0\.00001$/m);
  assert.ok(summary.testAccuracy > 0.2, `test accuracy ${summary.testAccuracy} above chance (0.1)`);
  // the deploy form classifies the test images exactly as the training form
  assert.equal(summary.deployTestAccuracy, summary.testAccuracy);
  assert.match(text, /test accuracy: training form .*, deploy form .* \(difference 0\.00 points\)/);
  // No device named: the backend chosen at first use is logged with its reason.
  assert.match(text, /^backend (cpu \(\d+ threads?\): .+|cuda: .+)$/m);
  const deploy = readSafetensors(path.join(one, 'deploy.safetensors'));
  assert.ok(deploy.has('stages.0.0.repmlp_block.fc3.bias'));
  assert.not.ok([...deploy.keys()].some((k) => k.includes('repconv') || k.includes('fc3_bn')));
  assert.equal(JSON.parse(fs.readFileSync(path.join(one, 'config.json'), 'utf8')).config.channels, [8, 16, 32]);
});

test('a run stopped mid-epoch and resumed repeats the uninterrupted run exactly', async () => {
  const base = { epochs: 2, saveEvery: 4, clipGrad: 1 };
  const full = path.join(tmp, 'full'), part = path.join(tmp, 'part');
  const a = await run({ ...base, out: full });
  // killed during step 9: the last save was at step 8, lines 9.. are repeated by the resumed run
  await assertRejects(run({ ...base, out: part, prefetch: false, shouldStop: (s) => { if (s === 9) throw new Error('killed'); return false; } }), /killed/);
  assert.equal(metrics(part).filter((r) => r.type === 'step').length, 9);
  const b = await run({ ...base, out: part, resume: true, prefetch: false });
  assert.match(b.text, /resuming from .*last\.safetensors: epoch 2, batch 2\/6, step 8/);
  assert.equal(metrics(part).map((r) => [r.type, r.step, r.loss ?? r.trainLoss, r.testAccuracy ?? null]),
    metrics(full).map((r) => [r.type, r.step, r.loss ?? r.trainLoss, r.testAccuracy ?? null]));
  assert.equal(b.summary.testAccuracy, a.summary.testAccuracy);
  const da = readSafetensors(path.join(full, 'deploy.safetensors')), db = readSafetensors(path.join(part, 'deploy.safetensors'));
  for (const [k, v] of da) assert.equal(Array.from(db.get(k)!.data as ArrayLike<unknown>), Array.from(v.data as ArrayLike<unknown>), k);
  // maxSteps stops after saving; a resume with other options is refused
  const c = await run({ ...base, out: path.join(tmp, 'max'), maxSteps: 3 });
  assert.equal([c.summary.stopped, c.summary.steps, c.summary.deployTestAccuracy], [true, 3, null]);
  await assertRejects(run({ ...base, lr: 1e-3, out: path.join(tmp, 'max'), resume: true }), /^train: expected .* to come from a run with the same config and options/);
});

test('train: bad options', async () => {
  await assertRejects(train({ epochs: 0 }), /^train: expected a positive integer for epochs but received 0/);
  await assertRejects(train({ lr: -1 }), /^train: expected a finite number >= 0 for lr but received -1/);
  await assertRejects(train({ device: 'tpu' as never }), /^train: expected 'auto', 'cpu' or 'cuda' for device but received 'tpu'/);
  await assertRejects(train({ arch: { ...TINY, inChannels: 3 }, dataDir }), /^train: expected 1 \(the data set's channels\) for arch.inChannels but received 3/);
  await assertRejects(train({ data: 'cifar10' }), /^train: expected the directory of the cifar10 binary version for dataDir but received none/);
});

test('repmlp train: option errors exit with 2 and the usage', async () => {
  const cases: [string[], RegExp][] = [
    [['--epochs', 'x'], /^repmlp train: expected a positive integer for --epochs but received 'x'/],
    [['--batch-size', '0'], /^repmlp train: expected a positive integer for --batch-size but received '0'/],
    [['--lr', '-1'], /^repmlp train: expected a number >= 0 for --lr but received '-1'/],
    [['--label-smoothing', '2'], /^repmlp train: expected a number in \[0, 1\] for --label-smoothing but received '2'/],
    [['--device', 'tpu'], /^repmlp train: expected auto, cpu or cuda for --device but received 'tpu'/],
    [['--data', 'mnist'], /^repmlp train: expected fashion-mnist, cifar10, cifar100 or an image folder for --data but received 'mnist' \(no such folder\)/],
    [['--arch', 'nope'], /^repmlp train: --arch 'nope' is neither a preset/],
    [['--bogus'], /^repmlp train: unknown option '--bogus'/],
    [['--epochs'], /^repmlp train: option '--epochs' needs a value/],
  ];
  for (const [args, re] of cases) {
    const r = await cli(['train', ...args]);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, re);
    assert.match(r.stderr, /Usage: repmlp train/);
  }
  const h = await cli(['train', '--help']);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /--resume/);
  assert.match((await cli(['--help'])).stdout, /train .*\n.*eval /);
});

test('repmlp train and eval from the command line', async () => {
  const out = path.join(tmp, 'cli');
  const r = await cli(['train', '--arch', tinyJson, '--data-dir', dataDir, '--epochs', '1', '--batch-size', '32', '--limit-train', '64',
    '--limit-test', '96', '--out', out, '--json', '--warmup', '0.5']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  const summary = JSON.parse(lines[lines.length - 1]) as TrainSummary;
  assert.equal(summary.steps, 2);
  for (const [file, form, extra] of [['deploy.safetensors', 'deploy', ['--arch', tinyJson]], ['last.safetensors', 'train', []], ['best.safetensors', 'train', ['--arch', tinyJson]]] as const) {
    const e = await cli(['eval', '--weights', path.join(out, file), '--data-dir', dataDir, '--limit-test', '96', '--batch-size', '40', '--json', ...extra]);
    assert.equal(e.code, 0, e.stderr);
    const res = JSON.parse(e.stdout) as { form: string; accuracy: number; total: number; top5Accuracy: number; topK: number };
    assert.equal([res.form, res.total, res.accuracy, res.top5Accuracy, res.topK], [form, 96, summary.testAccuracy, summary.testTop5, 5], file);
  }
  const text = await cli(['eval', '--weights', path.join(out, 'deploy.safetensors'), '--arch', tinyJson, '--data-dir', dataDir, '--limit-test', '96']);
  assert.match(text.stdout, /deploy\.safetensors \(deploy form\): top-1 accuracy \d+\.\d\d% \(\d+\/96\), top-5 \d+\.\d\d% \(\d+\/96\) on the fashion-mnist test split/);
  assert.match(text.stdout, /^backend (cpu|cuda)/);
  // deploy.safetensors carries its config in its model card; the same weights without metadata need --arch
  const noArch = await cli(['eval', '--weights', path.join(out, 'deploy.safetensors'), '--data-dir', dataDir, '--limit-test', '96', '--json']);
  assert.equal(noArch.code, 0, noArch.stderr);
  assert.equal((JSON.parse(noArch.stdout) as { accuracy: number }).accuracy, summary.testAccuracy);
  const bare = path.join(tmp, 'bare-deploy.safetensors');
  writeSafetensors(bare, readSafetensors(path.join(out, 'deploy.safetensors')));
  const foreign = await cli(['eval', '--weights', bare, '--data-dir', dataDir]);
  assert.equal(foreign.code, 2);
  assert.match(foreign.stderr, /^repmlp eval: --arch <preset \| config.json> is required for weights that record no config \(written elsewhere, or not by repmlp train\)/);
  const noWeights = await cli(['eval', '--arch', 'small']);
  assert.match(noWeights.stderr, /^repmlp eval: --weights <file> is required/);
  // the first test's run, evaluated from its best checkpoint, gives the accuracy it reported
  const b = await cli(['eval', '--weights', path.join(one, 'best.safetensors'), '--data-dir', dataDir, '--limit-test', '96', '--json']);
  assert.equal((JSON.parse(b.stdout) as { accuracy: number }).accuracy, oneSummary.testAccuracy);
});

test.run();
