// fc3LocalityMaps / fc3LocalitySummary: the fc3 row of one output point before and after
// Locality Injection, checked against the state dict, the block's own forward pass and the
// locality of the conv branches.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  blockLocalityMaps, fc3LocalityMaps, fc3LocalitySummary, kernelWindow, randn, randomizeBatchNorms, RepMLPBlock, RepMLPNet, Rng, scope, windowStats,
  type LocalityMaps, type RepMLPNetConfig,
} from '../../lib/index';
import type { HostTensor } from '../../lib/io/safetensors';
import { assertThrows, DEVICE } from '../helpers';

// Two stages, one partition per map: 8 x 8 with S = 2, then 4 x 4 with S = 4.
const CFG: RepMLPNetConfig = {
  inChannels: 1, numClasses: 3, patchSize: 2, numBlocks: [2, 1], channels: [4, 8], hs: [8, 4], ws: [8, 4],
  sharesetsNums: [2, 4], reparamConvK: [1, 3],
};

function model(cfg: RepMLPNetConfig = CFG, seed = 1): RepMLPNet {
  const rng = new Rng(seed);
  const m = new RepMLPNet(cfg, { rng, device: DEVICE });
  randomizeBatchNorms(m, rng, 0.3);
  return m.eval();
}

function f32(sd: Map<string, HostTensor>, k: string): Float32Array {
  const t = sd.get(k);
  if (!t) throw new Error(`no key ${k}`);
  return t.data as Float32Array;
}

// after - bnScale * before is exactly the conv branches' part: zero outside the K x K window
// around the output point, nonzero inside.
function assertLocal(m: LocalityMaps): void {
  const { h, w, window: win } = m;
  assert.ok(win, 'a window');
  let scale = 0;
  for (const v of m.after) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < h * w; i++) {
    const yy = Math.floor(i / w), xx = i % w;
    const d = Math.abs(m.after[i] - m.bnScale * m.before[i]);
    const inside = Math.abs(yy - m.y) <= m.K! >> 1 && Math.abs(xx - m.x) <= m.K! >> 1;
    assert.is(inside, yy >= win!.y0 && yy < win!.y1 && xx >= win!.x0 && xx < win!.x1, `window bounds at (${yy}, ${xx})`);
    if (inside) assert.ok(d > 1e-4 * scale, `conv part at (${yy}, ${xx}) of point (${m.y}, ${m.x}) is nonzero: ${d}`);
    else assert.ok(d <= 1e-6 * scale, `conv part at (${yy}, ${xx}) of point (${m.y}, ${m.x}) is zero: ${d}`);
  }
}

test('locality: the merged row differs from the fc3 row only in the K x K window (borders clipped)', () => {
  const m = model();
  const points: [number, number, number, number, number][] = [
    // stage, block, channel, y, x
    [0, 0, 0, 4, 4], [0, 0, 3, 0, 0], [0, 1, 1, 7, 3], [0, 1, 2, 5, 7], [1, 0, 6, 0, 3], [1, 0, 5, 2, 1],
  ];
  for (const [stage, block, channel, y, x] of points) {
    const maps = fc3LocalityMaps(m, { stage, block, channel, y, x });
    assert.equal([maps.stage, maps.block, maps.channel, maps.y, maps.x, maps.K], [stage, block, channel, y, x, 3]);
    assert.equal([maps.S, maps.h, maps.w, maps.shareSet], [CFG.sharesetsNums[stage], CFG.hs[stage], CFG.ws[stage], channel % CFG.sharesetsNums[stage]]);
    assertLocal(maps);
  }
  // the clipped corner window is 2 x 2, an inner one 3 x 3
  assert.equal(fc3LocalityMaps(m, { channel: 3, y: 0, x: 0 }).window, { k: 3, y0: 0, y1: 2, x0: 0, x1: 2 });
  assert.equal(fc3LocalityMaps(m).window, { k: 3, y0: 3, y1: 6, x0: 3, x1: 6 });
  m.dispose();
});

test('locality: a 5 x 5 branch on a 6 x 5 partition (h != w)', () => {
  const rng = new Rng(3);
  const b = new RepMLPBlock(6, { h: 6, w: 5, S: 3, reparamConvK: [1, 3, 5] }, { rng, device: DEVICE });
  randomizeBatchNorms(b, rng, 0.3);
  for (const [channel, y, x] of [[0, 2, 2], [4, 0, 4], [5, 5, 0], [2, 3, 1]]) {
    const maps = blockLocalityMaps(b, { channel, y, x });
    assert.is(maps.K, 5);
    assertLocal(maps);
  }
  b.dispose();
});

