import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AdamW, crossEntropy, scope, splitWeightDecay, tensor } from '../../lib/index';
import { native } from '../../lib/native';
import { assertNoLeak, assertThrows, DEVICE, fromHost } from '../helpers';
import { optimizerGoldens } from './harness';

const { golden, params, setGrads, expectStep, stepsMatchTorch, stateOutlivesScopes } = optimizerGoldens('AdamW', 'adamw');

test('AdamW: two parameter groups match torch.optim.AdamW for 3 steps', () => {
  const ps = params('groups', 2);
  stepsMatchTorch('groups', ps, new AdamW([{ params: [ps[0]], weightDecay: 0.05 }, { params: [ps[1]], weightDecay: 0 }], { lr: 0.01, betas: [0.8, 0.99], eps: 1e-6 }));
});

test('AdamW: the defaults (lr 1e-3, betas 0.9/0.999, eps 1e-8, weight decay 0.01) match torch', () => {
  const ps = params('defaults', 1);
  const opt = new AdamW(ps);
  assert.equal({ ...opt.paramGroups[0], params: [] }, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01, params: [] });
  stepsMatchTorch('defaults', ps, opt);
});

test('AdamW: splitWeightDecay puts weight decay on tensors of two or more dimensions only', () => {
  const ps = params('groups', 2); // (4, 3) and (3)
  const opt = new AdamW(splitWeightDecay(ps, 0.05), { lr: 0.01, betas: [0.8, 0.99], eps: 1e-6 });
  assert.is(opt.paramGroups[0].params[0], ps[0]);
  assert.is(opt.paramGroups[1].params[0], ps[1]);
  stepsMatchTorch('groups', ps, opt);
});

test('AdamW: stateDict round trip continues exactly (and like torch)', () => {
  const a = params('groups', 2);
  const optA = new AdamW([{ params: [a[0]], weightDecay: 0.05 }, { params: [a[1]], weightDecay: 0 }], { lr: 0.01, betas: [0.8, 0.99], eps: 1e-6 });
  for (let t = 0; t < 2; t++) {
    setGrads('groups', a, t);
    optA.step();
  }
  const sd = optA.stateDict();
  assert.equal(Object.keys(sd.state), ['0', '1']);
  assert.equal(Array.from(sd.state[0].step.data as Float32Array), [2]);
  assert.equal(sd.state[0].exp_avg.shape, [4, 3]);
  assert.equal(sd.paramGroups.map((g) => [g.params, g.weightDecay, g.betas]), [[[0], 0.05, [0.8, 0.99]], [[1], 0, [0.8, 0.99]]]);
  // a fresh optimizer with other hyperparameters over copies of the parameters
  const b = a.map((p) => tensor(p.toFloat32Array(), [...p.shape], { device: DEVICE }).requiresGrad_());
  const optB = new AdamW([{ params: [b[0]] }, { params: [b[1]] }], { lr: 0.5 });
  optB.loadStateDict(sd);
  assert.is(optB.paramGroups[0].lr, 0.01);
  assert.is(optB.paramGroups[0].weightDecay, 0.05);
  setGrads('groups', a, 2);
  setGrads('groups', b, 2);
  optA.step();
  optB.step();
  a.forEach((p, i) => assert.equal(b[i].toFloat32Array(), p.toFloat32Array(), `param ${i} after the resumed step`));
  expectStep('groups', b, 2);
  for (const o of [optA, optB]) o.dispose();
  [...a, ...b].forEach((p) => p.dispose());
});

test('AdamW: lr per group, params without grad are skipped, zeroGrad frees grads', () => {
  const ps = params('groups', 2);
  const opt = new AdamW([{ params: [ps[0]] }, { params: [ps[1]] }], { lr: 0.01 });
  const before = ps.map((p) => p.toFloat32Array());
  opt.paramGroups[0].lr = 0; // lr 0: no update and no decay
  setGrads('groups', ps, 0);
  opt.step();
  assert.equal(ps[0].toFloat32Array(), before[0]);
  assert.not.equal(ps[1].toFloat32Array(), before[1]);
  const g = ps[0].grad!;
  opt.zeroGrad();
  assert.ok(g.disposed);
  assert.is(ps[0].grad, null);
  const after = ps.map((p) => p.toFloat32Array());
  opt.step(); // no grads: nothing moves
  ps.forEach((p, i) => assert.equal(p.toFloat32Array(), after[i]));
  opt.lr = 0.002;
  assert.equal(opt.paramGroups.map((gr) => gr.lr), [0.002, 0.002]);
  opt.dispose();
  ps.forEach((p) => p.dispose());
});

