// The Local Perceptron's depthwise convs on their share-set planes: forward and
// forward + backward of conv2d with groups = channels, k x k with padding k / 2, at the
// shapes RepMLPNet's branches see ((B*C/S, S, h, w) at batch 64 for `small`, and T224's last
// stage at batch 8). Run: npm run bench:depthwise [-- --threads N] [--device cpu|cuda]
// (default device: CUDA when usable, as everywhere)
import { conv2d, defaultDevice, randn, Rng, scope, setNumThreads, type Device } from '../lib/index';
import { choiceOption, intOption, parseOptions } from './lib/args';
import { measure } from './lib/stats';
import { formatTable } from './lib/table';

const CMD = 'bench:depthwise';
const v = parseOptions(CMD, process.argv.slice(2), {});
const threads = intOption(CMD, v, 'threads', { min: 1, max: 64 });
if (threads !== undefined) setNumThreads(threads);
const device: Device = choiceOption(CMD, v, 'device', ['cpu', 'cuda'] as const) ?? defaultDevice();

const cases: [string, number[], number][] = [
  ['small stage 1: 16x16, S=2', [1024, 2, 16, 16], 3],
  ['small stage 2: 8x8, S=4', [1024, 4, 8, 8], 3],
  ['small stage 3: 4x4, S=8', [1024, 8, 4, 4], 3],
  ['T224 stage 4: 7x7, S=128 (batch 8)', [32, 128, 7, 7], 3],
  ['T224 stage 3: 14x14, S=16 (batch 8)', [128, 16, 14, 14], 3],
  ['wide map (row kernel): 56x56', [64, 4, 56, 56], 3],
];

const rng = new Rng(0);
const rows = cases.map(([name, shape, k]) => {
  const C = shape[1];
  const x = randn(shape, rng, { device }).requiresGrad_();
  const w = randn([C, 1, k, k], rng, { device }).requiresGrad_();
  const g = randn(shape, rng, { device });
  const opts = { padding: (k - 1) / 2, groups: C };
  const sync = () => void w.toFloat32Array();
  const fwd = measure(() => scope(() => void conv2d(x, w, null, opts)), sync, { warmup: 3, repeats: 15, minSampleMs: 20 });
  const both = measure(
    () => scope(() => {
      conv2d(x, w, null, opts).backward(g);
      x.grad?.dispose();
      w.grad?.dispose();
      x.grad = w.grad = null;
    }),
    sync,
    { warmup: 3, repeats: 15, minSampleMs: 20 },
  );
  for (const t of [x, w, g]) t.dispose();
  return [name, `(${shape.join(', ')})`, `${k}x${k}`, fwd.ms.toFixed(3), both.ms.toFixed(3)];
});
console.log(formatTable(
  ['case', 'input', 'kernel', 'fwd ms', 'fwd+bwd ms'].map((header, i) => ({ header, cell: (r: string[]) => r[i], align: i > 2 ? 'right' as const : 'left' as const })),
  rows,
));