test('maps: the rows of the state dict, and the merged row computed on the host from it', () => {
  const m = model();
  const sd = m.stateDict();
  for (const [stage, block, channel, y, x] of [[0, 1, 3, 2, 6], [1, 0, 6, 3, 0]]) {
    const maps = fc3LocalityMaps(m, { stage, block, channel, y, x });
    const p = `stages.${stage}.${block}.repmlp_block`;
    const { S, h, w } = maps, hw = h * w, s = channel % S;
    assert.is(maps.row, s * hw + y * w + x);
    const fc3 = f32(sd, `${p}.fc3.weight`);
    assert.equal([...maps.before], [...fc3.slice(maps.row * hw, (maps.row + 1) * hw)], 'before is the fc3.weight row');
    // merged: fc3_bn folded into the row, plus each conv branch with its BN at its offsets
    const bnFold = (pre: string) => {
      const g = f32(sd, `${pre}.weight`)[s], v = f32(sd, `${pre}.running_var`)[s];
      const mu = f32(sd, `${pre}.running_mean`)[s], beta = f32(sd, `${pre}.bias`)[s];
      const t = g / Math.sqrt(v + 1e-5);
      return { t, bias: beta - mu * t };
    };
    const f = bnFold(`${p}.fc3_bn`);
    const expected = Array.from(maps.before, (v) => v * f.t);
    let bias = f.bias;
    for (const k of CFG.reparamConvK) {
      const kb = bnFold(`${p}.repconv${k}.bn`);
      const kw = f32(sd, `${p}.repconv${k}.conv.weight`);
      const r = k >> 1;
      for (let dy = -r; dy <= r; dy++)
        for (let dx = -r; dx <= r; dx++) {
          const yy = y + dy, xx = x + dx;
          if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
          expected[yy * w + xx] += kw[s * k * k + (dy + r) * k + (dx + r)] * kb.t;
        }
      bias += kb.bias;
    }
    let maxErr = 0;
    expected.forEach((e, i) => (maxErr = Math.max(maxErr, Math.abs(e - maps.after[i]))));
    assert.ok(maxErr < 1e-5, `merged row vs host computation: max |diff| ${maxErr}`);
    assert.ok(Math.abs(bias - maps.afterBias) < 1e-5, `merged bias ${maps.afterBias} vs ${bias}`);
    assert.ok(Math.abs(maps.bnScale - f.t) < 1e-6 * f.t, 'bnScale');
  }
  m.dispose();
});

test('maps: channel c uses share-set c mod S: the training-form forward equals gate * (after . x_c + bias)', () => {
  const rng = new Rng(5);
  const b = new RepMLPBlock(6, { h: 6, w: 5, S: 3, reparamConvK: [1, 3] }, { rng, device: DEVICE });
  randomizeBatchNorms(b, rng, 0.3);
  b.eval();
  const { out, gate, xs } = scope(() => {
    const x = randn([1, 6, 6, 5], rng, { device: DEVICE });
    return { out: b.forward(x).toFloat32Array(), gate: b.gp.forward(x).toFloat32Array(), xs: x.toFloat32Array() };
  });
  for (const [c, y, x] of [[0, 0, 0], [1, 3, 2], [4, 5, 4], [5, 2, 0]]) {
    const maps = blockLocalityMaps(b, { channel: c, y, x });
    let dot = maps.afterBias;
    for (let i = 0; i < 30; i++) dot += maps.after[i] * xs[c * 30 + i];
    const got = out[c * 30 + y * 5 + x];
    assert.ok(Math.abs(gate[c] * dot - got) < 1e-5 * Math.max(1, Math.abs(got)), `channel ${c} point (${y}, ${x}): ${gate[c] * dot} vs forward ${got}`);
  }
  b.dispose();
});

test('maps: the model is left unchanged (training form, same state)', () => {
  const m = model();
  const before = m.stateDict();
  fc3LocalityMaps(m, { stage: 1, channel: 2 });
  fc3LocalitySummary(m, { stage: 0, block: 1 });
  assert.not.ok(m.deploy);
  const after = m.stateDict();
  assert.equal([...after.keys()], [...before.keys()]);
  for (const [k, v] of before) assert.equal([...after.get(k)!.data], [...v.data], k);
  m.dispose();
});

test('no conv branches: no window, and the merged row is the fc3 row scaled by fc3_bn', () => {
  const m = model({ ...CFG, reparamConvK: [] });
  const maps = fc3LocalityMaps(m, { channel: 1, y: 2, x: 5 });
  assert.is(maps.K, null);
  assert.is(maps.window, null);
  maps.before.forEach((v, i) => assert.ok(Math.abs(maps.after[i] - maps.bnScale * v) <= 1e-6 * Math.abs(maps.after[i]) + 1e-9, `point ${i}`));
  assertThrows(() => fc3LocalitySummary(m), /^fc3LocalitySummary: expected a window size \(the block has no conv branch to take it from\) for window but received none$/);
  assert.is(fc3LocalitySummary(m, { window: 3 }).k, 3);
  m.dispose();
});

