// BatchNorm with its activation or residual fused (one output pass; the activation's input is
// never stored) against BatchNorm then a separate relu() / gelu() / add(), at the shapes
// RepMLPNet runs them: the FFN's first layer (BN -> GELU on 4C channels), the embeddings
// (BN -> ReLU), a conv branch's BN summed into fc3_bn's output and an FFN's output added to the
// residual stream. And the end of each RepMLP block, unpartitionGate (un-partition, gate and
// residual add in one pass) against unpartition(), mul() and add(). Fused and unfused are timed
// back to back on the same tensors, so their ratio is robust to a noisy machine; PyTorch runs
// the same composition (bench/peers/fusion.py, eager, and through torch.compile on CUDA, which
// fuses it too).
//
//   npx tsx bench/fusion.ts [--quick] [--json] [--device cpu|cuda] [--threads N] [--no-peer]
//       [--python PATH] [--warmup N] [--repeats N]
import * as os from 'node:os';
import {
  add, batchNorm2d, full, gelu, memoryStats, mul, randn, relu, resetPeakMemoryStats, Rng, scope, unpartition,
  unpartitionGate, type Device, type Tensor,
} from '../lib/index';
import { describeMachine, log, peerNotes, peerSummary, runPeer, startBench, syncOn, type Context } from './lib/context';
import { measure, type Timing } from './lib/stats';
import { formatTable, type Column } from './lib/table';

const CMD = 'bench:fusion';
const USAGE = `npm run bench:fusion [-- --quick] [--json] [--device cpu|cuda] [--threads N] [--no-peer] [--python PATH]
  [--warmup N] [--repeats N]
BatchNorm with a fused ReLU / GELU / residual against BatchNorm and a separate op, unpartitionGate against
unpartition + mul + add, and PyTorch's eager (and, on CUDA, compiled) run of the same composition.`;

type Fused = 'relu' | 'gelu' | 'residual' | 'gate';
interface Case {
  id: string;
  label: string;
  /** the input (BatchNorm) or the output map (gate) */
  shape: number[];
  fused: Fused;
  /** gate: the partitions' height and width */
  parts?: [number, number];
}

const CASES: Case[] = [
  { id: 'small-ffn-1', label: 'small FFN stage 1: 4C = 128, 16x16', shape: [64, 128, 16, 16], fused: 'gelu' },
  { id: 'small-ffn-2', label: 'small FFN stage 2: 4C = 256, 8x8', shape: [64, 256, 8, 8], fused: 'gelu' },
  { id: 'small-ffn-3', label: 'small FFN stage 3: 4C = 512, 4x4', shape: [64, 512, 4, 4], fused: 'gelu' },
  { id: 'small-embed', label: 'small embedding: 32, 16x16', shape: [64, 32, 16, 16], fused: 'relu' },
  { id: 't224-ffn-1', label: 'T224 FFN stage 1: 4C = 256, 56x56 (batch 8)', shape: [8, 256, 56, 56], fused: 'gelu' },
  { id: 't224-ffn-3', label: 'T224 FFN stage 3: 4C = 1024, 14x14 (batch 8)', shape: [8, 1024, 14, 14], fused: 'gelu' },
  { id: 'small-branch', label: 'small stage 1 branch sum: (B*C/S, S) = (1024, 2), 16x16', shape: [1024, 2, 16, 16], fused: 'residual' },
  { id: 'small-ffn-res', label: 'small stage 1 FFN residual: 32, 16x16', shape: [64, 32, 16, 16], fused: 'residual' },
  { id: 't224-ffn-res', label: 'T224 stage 3 FFN residual: 256, 14x14 (batch 8)', shape: [8, 256, 14, 14], fused: 'residual' },
  { id: 'small-gate-1', label: 'small stage 1 block end: 32, 16x16', shape: [64, 32, 16, 16], fused: 'gate', parts: [16, 16] },
  { id: 'small-gate-3', label: 'small stage 3 block end: 128, 4x4', shape: [64, 128, 4, 4], fused: 'gate', parts: [4, 4] },
  { id: 't224-gate-1', label: 'T224 stage 1 block end: 64, 56x56 (batch 8)', shape: [8, 64, 56, 56], fused: 'gate', parts: [56, 56] },
  { id: 'parts-gate', label: '64, 56x56 in 7x7 partitions (batch 8)', shape: [8, 64, 56, 56], fused: 'gate', parts: [7, 7] },
];
// On CUDA the batch is 8x larger, so that a kernel's work outweighs its launch.
const cudaShape = (s: number[]) => [s[0] * 8, ...s.slice(1)];

