// BatchNorm with its activation or residual fused (one output pass; the activation's input is
// never stored) against BatchNorm then a separate relu() / gelu() / add(), at the shapes
// RepMLPNet runs them: the FFN's first layer (BN -> GELU on 4C channels), the embeddings
// (BN -> ReLU), a conv branch's BN summed into fc3_bn's output and an FFN's output added to the
// residual stream. Fused and unfused are timed back to back on the same tensors, so their
// ratio is robust to a noisy machine.
// Run: npm run bench:fusion [-- --threads N] [--device cpu|cuda] [--quick]
// (default device: CUDA when usable, as everywhere)
import {
  add, batchNorm2d, defaultDevice, full, gelu, memoryStats, randn, relu, resetPeakMemoryStats, Rng, scope, setNumThreads,
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

type Fused = 'relu' | 'gelu' | 'residual';
const cases: [string, number[], Fused][] = [
  ['small FFN stage 1: 4C = 128, 16x16', [64, 128, 16, 16], 'gelu'],
  ['small FFN stage 2: 4C = 256, 8x8', [64, 256, 8, 8], 'gelu'],
  ['small FFN stage 3: 4C = 512, 4x4', [64, 512, 4, 4], 'gelu'],
  ['small embedding: 32, 16x16', [64, 32, 16, 16], 'relu'],
  ['T224 FFN stage 1: 4C = 256, 56x56 (batch 8)', [8, 256, 56, 56], 'gelu'],
  ['T224 FFN stage 3: 4C = 1024, 14x14 (batch 8)', [8, 1024, 14, 14], 'gelu'],
  ['small stage 1 branch sum: (B*C/S, S) = (1024, 2), 16x16', [1024, 2, 16, 16], 'residual'],
  ['small stage 1 FFN residual: 32, 16x16', [64, 32, 16, 16], 'residual'],
  ['T224 stage 3 FFN residual: 256, 14x14 (batch 8)', [8, 256, 14, 14], 'residual'],
];

const rng = new Rng(0);
const timing = quick ? { warmup: 1, repeats: 5, minSampleMs: 10 } : { warmup: 3, repeats: 15, minSampleMs: 20 };
const rows = cases.flatMap(([name, shape, fusedOp]) => {
  const C = shape[1];
  const x = randn(shape, rng, { device }).requiresGrad_();
  const w = randn([C], rng, { device }).requiresGrad_();
  const b = randn([C], rng, { device }).requiresGrad_();
  const rm = full([C], 0, { device }), rv = full([C], 1, { device });
  const g = randn(shape, rng, { device });
  const r = randn(shape, rng, { device }).requiresGrad_();
  const sync = () => void w.toFloat32Array();
  const run = (fused: boolean, training: boolean): Tensor => {
    if (fusedOp === 'residual')
      return fused ? batchNorm2d(x, w, b, rm, rv, null, { training, residual: r }) : add(batchNorm2d(x, w, b, rm, rv, null, { training }), r);
    const y = batchNorm2d(x, w, b, rm, rv, null, { training, activation: fused ? fusedOp : 'none' });
    return fused ? y : fusedOp === 'relu' ? relu(y) : gelu(y);
  };
  const clearGrads = () => {
    for (const t of [x, w, b, r]) {
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
  for (const t of [x, w, b, rm, rv, g, r]) t.dispose();
  const [u, f] = out;
  return [[
    name, `(${shape.join(', ')})`, `bn+${fusedOp}`,
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
