// The EMA of the weights (lib/train/ema.ts): a few updates against a float64 reference of
// ema = d * ema + (1 - d) * model over the whole state dict (parameters and BatchNorm
// running statistics averaged, num_batches_tracked copied), the copy of decay 0, the
// schedule of updates (every N steps, copies during the warm-up), no memory growth; and in
// the trainer: evaluated every epoch, best-ema.safetensors, and a resumed run that repeats
// the uninterrupted one's EMA exactly.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { crossEntropy, fashionMnistSampleDir, randn, readSafetensors, RepMLPNet, Rng, scope, SGD, tensor, type HostTensor, type RepMLPNetConfig } from '../../lib/index';
import { readCheckpoint } from '../../lib/train/checkpoint';
import { emaDecayAt, WeightEma } from '../../lib/train/ema';
import { train, type TrainOptions } from '../../lib/train/trainer';
import { runCli, scratchDir, writeJson } from '../cli/run-cli';
import { assertRejects, assertThrows, DEVICE, diff, liveStorages } from '../helpers';

const TINY: RepMLPNetConfig = {
  inChannels: 1, numClasses: 4, patchSize: 2, numBlocks: [1], channels: [8], hs: [4], ws: [4], sharesetsNums: [2], reparamConvK: [1, 3],
};

/** One SGD step of the model in training mode on random data: moves the weights and the BN statistics. */
function trainOnce(model: RepMLPNet, opt: SGD, rng: Rng): void {
  scope(() => {
    opt.zeroGrad();
    crossEntropy(model.forward(randn([4, 1, 8, 8], rng, { device: DEVICE })), tensor(BigInt64Array.of(0n, 1n, 2n, 3n), [4], { device: DEVICE, dtype: 'int64' })).backward();
    opt.step();
  });
  opt.zeroGrad();
}

const asF64 = (h: HostTensor) => Float64Array.from(h.data as Float32Array);

test('updates match a float64 reference: parameters and running statistics averaged, step counts copied', () => {
  const before = liveStorages();
  const model = new RepMLPNet(TINY, { seed: 2, device: DEVICE });
  const opt = new SGD(model.parameters(), { lr: 0.5, momentum: 0.9 });
  const ema = new WeightEma(model);
  const rng = new Rng(7);
  // the reference: float64 copies of the state dict, moved by the same rule
  const ref = new Map([...model.stateDict()].filter(([, h]) => h.dtype === 'float32').map(([k, h]) => [k, asF64(h)]));
  const decays = [0.9, 0.5, 0, 0.99];
  const counts: number[] = [];
  for (const d of decays) {
    trainOnce(model, opt, rng);
    ema.update(d);
    for (const [k, h] of model.stateDict()) {
      const r = ref.get(k);
      if (r) r.forEach((e, i) => (r[i] = d * e + (1 - d) * (h.data as Float32Array)[i]));
    }
    counts.push(liveStorages().cpuBuffers + liveStorages().cudaBuffers);
  }
  const mine = ema.stateDict(), theirs = model.stateDict();
  let worst = 0;
  for (const [k, r] of ref) worst = Math.max(worst, diff(mine.get(k)!.data as Float32Array, r).rel);
  assert.ok(worst < 1e-6, `worst relative error ${worst}`);
  // running statistics moved and are averaged, not copied
  const rv = 'stages.0.0.prebn1.running_var';
  assert.not.equal(Array.from(mine.get(rv)!.data as Float32Array), Array.from(theirs.get(rv)!.data as Float32Array));
  // num_batches_tracked is copied (4 training steps)
  assert.equal(Array.from(mine.get('head_norm.num_batches_tracked')!.data as BigInt64Array), [4n]);
  assert.equal(counts, [counts[0], counts[0], counts[0], counts[0]], 'updates allocate nothing');
  // decay 0 copies exactly, decay 1 keeps
  ema.update(0);
  for (const [k, h] of model.stateDict()) assert.equal(Array.from(ema.stateDict().get(k)!.data as ArrayLike<unknown>), Array.from(h.data as ArrayLike<unknown>), k);
  trainOnce(model, opt, rng);
  const kept = ema.stateDict();
  ema.update(1);
  for (const [k, h] of kept) assert.equal(Array.from(ema.stateDict().get(k)!.data as ArrayLike<unknown>), Array.from(h.data as ArrayLike<unknown>), k);
  assertThrows(() => ema.update(1.5), /^WeightEma: expected a number in \[0, 1\] for decay but received 1\.5$/);
  assert.is(ema.model.training, false, 'the EMA stays in eval mode');
  ema.dispose();
  opt.dispose();
  model.dispose();
  assert.equal(liveStorages(), before);
});

