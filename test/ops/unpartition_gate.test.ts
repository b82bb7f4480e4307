import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { add, mul, scope, tensor, unpartition, unpartitionGate, Rng, type Tensor } from '../../lib/index';
import { native } from '../../lib/native';
import { assertClose, assertThrows, DEVICE, fixture, gradcheck, randomInput } from '../helpers';
import { assertMatchesTorch, assertNoLeakInScope } from './harness';

const golden = fixture('unpartition_gate');

test('unpartitionGate: forward and backward match PyTorch, with and without partitions', () => {
  for (const [c, H, W, residual] of [['parts', 4, 6, true], ['whole', 5, 5, false]] as const)
    assertMatchesTorch({ golden, prefix: c, name: `unpartitionGate ${c}`, out: 'out', grads: { y: 'dy', gate: 'dgate', ...(residual ? { r: ['dr', 'dresidual'] } : {}) } },
      ({ y, gate, r }) => unpartitionGate(y, gate, H, W, { residual: r ?? null }));
});

// out[n, c, hp*h + a, wp*w + b] = y[(n*Hp + hp)*Wp + wp, c, a, b] * gate[n, c] (+ r)
function reference(N: number, C: number, H: number, W: number, h: number, w: number) {
  const Hp = H / h, Wp = W / w;
  return ([y, gate, r]: Float64Array[]) => {
    const out = new Float64Array(N * C * H * W);
    for (let n = 0; n < N; n++)
      for (let c = 0; c < C; c++)
        for (let i = 0; i < H; i++)
          for (let j = 0; j < W; j++) {
            const [hp, a, wp, b] = [Math.floor(i / h), i % h, Math.floor(j / w), j % w];
            const o = ((n * C + c) * H + i) * W + j;
            out[o] = y[((((n * Hp + hp) * Wp + wp) * C + c) * h + a) * w + b] * gate[n * C + c] + (r ? r[o] : 0);
          }
    return out;
  };
}

test('unpartitionGate: float64 reference and finite differences', () => {
  const rng = new Rng(21);
  for (const [N, C, H, W, h, w, residual] of [[2, 3, 4, 6, 2, 3, true], [2, 2, 3, 4, 3, 4, false], [1, 2, 6, 2, 2, 1, true]] as const) {
    const B = N * (H / h) * (W / w);
    gradcheck({
      name: 'unpartitionGate',
      rng,
      inputs: [randomInput([B, C, h, w], rng), randomInput([N, C, 1, 1], rng), ...(residual ? [randomInput([N, C, H, W], rng)] : [])],
      op: ([y, g, r]) => unpartitionGate(y, g, H, W, { residual: r }),
      ref: reference(N, C, H, W, h, w),
    });
  }
});

test('unpartitionGate: agrees with unpartition, mul and add', () => {
  const rng = new Rng(22);
  const [N, C, H, W, h, w] = [3, 5, 8, 12, 4, 3];
  const host = (shape: number[]) => ({ shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => rng.normal()) });
  const inputs = [host([N * 2 * 4, C, h, w]), host([N, C, 1, 1]), host([N, C, H, W]), host([N, C, H, W])];
  const run = (fused: boolean) =>
    scope(() => {
      const [y, gate, r, g] = inputs.map((i) => tensor(i.data, i.shape, { device: DEVICE }).requiresGrad_());
      const out = fused ? unpartitionGate(y, gate, H, W, { residual: r }) : add(mul(unpartition(y, H, W), gate), r);
      out.backward(g.detach());
      return [out, y.grad!, gate.grad!, r.grad!].map((t) => t.toFloat32Array());
    });
  const [fused, separate] = [run(true), run(false)];
  // Not bit for bit: a compiler may contract y * gate + r into one fused multiply-add.
  ['out', 'dy', 'dgate', 'dresidual'].forEach((what, i) => assertClose(`fused vs separate ${what}`, fused[i], separate[i]));
});

