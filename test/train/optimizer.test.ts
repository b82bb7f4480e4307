// The trainer's optimizer (lib/train/optimizer.ts): the reference recipe's SGD (two weight
// decay groups, momentum 0.9, Nesterov) against torch.optim.SGD built as the reference's
// build_optimizer builds it, with a learning rate changed every step (gen_sgd.py 'recipe');
// AdamW's groups; and in the trainer: `optimizer: 'sgd'` trains, logs itself, resumes from
// its momentum buffers (or from no state without momentum), and its options are checked.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AdamW, fashionMnistSampleDir, SGD, type RepMLPNetConfig } from '../../lib/index';
import { readCheckpoint } from '../../lib/train/checkpoint';
import { describeOptimizer, makeOptimizer, optimizerStateLayout } from '../../lib/train/optimizer';
import { train, type TrainOptions } from '../../lib/train/trainer';
import { scratchDir } from '../cli/run-cli';
import { optimizerGoldens } from '../optim/harness';
import { assertRejects } from '../helpers';

const { params, setGrads, expectStep } = optimizerGoldens('SGD', 'sgd');
const RECIPE = { optimizer: 'sgd', lr: 0.1, weightDecay: 0.05, momentum: 0.9, nesterov: true } as const;

test("SGD as the reference builds it matches torch.optim.SGD for 3 steps of a schedule's learning rates", () => {
  // p0 (3, 4) and p2 (2, 3, 1, 1) take weight decay, the vectors p1 and p3 none
  const ps = params('recipe', 4);
  const opt = makeOptimizer(ps, RECIPE);
  assert.ok(opt instanceof SGD);
  const groups = opt.paramGroups.map((g) => [g.params.map((p) => ps.indexOf(p)), g.weightDecay, g.momentum, g.nesterov]);
  assert.equal(groups, [[[0, 2], 0.05, 0.9, true], [[1, 3], 0, 0.9, true]]);
  [0.1, 0.05, 0.02].forEach((lr, t) => {
    setGrads('recipe', ps, t);
    opt.lr = lr;
    opt.step();
    expectStep('recipe', ps, t);
  });
  opt.dispose();
  ps.forEach((p) => p.dispose());
});

test('AdamW by default, with the same groups; the state each keeps; the line that describes them', () => {
  const ps = params('recipe', 4);
  const adamw = makeOptimizer(ps, { ...RECIPE, optimizer: 'adamw' });
  assert.ok(adamw instanceof AdamW);
  assert.equal(adamw.paramGroups.map((g) => [g.params.map((p) => ps.indexOf(p)), g.weightDecay]), [[[0, 2], 0.05], [[1, 3], 0]]);
  adamw.dispose();
  ps.forEach((p) => p.dispose());
  assert.equal(Object.keys(optimizerStateLayout({ ...RECIPE, optimizer: 'adamw' })), ['step', 'exp_avg', 'exp_avg_sq']);
  assert.equal(optimizerStateLayout(RECIPE), { momentum_buffer: 'param' });
  assert.equal(optimizerStateLayout({ ...RECIPE, momentum: 0, nesterov: false }), {});
  assert.is(describeOptimizer(RECIPE), 'SGD, momentum 0.9 (Nesterov), weight decay 0.05 on >= 2-d tensors');
  assert.is(describeOptimizer({ ...RECIPE, optimizer: 'adamw' }), 'AdamW, weight decay 0.05 on >= 2-d tensors');
});

const TINY: RepMLPNetConfig = {
  inChannels: 1, numClasses: 10, patchSize: 2, numBlocks: [1], channels: [8], hs: [16], ws: [16], sharesetsNums: [2], reparamConvK: [1, 3],
};
const tmp = scratchDir('train-sgd');
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function run(out: string, more: TrainOptions): Promise<string> {
  let text = '';
  await train({
    arch: TINY, dataDir: fashionMnistSampleDir(), epochs: 1, batchSize: 32, limitTrain: 128, limitTest: 32, lr: 0.05, out, prefetch: false,
    write: (t) => void (text += t), tty: false, ...more,
  });
  return text;
}

const weights = (file: string) => [...readCheckpoint(file).model].map(([k, h]) => [k, Array.from(h.data as ArrayLike<unknown>)]);

test('the trainer with SGD: logged, momentum buffers in the checkpoint, a resumed run repeats the uninterrupted one', async () => {
  for (const [name, more] of [['nesterov', { optimizer: 'sgd' }], ['plain', { optimizer: 'sgd', momentum: 0 }]] as [string, TrainOptions][]) {
    const full = path.join(tmp, `${name}-full`), part = path.join(tmp, `${name}-part`);
    const text = await run(full, more);
    const line = name === 'plain' ? 'SGD, momentum 0, weight decay' : 'SGD, momentum 0.9 \\(Nesterov\\), weight decay';
    assert.match(text, new RegExp(`^optimizer: ${line} 0\\.05 on >= 2-d tensors; lr 0\\.05, min lr 0\\.00001$`, 'm'));
    await run(part, { ...more, maxSteps: 2 });
    const keys = Object.keys(readCheckpoint(path.join(part, 'last.safetensors')).optimizer.state[0] ?? {});
    assert.equal(keys, name === 'plain' ? [] : ['momentum_buffer'], name);
    await run(part, { ...more, resume: true });
    assert.equal(weights(path.join(part, 'last.safetensors')), weights(path.join(full, 'last.safetensors')), name);
  }
  // a run of one optimizer does not resume with the other
  await assertRejects(run(path.join(tmp, 'plain-part'), { resume: true }), /^train: expected .* to come from a run with the same config and options but it differs/);
});

test('the trainer: SGD options are checked', async () => {
  await assertRejects(train({ optimizer: 'lamb' as never }), /^train: expected 'adamw' or 'sgd' for optimizer but received 'lamb'$/);
  await assertRejects(train({ momentum: 0.5 }), /^train: expected no value \(it applies only when optimizer is 'sgd'\) for momentum but received 0\.5$/);
  await assertRejects(train({ nesterov: false }), /^train: expected no value \(it applies only when optimizer is 'sgd'\) for nesterov but received false$/);
  await assertRejects(train({ optimizer: 'sgd', momentum: 1 }), /^train: expected a number in \[0, 1\) for momentum but received 1$/);
  await assertRejects(train({ optimizer: 'sgd', momentum: 0, nesterov: true }), /^train: expected false with momentum 0 \(Nesterov needs momentum\) for nesterov but received true$/);
});

test.run();
