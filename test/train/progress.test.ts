// The trainer's progress output (lib/train/progress.ts): the log lines off a terminal, the
// redrawn line on one, and the durations of its ETA.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { duration, Progress } from '../../lib/train/progress';

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
  p.epochLine(0, 1.2, 0.5, { correct: 3, total: 4, accuracy: 0.75 }, true);
  assert.is(out(), 'epoch 1/2 step 1/10 (1) loss 1.2346 acc 25.00% lr 2.00e-3 64 img/s\n' +
    'epoch 1/2: train loss 1.2000, train acc 50.00%, test acc 75.00% (3/4), best so far\n');
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
  p.epochLine(0, 1, 0.5, { correct: 1, total: 2, accuracy: 0.5 }, false);
  assert.ok(out().endsWith('   \nepoch 1/2: train loss 1.0000, train acc 50.00%, test acc 50.00% (1/2)\n'), JSON.stringify(out()));
});

test.run();