interface Side {
  infer: Timing;
  train: Timing;
  /** peak MiB allocated from a training forward to the end of its backward */
  mib: number;
}
interface Row {
  id: string;
  label: string;
  shape: number[];
  fused: Fused;
  parts?: [number, number];
  unfused: Side;
  repmlp: Side;
  pytorch: { infer: Timing; train: Timing; compiledInfer: Timing | null; compiledTrain: Timing | null } | null;
}

/** A case's tensors: the leaves that get gradients, the others, and the op fused or not. */
interface Setup {
  leaves: Tensor[];
  others: Tensor[];
  run: (fused: boolean, training: boolean) => Tensor;
}

function bnSetup(c: Case, shape: number[], device: Device, rng: Rng): Setup {
  const C = shape[1];
  const x = randn(shape, rng, { device }).requiresGrad_();
  const w = randn([C], rng, { device }).requiresGrad_();
  const b = randn([C], rng, { device }).requiresGrad_();
  const r = randn(shape, rng, { device }).requiresGrad_();
  const rm = full([C], 0, { device }), rv = full([C], 1, { device });
  const run = (fused: boolean, training: boolean): Tensor => {
    if (c.fused === 'residual')
      return fused ? batchNorm2d(x, w, b, rm, rv, null, { training, residual: r }) : add(batchNorm2d(x, w, b, rm, rv, null, { training }), r);
    const act = c.fused === 'relu' ? 'relu' : 'gelu';
    const y = batchNorm2d(x, w, b, rm, rv, null, { training, activation: fused ? act : 'none' });
    return fused ? y : act === 'relu' ? relu(y) : gelu(y);
  };
  return { leaves: [x, w, b, r], others: [rm, rv], run };
}

// The block's partitions y and gate, and the residual stream x; `training` plays no part.
function gateSetup(c: Case, shape: number[], device: Device, rng: Rng): Setup {
  const [N, C, H, W] = shape;
  const [h, w] = c.parts!;
  const y = randn([N * (H / h) * (W / w), C, h, w], rng, { device }).requiresGrad_();
  const gate = randn([N, C, 1, 1], rng, { device }).requiresGrad_();
  const x = randn(shape, rng, { device }).requiresGrad_();
  const run = (fused: boolean): Tensor =>
    fused ? unpartitionGate(y, gate, H, W, { residual: x }) : add(mul(unpartition(y, H, W), gate), x);
  return { leaves: [y, gate, x], others: [], run };
}

function measureCase(c: Case, ctx: Context, rng: Rng): Row {
  const device = ctx.device;
  const shape = device === 'cuda' ? cudaShape(c.shape) : c.shape;
  const { leaves, others, run } = (c.fused === 'gate' ? gateSetup : bnSetup)(c, shape, device, rng);
  const g = randn(shape, rng, { device });
  try {
    const clearGrads = () => {
      for (const t of leaves) {
        t.grad?.dispose();
        t.grad = null;
      }
    };
    const sync = () => syncOn(leaves[0]);
    const step = (fused: boolean) => scope(() => {
      run(fused, true).backward(g);
      clearGrads();
    });
    const side = (fused: boolean): Side => {
      const infer = measure(() => scope(() => void run(fused, false)), sync, ctx.timing);
      const train = measure(() => step(fused), sync, ctx.timing);
      const stats = () => memoryStats()[device]!;
      const base = stats().allocatedBytes;
      resetPeakMemoryStats(device);
      step(fused);
      return { infer, train, mib: (stats().peakAllocatedBytes - base) / 2 ** 20 };
    };
    const unfused = side(false), repmlp = side(true);
    return { id: c.id, label: c.label, shape, fused: c.fused, parts: c.parts, unfused, repmlp, pytorch: null };
  } finally {
    for (const t of [...leaves, ...others, g]) t.dispose();
  }
}