test('unpartitionGate: only the inputs that need a gradient get one', () => {
  scope(() => {
    const rng = new Rng(23);
    const y = tensor(Float32Array.from({ length: 24 }, () => rng.normal()), [4, 3, 1, 2], { device: DEVICE }).requiresGrad_();
    const gate = tensor(new Float32Array(3).fill(0.5), [1, 3, 1, 1], { device: DEVICE });
    const r = tensor(new Float32Array(24), [1, 3, 2, 4], { device: DEVICE });
    unpartitionGate(y, gate, 2, 4, { residual: r }).backward(tensor(new Float32Array(24).fill(1), [1, 3, 2, 4], { device: DEVICE }));
    assert.equal(Array.from(y.grad!.toFloat32Array()), new Array(24).fill(0.5));
    assert.is(gate.grad, null);
    assert.is(r.grad, null);
  });
});

test('unpartitionGate: rejects bad input with a clear message', () => {
  scope(() => {
    const t = (shape: number[]) => tensor(new Float32Array(shape.reduce((a, b) => a * b)), shape, { device: DEVICE });
    const y = t([4, 3, 2, 2]), gate = t([1, 3, 1, 1]);
    assertThrows(() => unpartitionGate(t([4, 3, 2]), gate, 4, 4), /unpartitionGate: expected a 4-d tensor for y but received shape \(4, 3, 2\)/);
    assertThrows(() => unpartitionGate(y, gate, 4, 5), /unpartitionGate: expected partitions of a 4 x 5 map for y but received shape \(4, 3, 2, 2\)/);
    assertThrows(() => unpartitionGate(y, t([1, 4, 1, 1]), 4, 4), /unpartitionGate: expected shape \(1, 3, 1, 1\) for gate but received shape \(1, 4, 1, 1\)/);
    assertThrows(() => unpartitionGate(y, gate, 4, 4, { residual: t([1, 3, 4, 5]) }), /unpartitionGate: expected shape \(1, 3, 4, 4\) for options.residual/);
    assertThrows(() => unpartitionGate(y, gate, 4.5, 4), /unpartitionGate: expected an integer >= 1 for H but received 4.5/);
    assertThrows(() => unpartitionGate(y, gate, 4, 4, null as never), /unpartitionGate: expected an object for options but received null/);
    const out = t([1, 3, 4, 4]);
    assertThrows(
      () => native.unpartition_gate_forward({ out: out.storage, y: y.storage, gate: gate.storage, residual: null, N: 1, C: 3, Hp: 2, h: 2, Wp: 2, w: 3 }),
      /unpartition_gate_forward: expected a storage of at least 72 elements for out but received/,
    );
    assertThrows(
      () => native.unpartition_gate_backward({ dy: y.storage, dgate: t([2]).storage, dout: out.storage, y: y.storage, gate: gate.storage, N: 1, C: 3, Hp: 2, h: 2, Wp: 2, w: 2 }),
      /unpartition_gate_backward: expected a storage of at least 3 elements for dgate but received/,
    );
    assertThrows(
      () => native.unpartition_gate_forward({ out: y.storage, y: y.storage, gate: gate.storage, residual: null, N: 1, C: 3, Hp: 2, h: 2, Wp: 2, w: 2 }),
      /unpartition_gate_forward: expected a storage distinct from y for out but received the same storage/,
    );
    assertThrows(
      () => native.unpartition_gate_backward({ dy: out.storage, dgate: gate.storage, dout: out.storage, y: y.storage, gate: gate.storage, N: 1, C: 3, Hp: 2, h: 2, Wp: 2, w: 2 }),
      /unpartition_gate_backward: expected a storage distinct from dout for dy but received the same storage/,
    );
  });
});

test('unpartitionGate: no leaks in a scope', () => {
  assertNoLeakInScope('unpartitionGate', () => {
    const ones = (shape: number[]) => tensor(new Float32Array(shape.reduce((a, b) => a * b)).fill(1), shape, { device: DEVICE }).requiresGrad_();
    const out: Tensor = unpartitionGate(ones([4, 2, 2, 2]), ones([1, 2, 1, 1]), 4, 4, { residual: ones([1, 2, 4, 4]) });
    out.backward(ones([1, 2, 4, 4]).detach());
  }, 10);
});

test.run();
