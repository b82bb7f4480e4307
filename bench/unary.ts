// Throughput of the CPU activations (native/ops/unary.cc): each forward and backward over 1M
// floats of values in [-4, 4], in billions of elements per second, on the vector clone the
// loader picked for this CPU (AVX-512, AVX2 or baseline: REPMLP_VECTOR_CLONES in
// native/cpu_isa.h). The GEMM's fused activation pass runs the same functors.
// Run: npm run bench:unary [-- --threads N]
import { native, type NativeStorage } from '../lib/native';
import { setNumThreads } from '../lib/info';
import { intOption, parseOptions } from './lib/args';
import { measure } from './lib/stats';
import { formatTable } from './lib/table';

const N = 1 << 20;
const ACTIVATIONS = ['relu', 'gelu', 'sigmoid', 'silu'] as const;

function storage(fill: (i: number) => number): NativeStorage {
  const s = new native.Storage('cpu', 'float32', N);
  s.write(Float32Array.from({ length: N }, (_, i) => fill(i)));
  return s;
}

const v = parseOptions('bench:unary', process.argv.slice(2), {});
const threads = intOption('bench:unary', v, 'threads', { min: 1, max: 64 });
if (threads !== undefined) setNumThreads(threads);
const info = native.runtimeInfo();
console.log(`threads: ${info.threads}; CPU ISA: ${info.cpuIsaSupported}; ${N} floats`);

const x = storage((i) => 4 * Math.sin(i * 0.37)), dout = storage((i) => Math.cos(i)), out = storage(() => 0);
const timing = { warmup: 3, repeats: 10, minSampleMs: 50 };
const rate = (run: () => void) => N / measure(run, () => {}, timing).ms / 1e6;
const rows = ACTIVATIONS.map((name) => {
  const fwd = native[`${name}_forward`], bwd = native[`${name}_backward`];
  return [name, rate(() => fwd(out, x, N)).toFixed(2), rate(() => bwd(out, dout, x, N)).toFixed(2)];
});
for (const s of [x, dout, out]) s.dispose();
console.log(formatTable(
  ['activation', 'forward Gelem/s', 'backward Gelem/s'].map((header, i) => ({ header, cell: (r: string[]) => r[i], align: i ? 'right' as const : 'left' as const })),
  rows,
));
