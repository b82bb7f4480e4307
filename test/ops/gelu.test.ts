import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gelu, scope, tensor, Rng } from '../../lib/index';
import { native } from '../../lib/native';
import { assertNaNPropagates } from './harness';
import { assertClose, assertNoLeak, assertThrows, DEVICE, fixture, fromHost, gradcheck, randomInput } from '../helpers';
import { erf, erfc, geluRef } from './elementwise-ref';

const golden = fixture('gelu');

test('gelu: the float64 reference erf is accurate to 1e-14 (erfc: relative from 2.5 on)', () => {
  // Values from CPython's math.erf / math.erfc.
  const erfs: [number, number][] = [[0.1, 0.1124629160182849], [0.5, 0.5204998778130465], [1, 0.8427007929497149], [2, 0.9953222650189527], [3, 0.9999779095030014], [-2, -0.9953222650189527]];
  for (const [z, v] of erfs) assert.ok(Math.abs(erf(z) - v) < 1e-14, `erf(${z}) = ${erf(z)}, expected ${v}`);
  const erfcs: [number, number][] = [[0.5, 0.4795001221869535], [2, 0.004677734981047265], [3, 2.2090496998585438e-5], [4.5, 1.9661604415428873e-10], [6, 2.1519736712498916e-17], [-2, 1.9953222650189528]];
  for (const [z, v] of erfcs) assert.ok(Math.abs(erfc(z) - v) <= 1e-14 * (z < 2.5 ? 1 : Math.abs(v)), `erfc(${z}) = ${erfc(z)}, expected ${v}`);
});

test('gelu: forward and backward match PyTorch', () => {
  const x = fromHost(golden('gelu.x'), true);
  const y = gelu(x);
  assertClose('gelu forward vs torch', y, golden('gelu.y'));
  y.backward(fromHost(golden('gelu.w')));
  assertClose('gelu dx vs torch', x.grad!, golden('gelu.dx'));
  x.dispose();
  y.dispose();
});

test('gelu: float64 reference and finite differences', () => {
  const rng = new Rng(5);
  gradcheck({
    name: 'gelu',
    rng,
    inputs: [randomInput([4, 9], rng, 2.5)],
    op: ([x]) => gelu(x),
    ref: ([x]) => x.map(geluRef),
  });
});

test('gelu: tails and a non-contiguous input', () => {
  const vals = [-12, -6, -3, -1e-3, 0, 1e-3, 3, 6, 12];
  const x = tensor(vals, [3, 3], { device: DEVICE });
  const y = gelu(x.permute(1, 0));
  const t = [0, 3, 6, 1, 4, 7, 2, 5, 8].map((i) => geluRef(vals[i]));
  // gelu(-6) ~ -6e-9: compare each value with its own scale
  const got = y.toFloat32Array();
  t.forEach((e, i) => assert.ok(Math.abs(got[i] - e) <= 2e-6 * Math.abs(e) + 1e-30, `gelu(${vals[[0, 3, 6, 1, 4, 7, 2, 5, 8][i]]}) = ${got[i]}, expected ${e}`));
  x.dispose();
  y.dispose();
});

test('gelu: huge inputs give x or 0 and a gradient of 1 or 0, not NaN (as PyTorch)', () => {
  scope(() => {
    const x = tensor([1e20, -1e20, 3e38, -3e38, 20, -20], [6], { device: DEVICE }).requiresGrad_();
    const y = gelu(x);
    y.backward(tensor(new Float32Array(6).fill(1), [6], { device: DEVICE }));
    assert.equal(Array.from(y.toFloat32Array()), [Math.fround(1e20), 0, Math.fround(3e38), 0, 20, 0]);
    assert.equal(Array.from(x.grad!.toFloat32Array()), [1, 0, 1, 0, 1, 0]);
  });
});

test('gelu: NaN propagates (as PyTorch): gelu(NaN) and its gradient are NaN', () => assertNaNPropagates(gelu));

test('gelu: rejects bad input with a clear message', () => {
  assertThrows(() => gelu(tensor(BigInt64Array.from([1n]))), /gelu: expected a float32 tensor for x but received an int64 tensor/);
  assertThrows(() => gelu(undefined as never), /gelu: expected a Tensor for x but received undefined/);
  const x = tensor([1]);
  x.dispose();
  assertThrows(() => gelu(x), /gelu: expected a live tensor for x but received a disposed one/);
  const s = tensor([1, 2, 3]);
  assertThrows(() => native.gelu_forward(s.storage, s.storage, 4), /gelu_forward: expected a storage of at least 4 elements for out but received one of 3/);
  assertThrows(() => native.gelu_backward(s.storage, s.storage, s.storage, -1), /gelu_backward: expected a non-negative integer below 2\^53 for n but received -1/);
  s.dispose();
});

test('gelu: no leaks in a scope', () => {
  assertNoLeak('gelu', () => {
    scope(() => {
      const x = tensor([1, -1, 2, 0.5], [2, 2], { device: DEVICE }).requiresGrad_();
      gelu(x.permute(1, 0)).backward(tensor([1, 1, 1, 1], [2, 2], { device: DEVICE }));
    });
  }, 10);
});

test.run();
