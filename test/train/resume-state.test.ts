// Resume checks the checkpoint's optimizer state against the model before loading: a state
// entry missing for a parameter, a moment missing or of the wrong shape, or an entry for a
// parameter the model does not have are refused, naming the checkpoint file and the
// parameter, and the run directory is left as it was.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fashionMnistSampleDir, RepMLPNet, splitWeightDecay, type RepMLPNetConfig } from '../../lib/index';
import { parseSafetensorsMetadata, readSafetensors, writeSafetensors, type HostTensor } from '../../lib/io/safetensors';
import { train, type TrainOptions } from '../../lib/train/trainer';
import { assertRejects } from '../helpers';

const TINY: RepMLPNetConfig = {
  inChannels: 1, numClasses: 10, patchSize: 2, numBlocks: [1, 1, 1], channels: [8, 16, 32], hs: [16, 8, 4], ws: [16, 8, 4],
  sharesetsNums: [2, 4, 8], reparamConvK: [1, 3], globalPerceptronReduce: 4,
};
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'repmlp-resume-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const run = (out: string, more: TrainOptions = {}) =>
  train({ arch: TINY, dataDir: fashionMnistSampleDir(), epochs: 2, batchSize: 32, limitTrain: 96, limitTest: 32, logEvery: 1, out, prefetch: false, write: () => {}, tty: false, ...more });

// The parameters in the optimizer's index order (the weight-decay group first), by name.
function paramNames(): string[] {
  const m = new RepMLPNet(TINY);
  const names = new Map(m.namedParameters().map(([n, t]) => [t, n]));
  const order = splitWeightDecay(m.parameters(), 0.05).flatMap((g) => g.params).map((p) => names.get(p)!);
  m.dispose();
  return order;
}

