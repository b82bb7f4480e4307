import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { correctCount, Rng, scope, tensor } from '../../lib/index';
import { assertNoLeak, assertThrows, DEVICE, fixture, fromHost } from '../helpers';

const golden = fixture('correct_count');

/** The count by the definition, in plain TypeScript (first maximum; NaN is the largest). */
function reference(z: Float32Array, labels: BigInt64Array, K: number): number {
  let count = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let k = 1; k < K; k++) {
      const v = z[i * K + k], b = z[i * K + best];
      if (v > b || (Number.isNaN(v) && !Number.isNaN(b))) best = k;
    }
    if (BigInt(best) === labels[i]) count++;
  }
  return count;
}

test('correctCount: matches PyTorch (argmax ties take the first, NaN is the largest)', () => {
  scope(() => {
    const n = correctCount(fromHost(golden('logits')), fromHost(golden('labels')));
    assert.equal(n.shape, []);
    assert.is(n.device, DEVICE);
    assert.is(n.item(), (golden('count').data as Float32Array)[0]);
  });
});

test('correctCount: random logits against the reference, a non-contiguous view too', () => {
  const rng = new Rng(11);
  for (const [N, K] of [[1, 1], [3, 10], [300, 13], [1000, 2]]) {
    const z = Float32Array.from({ length: N * K }, () => Math.round(rng.normal() * 4) / 4); // many ties
    const y = BigInt64Array.from({ length: N }, () => BigInt(rng.int(K)));
    scope(() => {
      const got = correctCount(tensor(z, [N, K], { device: DEVICE }), tensor(y, [N], { device: DEVICE })).item();
      assert.is(got, reference(z, y, K), `N ${N} K ${K}`);
    });
  }
  scope(() => {
    const zt = tensor(Float32Array.from({ length: 12 }, (_, i) => (i * 7) % 5), [4, 3], { device: DEVICE }).permute(1, 0);
    const y = BigInt64Array.of(0n, 1n, 3n);
    assert.is(correctCount(zt, tensor(y, [3], { device: DEVICE })).item(), reference(zt.toFloat32Array(), y, 4));
  });
});

test('correctCount: errors name the argument', () => {
  scope(() => {
    const z = tensor(new Float32Array(6), [2, 3], { device: DEVICE });
    assertThrows(() => correctCount(z, tensor([0, 1], [2], { device: DEVICE })), /^correctCount: expected an int64 tensor for labels but received a float32 tensor/);
    assertThrows(() => correctCount(z, tensor(BigInt64Array.of(0n, 1n, 2n), [3], { device: DEVICE, dtype: 'int64' })), /^correctCount: expected 2 labels, one per row of logits \(2, 3\) for labels but received shape \(3\)/);
    assertThrows(() => correctCount(z.reshape(6), z as never), /^correctCount: expected a 2-d tensor for logits but received shape \(6\)/);
  });
});

test('correctCount: no leaks', () => {
  const z = tensor(new Float32Array(6), [2, 3], { device: DEVICE });
  const y = tensor(BigInt64Array.of(0n, 1n), [2], { device: DEVICE, dtype: 'int64' });
  assertNoLeak('correctCount', () => scope(() => void correctCount(z, y).item()), 3);
  z.dispose();
  y.dispose();
});

test.run();
