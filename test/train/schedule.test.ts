import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cosineSchedule } from '../../lib/train/schedule';
import { assertThrows } from '../helpers';

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

test('linear warm-up from lr * warmupStart to lr, then cosine to minLr at the last step', () => {
  const lr = 2e-3, minLr = 1e-5;
  const f = cosineSchedule({ lr, minLr, totalSteps: 11, warmupSteps: 4, warmupStart: 0.1 });
  close(f(0), lr * 0.1, 'step 0');
  close(f(1), lr * (0.1 + 0.9 * 0.25), 'step 1');
  close(f(3), lr * (0.1 + 0.9 * 0.75), 'step 3');
  close(f(4), lr, 'end of warm-up');
  // cosine over steps 4..10 (6 intervals)
  for (let s = 4; s <= 10; s++) close(f(s), minLr + 0.5 * (lr - minLr) * (1 + Math.cos((Math.PI * (s - 4)) / 6)), `step ${s}`);
  close(f(7), (lr + minLr) / 2, 'half way');
  close(f(10), minLr, 'last step');
  close(f(20), minLr, 'past the end');
  for (let s = 5; s <= 10; s++) assert.ok(f(s) < f(s - 1), 'decreasing after the warm-up');
});

test('no warm-up starts at lr; a one-step run stays at lr; warm-up over the whole run', () => {
  const f = cosineSchedule({ lr: 1, totalSteps: 3 });
  close(f(0), 1, 'no warm-up');
  close(f(1), 0.5, 'middle');
  close(f(2), 0, 'minLr defaults to 0');
  close(cosineSchedule({ lr: 0.5, totalSteps: 1 })(0), 0.5, 'one step');
  const w = cosineSchedule({ lr: 1, totalSteps: 4, warmupSteps: 4 });
  assert.equal([0, 1, 2, 3].map(w), [0, 0.25, 0.5, 0.75]);
});

test('errors name the option', () => {
  assertThrows(() => cosineSchedule({ lr: -1, totalSteps: 3 }), /^cosineSchedule: expected a finite number >= 0 for lr but received -1/);
  assertThrows(() => cosineSchedule({ lr: 1, totalSteps: 0 }), /^cosineSchedule: expected an integer >= 1 for totalSteps but received 0/);
  assertThrows(() => cosineSchedule({ lr: 1, totalSteps: 3, warmupSteps: 4 }), /^cosineSchedule: expected an integer in \[0, 3\] for warmupSteps but received 4/);
  assertThrows(() => cosineSchedule({ lr: 1, minLr: 2, totalSteps: 3 }), /^cosineSchedule: expected a number in \[0, 1\] for minLr but received 2/);
  assertThrows(() => cosineSchedule({ lr: 1, totalSteps: 3, warmupStart: 1.5 }), /warmupStart but received 1.5/);
  assertThrows(() => cosineSchedule({ lr: 1, totalSteps: 3 })(-1), /^cosineSchedule: expected an integer >= 0 for step but received -1/);
});

test.run();