test('the schedule: every N steps, a copy up to the end of the warm-up', () => {
  const s = { decay: 0.99, every: 4, warmupSteps: 8 };
  assert.equal([1, 2, 3, 4, 5, 8, 9, 12, 16].map((step) => emaDecayAt(step, s)), [null, null, null, 0, null, 0, null, 0.99, 0.99]);
  assert.equal([1, 2].map((step) => emaDecayAt(step, { decay: 0.5, every: 1, warmupSteps: 0 })), [0.5, 0.5]);
});

const tmp = scratchDir('ema');
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const ARCH: RepMLPNetConfig = { ...TINY, numClasses: 10, hs: [16], ws: [16] };
const run = (out: string, more: TrainOptions = {}) => {
  let text = '';
  const summary = train({
    arch: ARCH, dataDir: fashionMnistSampleDir(), epochs: 2, batchSize: 32, limitTrain: 192,
    limitTest: 64, logEvery: 1, lr: 5e-3, warmupEpochs: 0.5, ema: true, emaDecay: 0.8, emaEvery: 1, out, prefetch: false, write: (t) => void (text += t), tty: false, ...more,
  });
  return summary.then((s) => ({ summary: s, text }));
};

const epochs = (out: string) => fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.type === 'epoch');

test('the trainer: EMA evaluated every epoch, best-ema.safetensors, checkpoints hold it, a resumed run repeats it', async () => {
  const full = path.join(tmp, 'full');
  const a = await run(full);
  assert.match(a.text, /^EMA of the weights: decay 0\.8 every 1 steps, a copy during the warm-up \(3 steps\); best EMA weights go to .*best-ema\.safetensors$/m);
  assert.match(a.text, /^epoch 1\/2: .*; EMA test acc \d+\.\d\d% \(\d+\/64\), top-5 \d+\.\d\d%(, best EMA so far)?$/m);
  const recs = epochs(full);
  assert.equal(recs.map((r) => typeof r.emaTestAccuracy), ['number', 'number']);
  assert.equal([a.summary.emaTestAccuracy, a.summary.emaTestTop5], [recs[1].emaTestAccuracy, recs[1].emaTestTop5]);
  assert.ok(fs.existsSync(path.join(full, 'best-ema.safetensors')));
  const last = readCheckpoint(path.join(full, 'last.safetensors'));
  assert.ok(last.ema, 'last.safetensors holds the EMA');
  assert.equal(last.meta.lastEmaAccuracy, a.summary.emaTestAccuracy);
  // the EMA is not the model
  assert.not.equal(Array.from(last.ema!.get('head.weight')!.data as Float32Array), Array.from(last.model.get('head.weight')!.data as Float32Array));
  // best-ema.safetensors is a training-form state dict that `repmlp eval` takes with --arch
  const best = Math.max(...recs.map((r) => r.emaTestAccuracy as number));
  const e = await runCli(['eval', '--weights', path.join(full, 'best-ema.safetensors'), '--arch', writeJson(tmp, 'arch.json', ARCH),
    '--data-dir', fashionMnistSampleDir(), '--limit-test', '64', '--json']);
  assert.equal(e.code, 0, e.stderr);
  assert.equal([(JSON.parse(e.stdout) as { form: string }).form, (JSON.parse(e.stdout) as { accuracy: number }).accuracy], ['train', best]);
  // killed during step 9 (the last save at step 8, mid-epoch 2), resumed: the same EMA, bit for bit
  const part = path.join(tmp, 'part');
  await assertRejects(run(part, { saveEvery: 4, shouldStop: (s) => { if (s === 9) throw new Error('killed'); return false; } }), /killed/);
  const b = await run(part, { saveEvery: 4, resume: true });
  assert.match(b.text, /resuming from .*: epoch 2, batch 2\/6, step 8/);
  assert.equal(epochs(part).map((r) => [r.testAccuracy, r.emaTestAccuracy, r.emaTestTop5]), recs.map((r) => [r.testAccuracy, r.emaTestAccuracy, r.emaTestTop5]));
  for (const file of ['best-ema.safetensors', 'last.safetensors']) {
    const x = readSafetensors(path.join(full, file)), y = readSafetensors(path.join(part, file));
    for (const [k, v] of x) if (!k.startsWith('optimizer.')) assert.equal(Array.from(y.get(k)!.data as ArrayLike<unknown>), Array.from(v.data as ArrayLike<unknown>), `${file} ${k}`);
  }
});

test('the trainer: EMA options are checked', async () => {
  await assertRejects(train({ emaDecay: 0.9 }), /^train: expected no value \(it applies only when ema is true\) for emaDecay but received 0\.9$/);
  await assertRejects(train({ ema: true, emaDecay: 2 }), /^train: expected a number in \[0, 1\] for emaDecay but received 2$/);
  await assertRejects(train({ ema: true, emaEvery: 0 }), /^train: expected a positive integer for emaEvery but received 0$/);
  await assertRejects(train({ ema: 'yes' as never }), /^train: expected true or false for ema but received 'yes'$/);
});

test.run();
