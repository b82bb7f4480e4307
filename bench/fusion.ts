// BatchNorm with its activation fused (one output pass, the activation's input never stored)
// against BatchNorm then a separate relu() / gelu(), at the shapes RepMLPNet runs them: the
// FFN's first layer (BN -> GELU on 4C channels) and the embeddings (BN -> ReLU). Fused and
// unfused are timed back to back on the same tensors, so their ratio is robust to a noisy
// machine. Run: npm run bench:fusion [-- --threads N] [--device cpu|cuda] [--quick]
// (default device: CUDA when usable, as everywhere)
import {
  batchNorm2d, defaultDevice, full, gelu, memoryStats, randn, relu, resetPeakMemoryStats, Rng, scope, setNumThreads,
  type Device, type Tensor,
} from '../lib/index';
import { intOption, parseOptions } from './lib/args';
import { measure } from './lib/stats';
import { formatTable } from './lib/table';

const CMD = 'bench:fusion';
const v = parseOptions(CMD, process.argv.slice(2), {});
if (v.threads !== undefined) setNumThreads(intOption(CMD, v, 'threads', 1, 1, 64));
const device = (v.device ?? defaultDevice()) as Device;
if (device !== 'cpu' && device !== 'cuda') throw new Error(`${CMD}: expected cpu or cuda for --device but received ${String(device)}`);
const quick = v.quick === true;

type Act = 'relu' | 'gelu';
const cases: [string, number[], Act][] = [
  ['small FFN stage 1: 4C = 128, 16x16', [64, 128, 16, 16], 'gelu'],
  ['small FFN stage 2: 4C = 256, 8x8', [64, 256, 8, 8], 'gelu'],
  ['small FFN stage 3: 4C = 512, 4x4', [64, 512, 4, 4], 'gelu'],
  ['small embedding: 32, 16x16', [64, 32, 16, 16], 'relu'],
  ['T224 FFN stage 1: 4C = 256, 56x56 (batch 8)', [8, 256, 56, 56], 'gelu'],
  ['T224 FFN stage 3: 4C = 1024, 14x14 (batch 8)', [8, 1024, 14, 14], 'gelu'],
];

const rng = new Rng(0);
const timing = quick ? { warmup: 1, repeats: 5, minSampleMs: 10 } : { warmup: 3, repeats: 15, minSampleMs: 20 };
const rows = cases.flatMap(([name, shape, act]) => {
  const C = shape[1];
  const x = randn(shape, rng, { device }).requiresGrad_();
  const w = randn([C], rng, { device }).requiresGrad_();
  const b = randn([C], rng, { device }).requiresGrad_();
  const rm = full([C], 0, { device }), rv = full([C], 1, { device });
  const g = randn(shape, rng, { device });
  const sync = () => void w.toFloat32Array();
  const run = (fused: boolean, training: boolean): Tensor => {
    const y = batchNorm2d(x, w, b, rm, rv, null, { training, activation: fused ? act : 'none' });
    return fused ? y : act === 'relu' ? relu(y) : gelu(y);
  };
  const clearGrads = () => {
    for (const t of [x, w, b]) {
      t.grad?.dispose();
      t.grad = null;
    }
  };
  // Peak bytes allocated from the forward to the end of backward, over what was live before.
  const peak = (fused: boolean) => {
    const stats = () => memoryStats()[device]!;
    const base = stats().allocatedBytes;
    resetPeakMemoryStats(device);
    scope(() => run(fused, true).backward(g));
    clearGrads();
    return (stats().peakAllocatedBytes - base) / 2 ** 20;
  };
  const out = [false, true].map((fused) => ({
    infer: measure(() => scope(() => void run(fused, false)), sync, timing).ms,
    train: measure(() => scope(() => {
      run(fused, true).backward(g);
      clearGrads();
    }), sync, timing).ms,
    mib: peak(fused),
  }));
  for (const t of [x, w, b, rm, rv, g]) t.dispose();
  const [u, f] = out;
  return [[
    name, `(${shape.join(', ')})`, `bn+${act}`,
    u.infer.toFixed(3), f.infer.toFixed(3), (u.infer / f.infer).toFixed(2),
    u.train.toFixed(3), f.train.toFixed(3), (u.train / f.train).toFixed(2),
    u.mib.toFixed(1), f.mib.toFixed(1),
  ]];
});
console.log(`${CMD}: ${device}; median ms; speed-up = unfused / fused; MiB: peak allocated during forward + backward`);
console.log(formatTable(
  ['case', 'input', 'op', 'eval fwd', 'fused', 'speed-up', 'train fwd+bwd', 'fused', 'speed-up', 'MiB', 'fused']
    .map((header, i) => ({ header, cell: (r: string[]) => r[i], align: i > 2 ? 'right' as const : 'left' as const })),
  rows,
));