/** Rewrites the checkpoint with `edit` applied to its tensors (the metadata kept). */
function edited(from: string, to: string, edit: (t: Map<string, HostTensor>) => void): void {
  fs.mkdirSync(to, { recursive: true });
  const src = path.join(from, 'last.safetensors');
  const tensors = readSafetensors(src);
  edit(tensors);
  writeSafetensors(path.join(to, 'last.safetensors'), tensors, { metadata: parseSafetensorsMetadata(fs.readFileSync(src)) });
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('resume refuses an optimizer state that does not match the model, naming the file and the parameter', async () => {
  const base = path.join(tmp, 'base');
  const first = await run(base, { maxSteps: 2 });
  assert.equal([first.stopped, first.steps], [true, 2]);
  const names = paramNames();
  const cases: [string, (t: Map<string, HostTensor>) => void, (file: string) => RegExp][] = [
    ['missing', (t) => ['step', 'exp_avg', 'exp_avg_sq'].forEach((k) => t.delete(`optimizer.state.3.${k}`)),
      (f) => new RegExp(`^train: expected the optimizer state of parameter '${esc(names[3])}' \\(optimizer\\.state\\.3\\.\\*\\) in ${esc(f)} but received none; the checkpoint is incomplete$`)],
    ['moment', (t) => t.delete('optimizer.state.0.exp_avg_sq'),
      (f) => new RegExp(`^train: expected a float32 tensor of shape \\(.+\\) for optimizer\\.state\\.0\\.exp_avg_sq \\(parameter '${esc(names[0])}'\\) in ${esc(f)} but received none$`)],
    ['shape', (t) => t.set('optimizer.state.1.exp_avg', { dtype: 'float32', shape: [1], data: new Float32Array(1) }),
      (f) => new RegExp(`^train: expected a float32 tensor of shape \\(.+\\) for optimizer\\.state\\.1\\.exp_avg \\(parameter '${esc(names[1])}'\\) in ${esc(f)} but received a float32 tensor of shape \\(1\\)$`)],
    ['extra', (t) => t.set('optimizer.state.999.step', { dtype: 'float32', shape: [], data: Float32Array.of(2) }),
      (f) => new RegExp(`^train: expected optimizer state for parameters 0\\.\\.${names.length - 1} in ${esc(f)} but received an entry for parameter 999`)],
  ];
  for (const [name, edit, message] of cases) {
    const out = path.join(tmp, name);
    edited(base, out, edit);
    const file = path.join(out, 'last.safetensors');
    const before = fs.readFileSync(file);
    await assertRejects(run(out, { resume: true }), message(file));
    assert.ok(fs.readFileSync(file).equals(before), `${name}: the checkpoint is untouched`);
    assert.equal(fs.readdirSync(out), ['last.safetensors'], `${name}: nothing else written, the lock released`);
  }
  // the same checkpoint, unedited, resumes; a metrics line cut short by a kill is dropped
  const intact = path.join(tmp, 'intact');
  edited(base, intact, () => {});
  const log = fs.readFileSync(path.join(base, 'metrics.jsonl'), 'utf8');
  fs.writeFileSync(path.join(intact, 'metrics.jsonl'), log + '{"type":"step","st');
  assert.equal((await run(intact, { resume: true })).steps, 6);
  const steps = fs.readFileSync(path.join(intact, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { step: number }).step);
  assert.equal(steps.slice(0, 3), [1, 2, 3], 'the kept lines, then the resumed run\'s');
  // a broken line before the end is an error naming the file and the line
  const broken = path.join(tmp, 'broken');
  edited(base, broken, () => {});
  fs.writeFileSync(path.join(broken, 'metrics.jsonl'), 'not json\n' + log);
  await assertRejects(run(broken, { resume: true }), new RegExp(`^train: expected one JSON record per line in ${esc(path.join(broken, 'metrics.jsonl'))} but line 1 is "not json"$`));
});

test('resume checks the SGD momentum buffers and the EMA; a checkpoint from before these options resumes as the defaults', async () => {
  const names = paramNames();
  const sgd = path.join(tmp, 'sgd');
  await run(sgd, { optimizer: 'sgd', ema: true, maxSteps: 2 });
  const cases: [string, (t: Map<string, HostTensor>) => void, (file: string) => RegExp][] = [
    ['no-buffer', (t) => t.delete('optimizer.state.2.momentum_buffer'),
      (f) => new RegExp(`^train: expected the optimizer state of parameter '${esc(names[2])}' \\(optimizer\\.state\\.2\\.\\*\\) in ${esc(f)} but received none; the checkpoint is incomplete$`)],
    ['adam-moment', (t) => t.set('optimizer.state.0.exp_avg', t.get('optimizer.state.0.momentum_buffer')!),
      (f) => new RegExp(`^train: expected only momentum_buffer in the optimizer state of parameter '${esc(names[0])}' in ${esc(f)} but received optimizer\\.state\\.0\\.exp_avg$`)],
    ['no-ema', (t) => [...t.keys()].filter((k) => k.startsWith('ema.')).forEach((k) => t.delete(k)),
      (f) => new RegExp(`^train: expected the EMA's weights \\(ema\\.\\* tensors\\) in ${esc(f)} but received none; the checkpoint is incomplete$`)],
  ];
  for (const [name, edit, message] of cases) {
    const out = path.join(tmp, name);
    edited(sgd, out, edit);
    await assertRejects(run(out, { optimizer: 'sgd', ema: true, resume: true }), message(path.join(out, 'last.safetensors')));
  }
  // options recorded before the recipe options existed stand for their defaults
  const base = path.join(tmp, 'base');
  const old = path.join(tmp, 'old');
  fs.mkdirSync(old, { recursive: true });
  const src = path.join(base, 'last.safetensors');
  const md = parseSafetensorsMetadata(fs.readFileSync(src));
  const options = JSON.parse(md.options) as Record<string, unknown>;
  for (const k of ['optimizer', 'momentum', 'nesterov', 'accumSteps', 'lrScaleBatch', 'ema', 'emaDecay', 'emaEvery']) delete options[k];
  const { lastTop5: _a, bestEmaAccuracy: _b, lastEmaAccuracy: _c, lastEmaTop5: _d, ...older } = md;
  writeSafetensors(path.join(old, 'last.safetensors'), readSafetensors(src), { metadata: { ...older, options: JSON.stringify(options) } });
  assert.equal((await run(old, { resume: true })).steps, 6);
});

test.run();
