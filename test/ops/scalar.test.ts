import { test } from 'uvu';
import { addScalar, mulScalar, scope, tensor, Rng } from '../../lib/index';
import { assertClose, assertNoLeak, assertThrows, DEVICE, fixture, fromHost, gradcheck, randomInput } from '../helpers';

const golden = fixture('reduce');

test('mulScalar / addScalar: forward and backward match PyTorch', () => {
  for (const [name, fn] of [['mul', (x: never) => mulScalar(x, 2.5)], ['add', (x: never) => addScalar(x, -1.25)]] as const) {
    const x = fromHost(golden('scalar.x'), true);
    const y = fn(x as never);
    assertClose(`${name}Scalar forward vs torch`, y, golden(`scalar.${name}.out`));
    y.backward(fromHost(golden(`scalar.${name}.w`)));
    assertClose(`${name}Scalar dx vs torch`, x.grad!, golden(`scalar.${name}.dx`));
    x.dispose();
    y.dispose();
  }
});

test('mulScalar / addScalar: float64 reference and finite differences', () => {
  const rng = new Rng(9);
  gradcheck({ name: 'mulScalar', rng, inputs: [randomInput([3, 5], rng)], op: ([x]) => mulScalar(x, -0.75), ref: ([x]) => x.map((v) => -0.75 * v) });
  gradcheck({ name: 'addScalar', rng, inputs: [randomInput([3, 5], rng)], op: ([x]) => addScalar(x.permute(1, 0), 3), ref: ([x]) => Float64Array.from({ length: 15 }, (_, i) => x[(i % 3) * 5 + Math.floor(i / 3)] + 3) });
});

test('mulScalar / addScalar: reject bad input with a clear message', () => {
  const x = tensor([1, 2]);
  assertThrows(() => mulScalar(x, 'a' as never), /mulScalar: expected a number for s but received 'a'/);
  assertThrows(() => addScalar(x, NaN), /addScalar: expected a number for s but received NaN/);
  assertThrows(() => addScalar({} as never, 1), /addScalar: expected a Tensor for x but received Object/);
  x.dispose();
});

test('mulScalar / addScalar: no leaks in a scope', () => {
  assertNoLeak('scalar ops', () => {
    scope(() => {
      const x = tensor([1, -1, 2], [3], { device: DEVICE }).requiresGrad_();
      addScalar(mulScalar(x, 3), 1).backward(tensor([1, 1, 1], [3], { device: DEVICE }));
    });
  }, 10);
});

test.run();
