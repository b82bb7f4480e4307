// The trainer's progress output (lib/train/progress.ts): the log lines off a terminal, the
// redrawn line on one, and the durations of its ETA.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Evaluation } from '../../lib/train/evaluate';
import { duration, Progress } from '../../lib/train/progress';

/** An evaluation of `total` images: `correct` top-1, `top5` within the top `topK`. */
const ev = (correct: number, total: number, top5: number, topK: number): Evaluation =>
  ({ correct, total, accuracy: correct / total, top5Correct: top5, top5Accuracy: top5 / total, topK });

function progress(tty: boolean): { p: Progress; out: () => string } {
  let text = '';
  const p = new Progress({ write: (t) => void (text += t), tty, epochs: 2, stepsPerEpoch: 10, totalSteps: 20 });
  return { p, out: () => text };
}

test('duration: hours and minutes, minutes and seconds, seconds, ? when unknown', () => {
  assert.is(duration(3725), '1h02m');
  assert.is(duration(187), '3m07s');
  assert.is(duration(41.6), '42s');
  assert.is(duration(Infinity), '?');
});

test('off a terminal: one line per logged step and per epoch, no redraws', () => {
  const { p, out } = progress(false);
  p.stepDone(32, 0.5);
  p.lastLoss = 1.23456;
  p.stepLine({ epoch: 0, batch: 1, step: 1, accuracy: 0.25 }, 2e-3, 64);
  assert.is(p.drawDue(true), false);
  p.epochLine({ epoch: 0, trainLoss: 1.2, trainAccuracy: 0.5, test: ev(3, 4, 4, 5), best: true, ema: null, emaBest: false });
  assert.is(out(), 'epoch 1/2 step 1/10 (1) loss 1.2346 acc 25.00% lr 2.00e-3 64 img/s\n' +
    'epoch 1/2: train loss 1.2000, train acc 50.00%, test acc 75.00% (3/4), top-5 100.00%, best so far\n');
  assert.is(p.imagesPerSecond(), 64);
});

test('on a terminal: the line is redrawn (at most every 100 ms, always at the end of an epoch) and ended before the epoch line', () => {
  const { p, out } = progress(true);
  p.stepDone(10, 1);
  p.stepLine({ epoch: 0, batch: 1, step: 1, accuracy: 0.5 }, 1e-3, 10);
  assert.is(out(), '');
  assert.is(p.drawDue(false), true);
  assert.is(p.drawDue(false), false);
  assert.is(p.drawDue(true), true);
  p.draw({ epoch: 0, batch: 1, step: 1, accuracy: 0.5 });
  assert.is(out(), '\repoch 1/2 step 1/10 loss - acc 50.00% 10 img/s ETA 19s   ');
  p.epochLine({ epoch: 0, trainLoss: 1, trainAccuracy: 0.5, test: ev(1, 2, 1, 5), best: false, ema: null, emaBest: false });
  assert.ok(out().endsWith('   \nepoch 1/2: train loss 1.0000, train acc 50.00%, test acc 50.00% (1/2), top-5 50.00%\n'), JSON.stringify(out()));
});

test('the epoch line shows the EMA beside the model, and a top-k of fewer than 5 classes as such', () => {
  const { p, out } = progress(false);
  p.epochLine({ epoch: 1, trainLoss: 0.5, trainAccuracy: 0.75, test: ev(3, 4, 4, 3), best: false, ema: ev(2, 4, 3, 3), emaBest: true });
  assert.is(out(), 'epoch 2/2: train loss 0.5000, train acc 75.00%, test acc 75.00% (3/4), top-3 100.00%; ' +
    'EMA test acc 50.00% (2/4), top-3 75.00%, best EMA so far\n');
});

test.run();