test('AdamW: state only for params that took a step', () => {
  const ps = params('groups', 2);
  const opt = new AdamW(ps);
  ps[1].grad = fromHost(golden('groups.p1.grad0'));
  opt.step();
  assert.equal(Object.keys(opt.stateDict().state), ['1']);
  opt.dispose();
  ps.forEach((p) => p.dispose());
});

test('AdamW: a few steps of training lower a cross-entropy loss', () => {
  const x = tensor([0.1, -0.2, 0.3, 0.0, 0.2, -0.1, 0.4, 0.1, -0.3], [3, 3], { device: DEVICE }).requiresGrad_();
  const y = tensor(BigInt64Array.from([2n, 0n, 1n]), [3], { device: DEVICE });
  const opt = new AdamW([x], { lr: 0.1, weightDecay: 0 });
  const losses: number[] = [];
  for (let i = 0; i < 5; i++)
    scope(() => {
      opt.zeroGrad();
      const loss = crossEntropy(x, y);
      losses.push(loss.item());
      loss.backward();
      opt.step();
    });
  for (let i = 1; i < losses.length; i++) assert.ok(losses[i] < losses[i - 1], `loss ${losses.join(', ')}`);
  opt.dispose();
  x.dispose();
  y.dispose();
});

test('AdamW: rejects bad options, params, gradients and state with clear messages', () => {
  const [p, q] = params('groups', 2);
  assertThrows(() => new AdamW([p], { lr: -1 }), /AdamW: expected a number >= 0 for params.lr but received -1/);
  assertThrows(() => new AdamW([p], { betas: [1, 0.9] }), /AdamW: expected a number in \[0, 1\) for params.betas\[0\] but received 1/);
  assertThrows(() => new AdamW([p], { betas: [0.9] as never }), /AdamW: expected two numbers in \[0, 1\) for params.betas but received \[0.9\]/);
  assertThrows(() => new AdamW([{ params: [p], weightDecay: -0.1 }]), /AdamW: expected a number >= 0 for paramGroups\[0\].weightDecay but received -0.1/);
  assertThrows(() => new AdamW([{ params: [p], weight_decay: 0.1 } as never]), /AdamW: expected options among lr, betas, eps, weightDecay for paramGroups\[0\] but received 'weight_decay'/);
  assertThrows(() => new AdamW([{ params: [p] }, { params: [q, p] }]), /AdamW: expected each tensor in one group only for paramGroups\[1\].params\[1\] but received a tensor listed twice/);
  assertThrows(() => new AdamW([p], null as never), /AdamW: expected an object for options but received null/);
  assertThrows(() => new AdamW([]), /AdamW: expected a non-empty array of tensors or of parameter groups for params but received \[\]/);
  assertThrows(() => new AdamW([p, 3 as never]), /AdamW: expected a Tensor for params\[1\] but received 3/);
  assertThrows(() => new AdamW([p, { params: [q] } as never]), /AdamW: expected either tensors or parameter groups for params but received a mix of both/);
  const view = p.permute(1, 0).detach();
  assertThrows(() => new AdamW([view]), /AdamW: expected a dense tensor \(contiguous from element 0 of its storage\) for params\[0\] but received a strided view/);
  const opt = new AdamW([p, q]);
  q.grad = fromHost(golden('groups.p0.grad0')); // (4, 3) for a (3) parameter
  assertThrows(() => opt.step(), new RegExp(`AdamW: expected a float32 gradient of shape \\(3\\) on ${DEVICE} for params\\[1\\].grad but received a float32 one of shape \\(4, 3\\) on ${DEVICE}`));
  q.grad.dispose();
  q.grad = null;
  const good = new AdamW([p, q]);
  p.grad = fromHost(golden('groups.p0.grad0'));
  good.step();
  const sd = good.stateDict();
  assertThrows(() => opt.loadStateDict({ ...sd, paramGroups: [...sd.paramGroups, ...sd.paramGroups] }), /AdamW.loadStateDict: expected 1 parameter groups for stateDict.paramGroups but received 2/);
  const bad = { ...sd, state: { 0: { ...sd.state[0], exp_avg: { dtype: 'float32' as const, shape: [3], data: new Float32Array(3) } } } };
  assertThrows(() => opt.loadStateDict(bad), /AdamW.loadStateDict: expected a float32 host tensor of shape \(4, 3\) for stateDict.state\[0\].exp_avg but received a float32 one of shape \(3\)/);
  assertThrows(() => opt.loadStateDict({ ...sd, state: { 5: sd.state[0] } }), /AdamW.loadStateDict: expected parameter indices in \[0, 2\) for stateDict.state but received '5'/);
  good.dispose();
  assertThrows(() => good.step(), /AdamW: expected a live optimizer but received one that was disposed/);
  opt.dispose();
  for (const t of [p, q, view]) t.dispose();
});

