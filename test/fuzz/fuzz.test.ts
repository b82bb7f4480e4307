// A short, fixed-seed run of the native fuzz harness (the long one is `npm run test:fuzz`,
// in CI for a minute), and checks of the harness itself: every binding has a spec, and a
// call that kills its process or hangs is reported with that call.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { native } from '../../lib/native';
import { uncovered } from './plan';
import { describe, fuzz } from './run';

test('fuzz: every native binding has an argument spec', () => {
  assert.equal(uncovered(Object.keys(native)), []);
  assert.equal(uncovered([...Object.keys(native), 'brand_new_op']), ["'brand_new_op' (no spec)"]);
});

test('fuzz: 1000 adversarial calls (seed 2024) neither crash, hang nor pass invalid arguments', async () => {
  const r = await fuzz({ seed: 2024, iterations: 1000, batchSize: 1000 });
  assert.is(r.calls, 1000, describe(r));
  assert.is(r.failures.length, 0, describe(r));
  // Every binding was called (the Storage methods included).
  for (const k of [...Object.keys(native), 'Storage.read', 'Storage.write']) assert.ok(r.perOp[k] > 0, `no call of ${k}`);
});

test('fuzz: a call that kills the process or hangs is caught and reported with the call', async () => {
  const crash = await fuzz({ seed: 1, iterations: 1, batchSize: 1, selfTest: 'signal' });
  assert.is(crash.failures.length, 1);
  assert.is(crash.failures[0].kind, 'crash');
  assert.match(crash.failures[0].message, /signal SIGSEGV/);
  assert.ok(crash.failures[0].call, 'the call is reported');
  assert.match(describe(crash), /reproduce: npm run test:fuzz -- --seed 1 --batch 0/);
  const hang = await fuzz({ seed: 1, iterations: 1, batchSize: 1, selfTest: 'hang', timeoutMs: 500 });
  assert.equal(hang.failures.map((f) => f.kind), ['hang']);
});

test.run();
