// The compiled deploy form against onnxruntime-node head to head (npm run bench:deploy): for
// each model, at its batch and at batch 1, compileInference and an onnxruntime session on the
// project's own export time their samples in turns, round after round in one process, so
// that the machine's load drifts over both alike (bench:model times them minutes apart, with
// other rows in between). Prints each side's median time per run and the median of the
// rounds' ratios, with the machine's load. CPU only (onnxruntime's CPU provider).
//
//   npx tsx bench/deploy.ts [--models small,cifar,T224] [--batch N] [--threads N] [--repeats N (rounds)] [--json]
//
// Defaults: small and cifar at batch 64, T224 at batch 8, 15 rounds of samples of at least 200 ms.
import * as os from 'node:os';
import { randn } from '../lib/creation';
import { compileInference } from '../lib/infer/compile';
import { buildModel } from '../lib/models/families';
import { exportOnnx } from '../lib/onnx/export';
import { Rng } from '../lib/rng';
import { scope } from '../lib/scope';
import type { Tensor } from '../lib/tensor';
import { valued } from '../lib/cli/args';
import { intOption } from './lib/args';
import { log, startBench } from './lib/context';
import { ortPeer, type OrtPeer } from './lib/ort';
import { measure, median } from './lib/stats';
import { formatTable, sig3, type Column } from './lib/table';
import { modelSpec, repmlpnetModels } from './model';

const CMD = 'bench:deploy';
const USAGE = `npm run ${CMD} -- [--models small,cifar,T224] [--batch N] [--threads N] [--repeats N] [--json]`;
const SAMPLE = { warmup: 0, repeats: 1, minSampleMs: 200 };

interface Row {
  model: string;
  batch: number;
  planMs: number;
  ortMs: number;
  /** median over the rounds of ort's time / the plan's (above 1: the plan is faster) */
  ratio: number;
  load: string;
}

/** rounds samples of the plan and of onnxruntime in turns, on the same input shape. */
async function headToHead(name: string, batch: number, rounds: number, threads: number, rows: Row[]): Promise<void> {
  const spec = modelSpec(name)!;
  const model = buildModel(spec.cfg, { seed: 0, device: 'cpu' });
  model.localityInjection();
  const compiled = compileInference(model);
  let peer: OrtPeer | null = null;
  let x: Tensor | null = null;
  try {
    const r = await ortPeer(exportOnnx(model), threads);
    if (!r.ok) throw new Error(`${CMD}: onnxruntime-node is needed as the peer (${r.error})`);
    peer = r.peer;
    const dims = [batch, ...spec.input];
    x = randn(dims, new Rng(1));
    const input = x;
    const run = () => scope(() => void compiled.run(input));
    const load0 = os.loadavg()[0];
    measure(run, () => {}, { ...SAMPLE, warmup: 2 });
    await peer.time(dims, { ...SAMPLE, warmup: 2 });
    const plan: number[] = [], ort: number[] = [];
    for (let k = 0; k < rounds; k++) {
      plan.push(measure(run, () => {}, SAMPLE).ms);
      ort.push((await peer.time(dims, SAMPLE)).ms);
    }
    const row = {
      model: spec.name, batch, planMs: median(plan), ortMs: median(ort), ratio: median(ort.map((o, k) => o / plan[k])),
      load: `${load0.toFixed(2)} -> ${os.loadavg()[0].toFixed(2)}`,
    };
    rows.push(row);
    log(`  ${row.model} batch ${batch}: plan ${sig3(row.planMs)} ms, ort ${sig3(row.ortMs)} ms, ${row.ratio.toFixed(2)}x`);
  } finally {
    await peer?.release();
    x?.dispose();
    compiled.dispose();
    model.dispose();
  }
}

async function main(): Promise<void> {
  const started = startBench(CMD, USAGE, valued('models'), {
    full: { warmup: 2, repeats: 15, minSampleMs: 200 },
    quick: { warmup: 1, repeats: 3, minSampleMs: 200 },
  });
  if (!started) return;
  const { v, ctx } = started;
  if (ctx.device !== 'cpu') throw new Error(`${CMD}: expected --device cpu (onnxruntime's CPU provider is the peer) but received ${ctx.device}`);
  const names = repmlpnetModels(CMD, v);
  const batchOption = intOption(CMD, v, 'batch', { min: 1, max: 4096 });
  log(`${CMD}: ${names.join(', ')}, ${ctx.threads} threads, ${ctx.timing.repeats} rounds of samples >= ${SAMPLE.minSampleMs} ms`);
  const rows: Row[] = [];
  for (const name of names) {
    const batch = batchOption ?? (modelSpec(name)!.small ? 64 : 8);
    for (const b of batch === 1 ? [1] : [batch, 1]) await headToHead(name, b, ctx.timing.repeats, ctx.threads, rows);
  }
  if (ctx.json) return console.log(JSON.stringify({ threads: ctx.threads, cpu: os.cpus()[0]?.model, rows }, null, 2));
  const cols: Column<Row>[] = [
    { header: 'model', cell: (r) => r.model, align: 'left' },
    { header: 'batch', cell: (r) => String(r.batch) },
    { header: 'plan ms', cell: (r) => sig3(r.planMs) },
    { header: 'ort ms', cell: (r) => sig3(r.ortMs) },
    { header: 'plan x ort', cell: (r) => `${r.ratio.toFixed(2)}x` },
    { header: 'load', cell: (r) => r.load },
  ];
  console.log(`${os.cpus()[0]?.model ?? 'cpu'}; ${ctx.threads} threads; median of ${ctx.timing.repeats} rounds, each a sample of each side in turn`);
  console.log(formatTable(cols, rows));
}

main().catch((e: unknown) => {
  console.error((e as Error).message);
  process.exitCode = 1;
});
