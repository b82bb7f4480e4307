import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  add, AdamW, batchNorm2d, conv1x1, conv2d, crossEntropy, gelu, globalAvgPool, linear, mul,
  partition, randn, relu, reshape, Rng, scope, setSharingFc, sigmoid, tensor, unpartition, zeros, ones, Tensor,
} from '../../lib/index';
import { DEVICE, liveStorages } from '../helpers';

// A miniature RepMLP unit written with the raw ops: patch embedding + BN + ReLU, a RepMLP
// block (global perceptron gate, partitioned set-sharing FC with its share-set BN, and a
// depthwise 3x3 branch with BN), a GELU FFN, pooling and a linear head; trained with AdamW.
const rng = new Rng(11);
const d = { device: DEVICE };
const C = 8, S = 2, h = 2, w = 2;
const p = (shape: number[], std = 0.2) => randn(shape, rng, { ...d, std }).requiresGrad_();
const params = {
  embed: p([C, 1, 2, 2], 0.5), bn0w: ones([C], d).requiresGrad_(), bn0b: zeros([C], d).requiresGrad_(),
  gp1: p([C / 2, C, 1, 1]), gp1b: zeros([C / 2], d).requiresGrad_(), gp2: p([C, C / 2, 1, 1]), gp2b: zeros([C], d).requiresGrad_(),
  fc3: p([S * h * w, h * w, 1, 1], 0.3), fc3bnw: ones([S], d).requiresGrad_(), fc3bnb: zeros([S], d).requiresGrad_(),
  dw: p([S, 1, 3, 3], 0.3), dwbnw: ones([S], d).requiresGrad_(), dwbnb: zeros([S], d).requiresGrad_(),
  ffn1: p([4 * C, C, 1, 1]), ffn2: p([C, 4 * C, 1, 1]),
  head: p([3, C]), headb: zeros([3], d).requiresGrad_(),
};
const stats = (c: number) => ({ m: zeros([c], d), v: ones([c], d), n: tensor(BigInt64Array.from([0n]), [1], d) });
const st = { bn0: stats(C), fc3: stats(S), dw: stats(S) };
const bn = (x: Tensor, wt: Tensor, b: Tensor, s: { m: Tensor; v: Tensor; n: Tensor }) =>
  batchNorm2d(x, wt, b, s.m, s.v, s.n, { training: true });

function forward(x: Tensor): Tensor {
  const e = relu(bn(conv2d(x, params.embed, null, { stride: 2 }), params.bn0w, params.bn0b, st.bn0)); // (N, C, 4, 4)
  const gate = sigmoid(conv1x1(relu(conv1x1(globalAvgPool(e), params.gp1, params.gp1b)), params.gp2, params.gp2b)); // (N, C, 1, 1)
  const parts = partition(e, h, w); // (N*4, C, h, w)
  const fc = reshape(bn(reshape(setSharingFc(parts, params.fc3, S, h, w), [-1, S, h, w]), params.fc3bnw, params.fc3bnb, st.fc3), [-1, C, h, w]);
  const local = bn(conv2d(reshape(parts, [-1, S, h, w]), params.dw, null, { padding: 1, groups: S }), params.dwbnw, params.dwbnb, st.dw);
  const block = mul(unpartition(add(fc, reshape(local, [-1, C, h, w])), 4, 4), gate);
  const y = add(e, block);
  const z = add(y, conv1x1(gelu(conv1x1(y, params.ffn1, null)), params.ffn2, null));
  return linear(reshape(globalAvgPool(z), [-1, C]), params.head, params.headb);
}

test('leak: 100 training steps (forward, backward, AdamW) in a scope leave no buffer behind', () => {
  const x = randn([6, 1, 8, 8], rng, d);
  const labels = tensor(BigInt64Array.from([0n, 1n, 2n, 0n, 1n, 2n]), [6], d);
  const opt = new AdamW(Object.values(params), { lr: 0.01 });
  const step = () =>
    scope(() => {
      opt.zeroGrad();
      const loss = crossEntropy(forward(x), labels, { labelSmoothing: 0.1 });
      loss.backward();
      opt.step();
      return loss.item();
    });
  const first = step(); // creates the optimizer state and the gradients
  const before = liveStorages();
  let last = first;
  for (let i = 0; i < 100; i++) last = step();
  assert.equal(liveStorages(), before);
  assert.ok(last < first * 0.5, `loss should fall on a fixed batch: ${first} -> ${last}`);
  opt.dispose();
  for (const t of [x, labels, ...Object.values(params), ...Object.values(st).flatMap((s) => [s.m, s.v, s.n])]) t.dispose();
});

test.run();