function main(): void {
  const started = startBench(CMD, USAGE, {}, {
    full: { warmup: 3, repeats: 15, minSampleMs: 20 },
    quick: { warmup: 1, repeats: 5, minSampleMs: 10 },
  });
  if (!started) return;
  const { ctx } = started;
  const cases = ctx.quick ? CASES.filter((c) => c.id.startsWith('small')) : CASES;
  const machine = describeMachine(ctx);
  log(`${CMD}: ${cases.length} cases on ${ctx.device}, ${ctx.threads} threads${ctx.quick ? ' (quick)' : ''}`);
  const rng = new Rng(0);
  const rows = cases.map((c) => {
    const row = measureCase(c, ctx, rng);
    log(`  ${c.id}: train fwd+bwd ${row.unfused.train.ms.toFixed(3)} -> ${row.repmlp.train.ms.toFixed(3)} ms fused`);
    return row;
  });

  type PeerRow = { id: string; infer: Timing; train: Timing; compiledInfer: Timing | null; compiledTrain: Timing | null };
  type PeerDoc = { peer: string; threads: number; device: string; compile: string | null; rows: PeerRow[] };
  const peer = runPeer<PeerDoc>(ctx, 'fusion.py', {
    device: ctx.device, threads: ctx.threads, timing: ctx.timing, compile: ctx.device === 'cuda',
    cases: rows.map((r) => ({ id: r.id, shape: r.shape, fused: r.fused, parts: r.parts ?? null })),
  });
  if (peer.ok) for (const p of peer.value.rows) {
    const row = rows.find((r) => r.id === p.id);
    if (row) row.pytorch = { infer: p.infer, train: p.train, compiledInfer: p.compiledInfer, compiledTrain: p.compiledTrain };
  } else log(`${CMD}: PyTorch peer: ${peer.error}`);
  machine.loadEnd = os.loadavg()[0];

  const notes = [
    'median ms per call; eval: BN in eval mode, no gradients; train: forward in training mode + backward to x, weight, bias (and the residual)',
    'gate rows: eval is the forward without gradients; train adds the backward to the partitions, the gate and the residual',
    'x fused: unfused / fused repmlp time; torch: PyTorch eager running the same composition (bn then F.relu / F.gelu / +; the reshape/permute un-partition * gate + x); x torch: torch / repmlp fused',
    'MiB: peak allocated from a training forward to the end of its backward (repmlp, unfused / fused)',
    ...peerNotes(peer),
  ];
  if (ctx.json) {
    process.stdout.write(JSON.stringify({
      command: CMD, machine, options: { timing: ctx.timing },
      peer: peerSummary(peer),
      rows, notes,
    }) + '\n');
    return;
  }
  console.log(`${machine.cpu}${machine.gpu ? `, ${machine.gpu}` : ''}; ${machine.device}, ${machine.threads} threads; repmlp ${machine.repmlp}, ${peer.ok ? peer.value.peer : 'no PyTorch peer'}; load ${machine.loadStart.toFixed(2)} -> ${machine.loadEnd?.toFixed(2)}`);
  const ms = (t: Timing | null | undefined) => (t ? t.ms.toFixed(3) : '-');
  const ratio = (a: Timing | null | undefined, b: Timing) => (a ? (a.ms / b.ms).toFixed(2) : '-');
  const compiled = rows.some((r) => r.pytorch?.compiledTrain);
  const cols: Column<Row>[] = [
    { header: 'case', cell: (r) => r.label, align: 'left' },
    { header: 'input', cell: (r) => `(${r.shape.join(', ')})`, align: 'left' },
    { header: 'op', cell: (r) => (r.fused === 'gate' ? `gate ${r.parts!.join('x')}` : `bn+${r.fused}`), align: 'left' },
    { header: 'eval unfused', cell: (r) => ms(r.unfused.infer), align: 'right' },
    { header: 'fused', cell: (r) => ms(r.repmlp.infer), align: 'right' },
    { header: 'x fused', cell: (r) => ratio(r.unfused.infer, r.repmlp.infer), align: 'right' },
    { header: 'torch', cell: (r) => ms(r.pytorch?.infer), align: 'right' },
    { header: 'x torch', cell: (r) => ratio(r.pytorch?.infer, r.repmlp.infer), align: 'right' },
    { header: 'train unfused', cell: (r) => ms(r.unfused.train), align: 'right' },
    { header: 'fused', cell: (r) => ms(r.repmlp.train), align: 'right' },
    { header: 'x fused', cell: (r) => ratio(r.unfused.train, r.repmlp.train), align: 'right' },
    { header: 'torch', cell: (r) => ms(r.pytorch?.train), align: 'right' },
    { header: 'x torch', cell: (r) => ratio(r.pytorch?.train, r.repmlp.train), align: 'right' },
    ...(compiled ? [
      { header: 'compiled eval', cell: (r: Row) => ms(r.pytorch?.compiledInfer), align: 'right' as const },
      { header: 'compiled train', cell: (r: Row) => ms(r.pytorch?.compiledTrain), align: 'right' as const },
    ] : []),
    { header: 'MiB', cell: (r) => `${r.unfused.mib.toFixed(1)} / ${r.repmlp.mib.toFixed(1)}`, align: 'right' },
  ];
  console.log(formatTable(cols, rows));
  for (const n of notes) console.log(`  ${n}`);
}

main();