test('summary: pooled over every output point, the same sums as the per-point maps', () => {
  const m = model();
  const sum = fc3LocalitySummary(m, { stage: 1 });
  assert.equal([sum.stage, sum.block, sum.S, sum.h, sum.w, sum.k, sum.rows], [1, 0, 4, 4, 4, 3, 64]);
  const acc = { before: [0, 0, 0, 0], after: [0, 0, 0, 0] };
  for (let c = 0; c < 4; c++) // channels 0..3 cover the 4 share-sets
    for (let y = 0; y < 4; y++)
      for (let x = 0; x < 4; x++) {
        const maps = fc3LocalityMaps(m, { stage: 1, channel: c, y, x });
        const nIn = (maps.window!.y1 - maps.window!.y0) * (maps.window!.x1 - maps.window!.x0);
        for (const name of ['before', 'after'] as const) {
          const st = windowStats(maps[name], 4, maps.window!);
          acc[name][0] += st.meanInside * nIn;
          acc[name][1] += nIn;
          acc[name][2] += st.meanOutside * (16 - nIn);
          acc[name][3] += 16 - nIn;
        }
      }
  for (const name of ['before', 'after'] as const) {
    const [si, ni, so, no] = acc[name];
    assert.ok(Math.abs(sum[name].meanInside - si / ni) < 1e-6 * (si / ni), `${name} inside`);
    assert.ok(Math.abs(sum[name].meanOutside - so / no) < 1e-6 * (so / no), `${name} outside`);
  }
  // with random conv branches the merged FC is clearly more local than fc3 alone
  assert.ok(sum.after.ratio > sum.before.ratio, `after ${sum.after.ratio} vs before ${sum.before.ratio}`);
  m.dispose();
});

test('windows and window statistics', () => {
  assert.equal(kernelWindow(5, 7, 2, 3, 3), { k: 3, y0: 1, y1: 4, x0: 2, x1: 5 });
  assert.equal(kernelWindow(5, 7, 4, 6, 5), { k: 5, y0: 2, y1: 5, x0: 4, x1: 7 });
  assert.equal(kernelWindow(5, 7, 0, 0, 1), { k: 1, y0: 0, y1: 1, x0: 0, x1: 1 });
  // a 3 x 3 map: the center 1 x 1 window holds -4, the rest +-1
  const st = windowStats([1, -1, 1, -1, -4, 1, 1, -1, 1], 3, kernelWindow(3, 3, 1, 1, 1));
  assert.equal(st, { meanInside: 4, meanOutside: 1, ratio: 4 });
});

test('errors: deploy form, out-of-range indices, wrong arguments', () => {
  const m = model();
  assertThrows(() => fc3LocalityMaps(m, { stage: 2 }), /^fc3LocalityMaps: expected a stage index in \[0, 1\] for stage but received 2$/);
  assertThrows(() => fc3LocalityMaps(m, { stage: 1, block: 1 }), /^fc3LocalityMaps: expected a block index of stage 1 in \[0, 0\] for block but received 1$/);
  assertThrows(() => fc3LocalityMaps(m, { channel: 4 }), /^fc3LocalityMaps: expected a channel of stages\.0\.0\.repmlp_block in \[0, 3\] for channel but received 4$/);
  assertThrows(() => fc3LocalityMaps(m, { y: -1 }), /^fc3LocalityMaps: expected a row of the 8 x 8 partition in \[0, 7\] for y but received -1$/);
  assertThrows(() => fc3LocalityMaps(m, { stage: 1, x: 4 }), /^fc3LocalityMaps: expected a column of the 4 x 4 partition in \[0, 3\] for x but received 4$/);
  assertThrows(() => fc3LocalityMaps(m, { channel: 1.5 }), /for channel but received 1\.5$/);
  assertThrows(() => fc3LocalitySummary(m, { window: 2 }), /^fc3LocalitySummary: expected an odd window size for window but received 2$/);
  assertThrows(() => blockLocalityMaps({} as RepMLPBlock), /^fc3LocalityMaps: expected a RepMLPBlock for block but received Object$/);
  assertThrows(() => fc3LocalityMaps({} as RepMLPNet), /^fc3LocalityMaps: expected a RepMLPNet for model but received Object$/);
  m.localityInjection();
  assertThrows(() => fc3LocalityMaps(m, { block: 1 }), /^fc3LocalityMaps: expected a training-form block \(fc3 with fc3_bn and the conv branches\) for stages\.0\.1\.repmlp_block but received a deploy-form one \(Locality Injection has already merged them, so there is no "before"\)$/);
  assertThrows(() => fc3LocalitySummary(m), /^fc3LocalitySummary: expected a training-form block .* for stages\.0\.0\.repmlp_block but received a deploy-form one/);
  m.dispose();
});

test.run();
