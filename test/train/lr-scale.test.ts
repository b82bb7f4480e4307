// Learning rates scaled by the batch size (lrScaleBatch), as the reference's main_repmlp.py
// scales them: BASE_LR, WARMUP_LR and MIN_LR times BATCH_SIZE * world size * ACCUMULATION_STEPS
// / 256. Here the factor is batchSize * accumSteps / lrScaleBatch, applied to lr and minLr
// (the warm-up starts at lr * warmupStart, so it follows), printed at the start, and used by
// the schedule.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fashionMnistSampleDir, type RepMLPNetConfig } from '../../lib/index';
import { resolveOptions, type TrainOptions } from '../../lib/train/options';
import { recipeSettings } from '../../lib/train/recipe-options';
import { cosineSchedule } from '../../lib/train/schedule';
import { train } from '../../lib/train/trainer';
import { scratchDir } from '../cli/run-cli';
import { assertRejects, assertThrows } from '../helpers';

const settings = (o: TrainOptions) => resolveOptions({ device: 'cpu', ...o });

test('the factor: images per optimizer step over lrScaleBatch; none without it', () => {
  assert.is(recipeSettings({}, 64).lrScale, 1);
  assert.is(recipeSettings({ lrScaleBatch: 256 }, 64).lrScale, 0.25);
  assert.is(recipeSettings({ lrScaleBatch: 256, accumSteps: 4 }, 64).lrScale, 1);
  assert.is(recipeSettings({ lrScaleBatch: 512 }, 1024).lrScale, 2);
  // the reference's own example: 8 GPUs of 32 at BASE_LR 0.001 over 256 stay at 0.001
  assert.is(settings({ lr: 0.001, batchSize: 256, lrScaleBatch: 256 }).lr, 0.001);
});

test('lr and minLr scaled, the given values kept; the warm-up start follows lr', () => {
  const s = settings({ lr: 1e-3, minLr: 1e-5, batchSize: 64, accumSteps: 2, lrScaleBatch: 256, warmupStart: 0.01 });
  assert.equal([s.lr, s.minLr, s.givenLr, s.givenMinLr, s.lrScale], [5e-4, 5e-6, 1e-3, 1e-5, 0.5]);
  const schedule = cosineSchedule({ lr: s.lr, minLr: s.minLr, totalSteps: 10, warmupSteps: 2, warmupStart: s.warmupStart });
  assert.is(schedule(0), 5e-6, 'the warm-up starts at 0.01 x the scaled lr');
  assert.equal([settings({ lr: 2e-3 }).lr, settings({ lr: 2e-3 }).lrScale], [2e-3, 1]);
  assertThrows(() => settings({ lrScaleBatch: 0 }), /^train: expected a positive integer for lrScaleBatch but received 0$/);
  assertThrows(() => settings({ lrScaleBatch: 1.5 }), /^train: expected a positive integer for lrScaleBatch but received 1\.5$/);
});

const TINY: RepMLPNetConfig = {
  inChannels: 1, numClasses: 10, patchSize: 2, numBlocks: [1], channels: [8], hs: [16], ws: [16], sharesetsNums: [2], reparamConvK: [1, 3],
};
const tmp = scratchDir('lr-scale');
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('the trainer prints the scaled rates and trains with them; a resume needs the same scaling', async () => {
  let text = '';
  const out = path.join(tmp, 'run');
  const opts: TrainOptions = {
    arch: TINY, dataDir: fashionMnistSampleDir(), epochs: 1, batchSize: 16, accumSteps: 2, limitTrain: 64, limitTest: 16, lr: 4e-3, minLr: 4e-5,
    lrScaleBatch: 128, warmupEpochs: 0, logEvery: 1, maxSteps: 1, out, prefetch: false, write: (t) => void (text += t), tty: false,
  };
  await train(opts);
  assert.match(text, /^optimizer: AdamW, weight decay 0\.05 on >= 2-d tensors; lr 0\.001, min lr 0\.00001 \(given 0\.004 and 0\.00004 for batch 128, times 32 \/ 128 = 0\.25\)$/m);
  const first = JSON.parse(fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').split('\n')[0]) as { lr: number };
  assert.is(first.lr, 1e-3);
  await assertRejects(train({ ...opts, lrScaleBatch: 256, resume: true }), /^train: expected .* to come from a run with the same config and options but it differs/);
});

test.run();