test('AdamW: the native binding re-checks its arguments', () => {
  const s = (n: number) => new native.Storage(DEVICE, 'float32', n);
  const a = s(4), b = s(4), c = s(4), d = s(3);
  const cpuOther = DEVICE === 'cpu' ? null : new native.Storage('cpu', 'float32', 4);
  assertThrows(() => native.adamw_step({ params: [a], expAvgs: [b], expAvgSqs: [c], grads: [d], ns: [4], steps: [1], lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 }), /adamw_step: expected a storage of at least 4 elements for grads\[0\] but received one of 3/);
  assertThrows(() => native.adamw_step({ params: [a, d], expAvgs: [b, b], expAvgSqs: [c, c], grads: [a, a], ns: [4, 4], steps: [1, 1], lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 }), /adamw_step: expected a storage of at least 4 elements for params\[1\] but received one of 3/);
  assertThrows(() => native.adamw_step({ params: [a], expAvgs: [b], expAvgSqs: [c], grads: [a], ns: [4], steps: [0], lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 }), /adamw_step: expected step counts >= 1 for steps but received 0/);
  assertThrows(() => native.adamw_step({ params: [a], expAvgs: [b], expAvgSqs: [c], grads: [a], ns: [4], steps: [1, 2], lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 }), /adamw_step: expected 1 step counts for steps but received 2/);
  assertThrows(() => native.adamw_step({ params: [a], expAvgs: [b, c], expAvgSqs: [c], grads: [a], ns: [4], steps: [1], lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 }), /adamw_step: expected 1 storages for expAvgs but received 2/);
  assertThrows(() => native.adamw_step({ params: [a], expAvgs: [b], expAvgSqs: [c], grads: [a], ns: [4], steps: [1], lr: 0.1, beta1: 1, beta2: 0.999, eps: 1e-8, weightDecay: 0 }), /adamw_step: expected a number in \[0, 1\) for beta1/);
  assertThrows(() => native.adamw_step({ params: a as never, expAvgs: [b], expAvgSqs: [c], grads: [a], ns: [4], steps: [1], lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 }), /adamw_step: expected an array of Storages for params but received an object/);
  if (cpuOther) {
    assertThrows(() => native.adamw_step({ params: [a], expAvgs: [b], expAvgSqs: [cpuOther], grads: [a], ns: [4], steps: [1], lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 }), /adamw_step: expected a storage on cuda like the arguments before it for expAvgSqs\[0\] but received one on cpu/);
    cpuOther.dispose();
  }
  for (const u of [a, b, c, d]) u.dispose();
});

test('AdamW: no leaks; state survives the scopes it was created in', () => {
  stateOutlivesScopes('groups', 2, (ps) => new AdamW(ps, { lr: 0.01 }));
  assertNoLeak('AdamW inside a scope', () => {
    scope(() => {
      const ps = params('defaults', 1);
      const opt = new AdamW(ps);
      setGrads('defaults', ps, 0);
      opt.step();
      opt.dispose();
    });
  }, 3);
});

test.run();
