// Run by `npm run test:gpu` only (after the whole suite on CUDA): 200 training steps of the
// `small` model on the shipped Fashion-MNIST sample, whose loss must fall, with device
// memory back where it started afterwards; and recovery from running out of device memory.
// REPMLP_TEST_DEVICE=cpu runs the same file on the CPU (about a minute on 2 cores).
// REPMLP_SMOKE_STEPS shortens the run where steps are slow (the CUDA emulator: 40 steps);
// the loss is compared over the first and last quarter of the steps, 20 at most.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  AdamW, batchToTensors, crossEntropy, DataLoader, empty, fashionMnistSampleDir, full, loadFashionMnist,
  memoryStats, preset, RepMLPNet, scope, splitWeightDecay, sum,
} from '../../lib/index';
import { DEVICE, liveStorages } from '../helpers';

const STEPS = Number(process.env.REPMLP_SMOKE_STEPS ?? 200);
if (!(Number.isInteger(STEPS) && STEPS >= 8)) throw new Error(`REPMLP_SMOKE_STEPS: expected an integer >= 8 but received ${process.env.REPMLP_SMOKE_STEPS}`);
const WINDOW = Math.min(20, Math.floor(STEPS / 4));

function deviceStats() {
  const s = memoryStats();
  return DEVICE === 'cuda' ? s.cuda! : s.cpu;
}

test(`${STEPS} training steps of small on Fashion-MNIST: the loss falls, nothing leaks`, async () => {
  const before = liveStorages();
  const allocatedBefore = deviceStats().allocatedBytes;
  const data = loadFashionMnist({ dir: fashionMnistSampleDir() });
  const loader = new DataLoader(data.train, { batchSize: 64, seed: 0, padTo: 32, mean: [0.286], std: [0.353], prefetch: false });
  const model = new RepMLPNet(preset('small', { inChannels: 1, numClasses: 10 }), { seed: 0, device: DEVICE });
  const opt = new AdamW(splitWeightDecay(model.parameters(), 0.05), { lr: 2e-3 });
  const losses: number[] = [];
  const t0 = performance.now();
  for (let step = 0; step < STEPS; step++) {
    const batch = await loader.next();
    const loss = scope(() => {
      const { x, y } = batchToTensors(batch, DEVICE);
      opt.zeroGrad();
      const l = crossEntropy(model.forward(x), y, { labelSmoothing: 0.1 });
      l.backward();
      opt.step();
      return l.item();
    });
    assert.ok(Number.isFinite(loss), `step ${step}: loss ${loss}`);
    losses.push(loss);
  }
  const seconds = (performance.now() - t0) / 1000;
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const first = avg(losses.slice(0, WINDOW)), last = avg(losses.slice(-WINDOW));
  const peak = deviceStats().peakAllocatedBytes;
  console.log(
    `  ${DEVICE}: ${STEPS} steps in ${seconds.toFixed(1)} s (${((STEPS * 64) / seconds).toFixed(0)} img/s); ` +
      `loss ${first.toFixed(3)} -> ${last.toFixed(3)}; peak allocated ${(peak / 2 ** 20).toFixed(1)} MiB`,
  );
  assert.ok(last < 0.75 * first, `loss should fall: mean of the first ${WINDOW} steps ${first}, of the last ${WINDOW} ${last}`);
  loader.close();
  opt.dispose();
  model.dispose();
  assert.equal(liveStorages(), before, 'live storages before/after');
  assert.is(deviceStats().allocatedBytes, allocatedBefore, `${DEVICE} bytes allocated before/after`);
});

// On the CPU a host allocation of this size may succeed lazily (overcommit), so CUDA only.
if (DEVICE === 'cuda') test('out of device memory is a JS error that names the size, and the process goes on', () => {
  const before = liveStorages();
  let message = '';
  try {
    empty([2 ** 39], { device: 'cuda' }); // 2 TiB
  } catch (e) {
    message = (e as Error).message;
  }
  assert.match(message, /CUDA out of memory: tried to allocate 2097152\.0 MiB with [\d.]+ MiB free of [\d.]+ MiB/);
  assert.equal(liveStorages(), before);
  const y = scope(() => sum(full([1000], 0.5, { device: 'cuda' })).item());
  assert.is(y, 500);
});

test.run();
