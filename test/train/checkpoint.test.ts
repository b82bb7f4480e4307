import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AdamW, crossEntropy, randn, RepMLPNet, Rng, scope, splitWeightDecay, tensor, writeSafetensors } from '../../lib/index';
import { isCheckpoint, readCheckpoint, writeCheckpoint, type CheckpointMeta } from '../../lib/train/checkpoint';
import { assertThrows, liveStorages } from '../helpers';

const TINY = {
  inChannels: 1, numClasses: 4, patchSize: 2, numBlocks: [1], channels: [8], hs: [4], ws: [4], sharesetsNums: [2], reparamConvK: [1, 3],
};

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'repmlp-ckpt-'));

test('round trip: model, optimizer state and metadata; atomic (no temporary file left)', () => {
  const before = liveStorages();
  const model = new RepMLPNet(TINY, { seed: 3 });
  const opt = new AdamW(splitWeightDecay(model.parameters(), 0.05), { lr: 1e-3, weightDecay: 0.05 });
  scope(() => {
    const loss = crossEntropy(model.forward(randn([2, 1, 8, 8], new Rng(1))), tensor(BigInt64Array.of(0n, 3n)));
    loss.backward();
    opt.step();
    opt.zeroGrad();
  });
  const meta: CheckpointMeta = {
    epoch: 1, batch: 7, step: 19, loader: { seed: 5, epoch: 1, batch: 7, rng: [1, 2, 3, 4294967295] }, bestAccuracy: 0.5, lastAccuracy: 0.25,
    epochLoss: 12.5, epochCorrect: 30, epochSeen: 56, config: TINY, options: { lr: 1e-3, arch: 'custom' },
  };
  const file = path.join(tmp, 'last.safetensors');
  const sd = model.stateDict(), osd = opt.stateDict();
  writeCheckpoint(file, { model: sd, optimizer: osd, meta });
  assert.equal(fs.readdirSync(tmp), ['last.safetensors']);
  const ck = readCheckpoint(file);
  // the fields a checkpoint may lack read back as -1 (not evaluated)
  assert.equal(ck.meta, { ...meta, lastTop5: -1, bestEmaAccuracy: -1, lastEmaAccuracy: -1, lastEmaTop5: -1 });
  assert.is(ck.ema, null);
  assert.equal([...ck.model.keys()].sort(), [...sd.keys()].sort());
  for (const [k, v] of sd) assert.equal(Array.from(ck.model.get(k)!.data as ArrayLike<unknown>), Array.from(v.data as ArrayLike<unknown>), k);
  assert.equal(ck.optimizer.paramGroups, osd.paramGroups);
  assert.equal(Object.keys(ck.optimizer.state).sort(), Object.keys(osd.state).sort());
  for (const [i, entry] of Object.entries(osd.state))
    for (const [name, h] of Object.entries(entry)) assert.equal(Array.from(ck.optimizer.state[Number(i)][name].data as Float32Array), Array.from(h.data as Float32Array), `${i}.${name}`);
  // the state loads back into a fresh model and optimizer
  const model2 = new RepMLPNet(TINY, { seed: 9 });
  const opt2 = new AdamW(splitWeightDecay(model2.parameters(), 0.05), { lr: 1e-3, weightDecay: 0.05 });
  model2.loadStateDict(ck.model);
  opt2.loadStateDict(ck.optimizer as never);
  assert.equal(opt2.stateDict().paramGroups, osd.paramGroups);
  assert.ok(isCheckpoint(readCheckpoint(file).model.keys()) === false, 'model keys carry no prefix');
  for (const x of [model, model2]) x.dispose();
  for (const x of [opt, opt2]) x.dispose();
  assert.equal(liveStorages(), before);
});

test('the EMA under ema. keys and every metadata field round trip', () => {
  const model = new RepMLPNet(TINY, { seed: 3 });
  const sd = model.stateDict();
  const ema = new Map([...sd].map(([k, h]) => [k, h.dtype === 'float32' ? { ...h, data: (h.data as Float32Array).map((v) => v / 2) } : h]));
  const meta: CheckpointMeta = {
    epoch: 2, batch: 0, step: 40, loader: { seed: 0, epoch: 2, batch: 0, rng: [5, 6, 7, 8] }, bestAccuracy: 0.75, lastAccuracy: 0.5, lastTop5: 0.875,
    bestEmaAccuracy: 0.625, lastEmaAccuracy: 0.625, lastEmaTop5: 1, epochLoss: 0, epochCorrect: 0, epochSeen: 0, config: TINY, options: { ema: true },
  };
  const file = path.join(tmp, 'ema.safetensors');
  writeCheckpoint(file, { model: sd, ema, optimizer: { state: {}, paramGroups: [] }, meta });
  const ck = readCheckpoint(file);
  assert.equal(ck.meta, meta);
  assert.equal([...ck.ema!.keys()].sort(), [...sd.keys()].sort());
  for (const [k, v] of ema) assert.equal(Array.from(ck.ema!.get(k)!.data as ArrayLike<unknown>), Array.from(v.data as ArrayLike<unknown>), k);
  assert.equal([...ck.model.keys()].sort(), [...sd.keys()].sort(), 'the model keys are the model\'s only');
  model.dispose();
});

test('a plain state dict is not a training checkpoint', () => {
  const file = path.join(tmp, 'plain.safetensors');
  writeSafetensors(file, new Map([['w', { dtype: 'float32', shape: [1], data: Float32Array.of(1) }]]));
  assertThrows(() => readCheckpoint(file), /^checkpoint: expected a training checkpoint \(metadata format 'repmlp-train'\) in .* but received none/);
  assertThrows(() => readCheckpoint(path.join(tmp, 'missing.safetensors')), /^checkpoint: could not read/);
  assert.ok(isCheckpoint(['model.head.weight', 'optimizer.state.0.step']));
  assert.not.ok(isCheckpoint(['head.weight']));
});

test.run();
