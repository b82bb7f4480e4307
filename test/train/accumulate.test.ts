// Gradient accumulation (lib/train/step.ts, epoch.ts). With BatchNorm in eval mode (running
// statistics, so nothing depends on which images share a batch), N micro-batches of b
// images give the gradients and the update of one batch of N * b, to float rounding; in
// training mode BatchNorm normalises each micro-batch by its own statistics, so there the
// two differ by design and only the trainer's bookkeeping is checked: optimizer steps
// counted, per-step learning rates, the epoch's short last step, and a resumed run that
// repeats the uninterrupted one exactly.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DeviceSum } from '../../lib/train/device-sum';
import { fashionMnistSampleDir, randn, readSafetensors, RepMLPNet, Rng, SGD, splitWeightDecay, type Batch, type RepMLPNetConfig } from '../../lib/index';
import { cosineSchedule } from '../../lib/train/schedule';
import { TrainParallel } from '../../lib/train/parallel';
import { microStep, trainStep, type StepContext } from '../../lib/train/step';
import { train, type TrainOptions } from '../../lib/train/trainer';
import { scratchDir } from '../cli/run-cli';
import { assertClose, assertRejects, DEVICE } from '../helpers';

const TINY: RepMLPNetConfig = {
  inChannels: 1, numClasses: 4, patchSize: 2, numBlocks: [1], channels: [8], hs: [4], ws: [4], sharesetsNums: [2], reparamConvK: [1, 3],
};

/** A batch of `labels.length` random 8x8 images. */
function batch(labels: number[], rng: Rng): Batch {
  const n = labels.length;
  const x = randn([n, 1, 8, 8], rng);
  const b: Batch = {
    x: x.toFloat32Array(), shape: [n, 1, 8, 8], labels: BigInt64Array.from(labels, BigInt), numClasses: 4, epoch: 0, index: 0, indices: new Int32Array(n),
  };
  x.dispose();
  return b;
}

/** Two micro-batches, and the one batch that holds both. */
function batches(): { micro: Batch[]; whole: Batch } {
  const rng = new Rng(3);
  const micro = [batch([0, 1, 2, 3], rng), batch([3, 2, 2, 0], rng)];
  const whole: Batch = { ...micro[0], x: Float32Array.of(...micro[0].x, ...micro[1].x), shape: [8, 1, 8, 8], labels: BigInt64Array.of(...micro[0].labels, ...micro[1].labels), indices: new Int32Array(8) };
  return { micro, whole };
}

/** A model in eval mode with SGD and the epoch's sums. */
function context(): StepContext & { dispose(): void } {
  const model = new RepMLPNet(TINY, { seed: 5, device: DEVICE }).eval();
  const opt = new SGD(splitWeightDecay(model.parameters(), 0.05), { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.05 });
  const lossSum = new DeviceSum(DEVICE), correctSum = new DeviceSum(DEVICE);
  return {
    model, opt, lossSum, correctSum, s: { device: DEVICE, labelSmoothing: 0.1, clipGrad: 0 },
    par: new TrainParallel({ distributed: false, syncBatchNorm: false, threadsPerRank: undefined, batchSize: 8 }),
    dispose: () => [model, opt, lossSum, correctSum].forEach((x) => x.dispose()),
  };
}

const feed = (list: Batch[]) => {
  let i = 0;
  return () => Promise.resolve(list[i++]);
};

test('eval-mode BatchNorm: two micro-batches of 4 give the gradients and the update of one batch of 8', async () => {
  const { micro, whole } = batches();
  const a = context(), b = context();
  for (const m of micro) microStep(a, m, 1 / micro.length);
  microStep(b, whole, 1);
  const named = b.model.namedParameters();
  a.model.parameters().forEach((p, i) => assertClose(`grad of ${named[i][0]}`, p.grad!, named[i][1].grad!, { rtol: 1e-5, atol: 1e-7 }));
  // the sums: the micro-batches' losses add up to twice the whole batch's mean, the correct counts to its count
  assertClose('loss', [a.lossSum.read() / 2], [b.lossSum.read()], { rtol: 1e-6 });
  assert.is(a.correctSum.read(), b.correctSum.read());
  a.opt.zeroGrad();
  b.opt.zeroGrad();
  // one optimizer step each way through trainStep, as the epoch takes it, twice (momentum)
  for (let t = 0; t < 2; t++) {
    assert.is(await trainStep(a, feed(micro), 2, 0.1), 8);
    assert.is(await trainStep(b, feed([whole]), 1, 0.1), 8);
  }
  a.model.parameters().forEach((p, i) => assertClose(`${named[i][0]} after 2 steps`, p, named[i][1], { rtol: 1e-5, atol: 1e-7 }));
  assert.ok(a.model.parameters().every((p) => p.grad === null), 'the gradients are freed after the step');
  a.dispose();
  b.dispose();
});

const tmp = scratchDir('accum');
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function run(out: string, more: TrainOptions = {}): Promise<{ text: string; steps: Record<string, number>[] }> {
  let text = '';
  await train({
    arch: { ...TINY, numClasses: 10, hs: [16], ws: [16] }, dataDir: fashionMnistSampleDir(), epochs: 2, batchSize: 16, limitTrain: 80, limitTest: 32,
    logEvery: 1, lr: 5e-3, warmupEpochs: 0.5, accumSteps: 2, out, prefetch: false, write: (t) => void (text += t), tty: false, ...more,
  });
  const recs = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
  return { text, steps: recs.filter((r) => (r.type as unknown) === 'step') };
}

test('the trainer: optimizer steps of 2 micro-batches (the last of an epoch short), per-step lr, exact resume', async () => {
  const full = path.join(tmp, 'full');
  const a = await run(full);
  // 5 batches of 16 a epoch: steps of 2, 2 and 1 batches
  assert.match(a.text, /^model: .*; 2 epochs x 3 steps of 2 x 16 \(accumulated\); out /m);
  assert.match(a.text, /^epoch 1\/2 step 3\/3 \(3\) /m);
  assert.equal(a.steps.map((r) => r.step), [1, 2, 3, 4, 5, 6]);
  const lr = cosineSchedule({ lr: 5e-3, minLr: 1e-5, totalSteps: 6, warmupSteps: 2, warmupStart: 0.01 });
  assert.equal(a.steps.map((r) => r.lr), [0, 1, 2, 3, 4, 5].map(lr));
  // killed during step 5, the last save at step 4 (mid-epoch 2); the resumed run repeats the rest
  const part = path.join(tmp, 'part');
  await assertRejects(run(part, { saveEvery: 2, shouldStop: (s) => { if (s === 5) throw new Error('killed'); return false; } }), /killed/);
  const b = await run(part, { saveEvery: 2, resume: true });
  assert.match(b.text, /resuming from .*: epoch 2, batch 2\/5, step 4/);
  assert.equal(b.steps.map((r) => [r.step, r.loss, r.lr]), a.steps.map((r) => [r.step, r.loss, r.lr]));
  const x = readSafetensors(path.join(full, 'deploy.safetensors')), y = readSafetensors(path.join(part, 'deploy.safetensors'));
  for (const [k, v] of x) assert.equal(Array.from(y.get(k)!.data as ArrayLike<unknown>), Array.from(v.data as ArrayLike<unknown>), k);
  await assertRejects(run(path.join(tmp, 'bad'), { accumSteps: 0 }), /^train: expected a positive integer for accumSteps but received 0$/);
});

test.run();
