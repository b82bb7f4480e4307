// The allreduce of the distributed engine on CPU tensors, run as the ranks of an MPI world:
//
//   mpirun -np 2 node --require tsx/cjs bench/allreduce.ts [--sizes 4K,64K,1M,16M,64M] [--json]
//   (as root, with Open MPI: mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2 ...)
//
// For each size (bytes of float32), a warm-up, then calls until 0.5 s have passed (3 at
// least); rank 0 prints the median time of a call, the algorithm bandwidth (bytes / time) and
// the bus bandwidth (that times 2 (N - 1) / N, the bytes each rank sends and receives in a
// reduce-scatter and an allgather, as NCCL's tests count it). Also the async sum the gradient
// buckets use (distSumStart / distSumWait), which adds a copy in and a scaled copy out.
import { allReduce, barrier, initDistributed, tensor, type Tensor } from '../lib/index';
import { native } from '../lib/native';

const argv = process.argv.slice(2);
const flag = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const bytesOf = (s: string): number => {
  const m = /^(\d+)([KMG]?)$/.exec(s);
  if (!m) throw new Error(`allreduce: expected sizes such as 4K,1M for --sizes but received '${s}'`);
  return Number(m[1]) * { '': 1, K: 1024, M: 2 ** 20, G: 2 ** 30 }[m[2] as '' | 'K' | 'M' | 'G'];
};
const sizes = (flag('--sizes') ?? '4K,64K,1M,16M,64M').split(',').map(bytesOf);
const json = argv.includes('--json');

const w = initDistributed({ engine: 'mpi' });

/** Median seconds of fn over calls made for at least 0.5 s (the same count on every rank). */
function time(fn: () => void): number {
  fn();
  barrier();
  const t0 = process.hrtime.bigint();
  fn();
  const once = Number(process.hrtime.bigint() - t0) / 1e9;
  const calls = Math.max(3, Math.min(1000, Math.ceil(0.5 / Math.max(once, 1e-6))));
  const agreed = tensor(Float32Array.of(calls));
  allReduce(agreed, 'max');
  const n = agreed.item();
  agreed.dispose();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - t) / 1e9);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}

const rows: Record<string, number | string>[] = [];
for (const bytes of sizes) {
  const n = bytes / 4;
  const t: Tensor = tensor(new Float32Array(n).fill(1));
  const inPlace = time(() => allReduce(t));
  const bucket = time(() => {
    const work = native.distSumStart({ tensors: [t.storage], ns: [n] });
    native.distSumWait({ work, tensors: [t.storage], ns: [n], scale: 1 / w.size });
  });
  t.dispose();
  const bus = (s: number) => ((bytes / s) * 2 * (w.size - 1)) / w.size / 1e9;
  rows.push({ bytes, allReduceMs: inPlace * 1e3, algGBs: bytes / inPlace / 1e9, busGBs: bus(inPlace), bucketMs: bucket * 1e3, bucketBusGBs: bus(bucket) });
}

if (w.rank === 0) {
  if (json) console.log(JSON.stringify({ worldSize: w.size, implementation: w.implementation, version: w.version, rows }));
  else {
    console.log(`allreduce (sum, float32, CPU tensors) over ${w.size} ranks, ${w.version ?? w.engine}`);
    console.log('bytes        allReduce ms  alg GB/s  bus GB/s   bucket ms  bucket bus GB/s');
    for (const r of rows) {
      const f = (v: number | string, d: number, wd: number) => (v as number).toFixed(d).padStart(wd);
      console.log(`${String(r.bytes).padEnd(12)} ${f(r.allReduceMs, 3, 12)} ${f(r.algGBs, 2, 9)} ${f(r.busGBs, 2, 9)} ${f(r.bucketMs, 3, 11)} ${f(r.bucketBusGBs, 2, 16)}`);
    }
  }
}
