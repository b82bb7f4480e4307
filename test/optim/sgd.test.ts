import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SGD, tensor, type Tensor } from '../../lib/index';
import { native } from '../../lib/native';
import { assertClose, assertThrows, DEVICE } from '../helpers';
import { optimizerGoldens } from './harness';

const { golden, params, setGrads, stepsMatchTorch, stateOutlivesScopes } = optimizerGoldens('SGD', 'sgd');

// The configurations of gen_sgd.py.
const configs: [string, number, (ps: Tensor[]) => SGD][] = [
  ['plain', 2, (ps) => new SGD(ps, { lr: 0.1, weightDecay: 0.01 })],
  ['momentum', 2, (ps) => new SGD(ps, { lr: 0.1, momentum: 0.9, weightDecay: 0.01 })],
  ['nesterov', 2, (ps) => new SGD(ps, { lr: 0.1, momentum: 0.9, weightDecay: 0.01, nesterov: true })],
  ['dampening', 1, (ps) => new SGD(ps, { lr: 0.05, momentum: 0.5, dampening: 0.3 })],
  ['groups', 2, (ps) => new SGD([{ params: [ps[0]], weightDecay: 0.1 }, { params: [ps[1]] }], { lr: 0.1, momentum: 0.9 })],
];

for (const [name, count, make] of configs) {
  test(`SGD: ${name} matches torch.optim.SGD for 3 steps`, () => {
    const ps = params(name, count);
    stepsMatchTorch(name, ps, make(ps));
  });
}

test('SGD: stateDict round trip continues exactly (and like torch)', () => {
  const a = params('nesterov', 2);
  const optA = new SGD(a, { lr: 0.1, momentum: 0.9, weightDecay: 0.01, nesterov: true });
  for (let t = 0; t < 2; t++) {
    setGrads('nesterov', a, t);
    optA.step();
  }
  const sd = optA.stateDict();
  assert.equal(Object.keys(sd.state), ['0', '1']);
  assert.equal(sd.state[1].momentum_buffer.shape, [4]);
  const b = a.map((p) => tensor(p.toFloat32Array(), [...p.shape], { device: DEVICE }).requiresGrad_());
  const optB = new SGD(b, { lr: 1 });
  optB.loadStateDict(sd);
  const h = optB.paramGroups[0];
  assert.equal([h.lr, h.momentum, h.weightDecay, h.nesterov], [0.1, 0.9, 0.01, true]);
  setGrads('nesterov', a, 2);
  setGrads('nesterov', b, 2);
  optA.step();
  optB.step();
  a.forEach((p, i) => assert.equal(b[i].toFloat32Array(), p.toFloat32Array(), `param ${i} after the resumed step`));
  b.forEach((p, i) => assertClose(`SGD resumed p${i} vs torch`, p, golden(`nesterov.p${i}.step2`), { rtol: 1e-5 }));
  for (const o of [optA, optB]) o.dispose();
  [...a, ...b].forEach((p) => p.dispose());
});

test('SGD: plain SGD keeps no state; a momentum buffer starts at the first step', () => {
  const ps = params('plain', 2);
  const plain = new SGD(ps, { lr: 0.1 });
  setGrads('plain', ps, 0);
  plain.step();
  assert.equal(plain.stateDict().state, {});
  const withMomentum = new SGD([ps[0]], { lr: 0.1, momentum: 0.9 });
  withMomentum.step();
  assert.equal(Array.from(withMomentum.stateDict().state[0].momentum_buffer.data as Float32Array), Array.from(ps[0].grad!.toFloat32Array()));
  for (const o of [plain, withMomentum]) o.dispose();
  ps.forEach((p) => p.dispose());
});

test('SGD: rejects bad options with clear messages', () => {
  const [p] = params('plain', 1);
  assertThrows(() => new SGD([p], {} as never), /SGD: expected a number >= 0 for params.lr but received undefined/);
  assertThrows(() => new SGD([p], { lr: 0.1, momentum: -1 }), /SGD: expected a number >= 0 for params.momentum but received -1/);
  assertThrows(() => new SGD([p], { lr: 0.1, nesterov: true }), /SGD: expected momentum > 0 and dampening 0 with Nesterov momentum for params.nesterov but received momentum 0 and dampening 0/);
  assertThrows(() => new SGD([p], { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true }), /for params.nesterov but received momentum 0.9 and dampening 0.1/);
  assertThrows(() => new SGD([p], { lr: 0.1, nesterov: 1 as never }), /SGD: expected a boolean for params.nesterov but received 1/);
  assertThrows(() => new SGD([p], null as never), /SGD: expected an object with lr for options but received null/);
  const opt = new SGD([p], { lr: 0.1, momentum: 0.9 });
  opt.paramGroups[0].lr = Number.NaN;
  assertThrows(() => opt.step(), /SGD: expected a number >= 0 for params.lr but received NaN/);
  opt.paramGroups[0].lr = 0.1;
  assertThrows(() => opt.loadStateDict({ state: { 0: { momentum_buffer: { dtype: 'int64', shape: [3, 4], data: new BigInt64Array(12) } } }, paramGroups: opt.stateDict().paramGroups }), /SGD.loadStateDict: expected a float32 host tensor of shape \(3, 4\) for stateDict.state\[0\].momentum_buffer but received an int64 one of shape \(3, 4\)/);
  opt.dispose();
  p.dispose();
});

test('SGD: the native bindings re-check their arguments', () => {
  const s = (n: number) => new native.Storage(DEVICE, 'float32', n);
  const a = s(4), b = s(2);
  assertThrows(() => native.sgd_step([a], [b], [4], 0.1, 0), /sgd_step: expected a storage of at least 4 elements for grads\[0\] but received one of 2/);
  assertThrows(() => native.sgd_step([a, a], [a], [4, 4], 0.1, 0), /sgd_step: expected 2 storages for grads but received 1/);
  assertThrows(() => native.sgd_momentum_step({ params: [a], momentumBuffers: [b], grads: [a], ns: [4], firsts: [true], lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false }), /sgd_momentum_step: expected a storage of at least 4 elements for momentumBuffers\[0\] but received one of 2/);
  assertThrows(() => native.sgd_momentum_step({ params: [a], momentumBuffers: [a], grads: [a], ns: [4], firsts: [], lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false }), /sgd_momentum_step: expected 1 flags for firsts but received 0/);
  assertThrows(() => native.sgd_momentum_step({ params: [a], momentumBuffers: [a], grads: [a], ns: [4], firsts: [1 as never], lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false }), /sgd_momentum_step: expected an array of booleans for firsts but received an element that is a number/);
  assertThrows(() => native.sgd_momentum_step({ params: [a], momentumBuffers: [a], grads: [a], ns: [4], firsts: [true], lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: 'no' as never }), /sgd_momentum_step: expected a boolean for nesterov but received a string/);
  for (const u of [a, b]) u.dispose();
});

test('SGD: no leaks; momentum buffers survive the scopes they were created in', () => {
  stateOutlivesScopes('momentum', 2, (ps) => new SGD(ps, { lr: 0.1, momentum: 0.9 }));
});

test.run();
