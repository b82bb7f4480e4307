// RepMLPNet throughput (npm run bench:model), side by side with PyTorch (bench/peers/model.py):
// per model, the training step's img/s (AdamW, cross-entropy with label smoothing 0.1) split
// into forward, backward and optimizer step, inference img/s of the training form (eval mode)
// and of the deploy form (after Locality Injection), and peak memory.
//
//   npx tsx bench/model.ts [--quick] [--json] [--device cpu|cuda] [--threads N] [--batch N]
//       [--models small,small-nolocal,cifar,T224,...] [--warmup N] [--repeats N (training steps)]
//       [--no-peer] [--python PATH] [--charts|--no-charts]
//
// Defaults: on the CPU the small configs (batch 64) and T224 (batch 8); on CUDA every model
// (batch 256 for the small configs, 64 for the ImageNet presets).
import * as os from 'node:os';
import { noGrad } from '../lib/autograd';
import { randn, tensor } from '../lib/creation';
import { flops } from '../lib/models/flops';
import { preset, presetInputSize, type PresetName } from '../lib/models/presets';
import { RepMLPNet, type RepMLPNetConfig } from '../lib/models/repmlpnet';
import { crossEntropy } from '../lib/ops/cross_entropy';
import { AdamW } from '../lib/optim/adamw';
import { splitWeightDecay } from '../lib/optim/optimizer';
import { Rng } from '../lib/rng';
import { scope } from '../lib/scope';
import type { Tensor } from '../lib/tensor';
import { valued } from '../lib/cli/args';
import { intOption, listOption } from './lib/args';
import { describeMachine, log, memoryProbe, runPeer, startBench, syncOn, writeChart, type Context } from './lib/context';
import { IMAGENET_PRESETS } from './lib/shapes';
import { measure, median, type Timing } from './lib/stats';
import { barChartSvg } from './lib/svg';
import { fixed, formatTable, sig3, times, type Column } from './lib/table';

const CMD = 'bench:model';

/** A benchmarked model: its config and input (C, H, W). */
interface ModelSpec {
  name: string;
  cfg: RepMLPNetConfig;
  input: [number, number, number];
  small: boolean;
}

const SMALL_CONFIGS = ['small', 'small-nolocal', 'cifar'] as const;
const MODEL_NAMES = [...SMALL_CONFIGS, ...IMAGENET_PRESETS.map((p) => p.replace('RepMLPNet-', ''))];

/** small / small-nolocal: the Fashion-MNIST setup of bench/RESULTS.md (1 x 32 x 32, 10 classes). */
export function modelSpec(name: string): ModelSpec | null {
  if (name === 'small' || name === 'small-nolocal')
    return { name, cfg: { ...preset('small', { inChannels: 1, numClasses: 10 }), ...(name === 'small-nolocal' ? { reparamConvK: [] } : {}) }, input: [1, 32, 32], small: true };
  if (name === 'cifar') return { name, cfg: preset('cifar'), input: [3, 32, 32], small: true };
  const full = (name.startsWith('RepMLPNet-') ? name : `RepMLPNet-${name}`) as PresetName;
  if (!IMAGENET_PRESETS.includes(full)) return null;
  const cfg = preset(full);
  const size = presetInputSize(full);
  return { name: full.replace('RepMLPNet-', ''), cfg, input: [3, size, size], small: false };
}

/** The reference model's config keys (bench/peers/repmlpnet_torch.py). */
function torchConfig(c: RepMLPNetConfig) {
  return { in: c.inChannels, classes: c.numClasses, patch: c.patchSize, blocks: c.numBlocks, channels: c.channels, hs: c.hs, ws: c.ws, S: c.sharesetsNums, ks: c.reparamConvK };
}

interface TrainTiming {
  ms: number;
  forwardMs: number;
  backwardMs: number;
  optimizerMs: number;
  steps: number;
}

interface Side {
  train: TrainTiming;
  inferTrainForm: Timing;
  inferDeploy: Timing;
  peakMemoryBytes: number;
}

interface PeerDoc extends Side {
  peer: string;
  threads: number;
  memory: string;
  compiled: Side | null;
  compile: string | null;
}

interface Row {
  model: string;
  batch: number;
  /** multiply-adds of one image's forward pass, training form and deploy form */
  macs: { train: number; deploy: number };
  repmlp: Side;
  memory: string;
  pytorch: (Side & { memory: string }) | null;
  compiled: Side | null;
  /** repmlp img/s / PyTorch img/s for: training step, training-form inference, deploy inference */
  ratio: { train: number; inferTrainForm: number; inferDeploy: number } | null;
}

/**
 * Training steps split by synchronisation points (the peer does the same): forward + loss
 * (then the loss is read), backward (then a gradient element is read), optimizer step (then
 * the loss value is read, as a logged step would).
 */
function trainSteps(model: RepMLPNet, x: Tensor, y: Tensor, warmup: number, steps: number): TrainTiming {
  const opt = new AdamW(splitWeightDecay(model.parameters(), 0.05), { lr: 1e-3 });
  const first = model.parameters()[0];
  const phases: number[][] = [];
  try {
    for (let i = 0; i < warmup + steps; i++) {
      const t0 = performance.now();
      let t1 = 0, t2 = 0;
      scope(() => {
        opt.zeroGrad();
        const loss = crossEntropy(model.forward(x), y, { labelSmoothing: 0.1 });
        syncOn(loss);
        t1 = performance.now();
        loss.backward();
        syncOn(first.grad!);
        t2 = performance.now();
        opt.step();
        loss.item();
      });
      const t3 = performance.now();
      if (i >= warmup) phases.push([t1 - t0, t2 - t1, t3 - t2, t3 - t0]);
    }
  } finally {
    opt.zeroGrad();
    opt.dispose();
  }
  const med = (j: number) => median(phases.map((p) => p[j]));
  return { forwardMs: med(0), backwardMs: med(1), optimizerMs: med(2), ms: med(3), steps: phases.length };
}

function inference(model: RepMLPNet, x: Tensor, ctx: Context): Timing {
  model.eval();
  return measure(() => scope(() => noGrad(() => void model.forward(x))), () => syncOn(x), { ...ctx.timing, minSampleMs: 0 });
}

function benchModel(m: ModelSpec, batch: number, steps: number, ctx: Context): { side: Side; memory: string } {
  const probe = memoryProbe(ctx.device);
  return scope(() => {
    const rng = new Rng(1);
    const x = randn([batch, ...m.input], rng, { device: ctx.device });
    const y = tensor(BigInt64Array.from({ length: batch }, () => BigInt(rng.int(m.cfg.numClasses))), [batch], { device: ctx.device });
    const model = new RepMLPNet(m.cfg, { seed: 0, device: ctx.device });
    try {
      probe.reset();
      model.train();
      const train = trainSteps(model, x, y, ctx.timing.warmup, steps);
      const peakMemoryBytes = probe.peakBytes();
      const inferTrainForm = inference(model, x, ctx);
      model.localityInjection();
      const inferDeploy = inference(model, x, ctx);
      return { side: { train, inferTrainForm, inferDeploy, peakMemoryBytes }, memory: probe.kind };
    } finally {
      model.dispose();
    }
  });
}

const imgs = (batch: number, ms: number | undefined) => (ms === undefined ? null : (batch / ms) * 1000);

const USAGE = `usage: npx tsx bench/model.ts [--quick] [--json] [--device cpu|cuda] [--threads N] [--batch N]
  [--models ${MODEL_NAMES.join(',')}] [--warmup N] [--repeats N]
  [--no-peer] [--python PATH] [--charts | --no-charts]`;

function main(): void {
  const started = startBench(CMD, USAGE, valued('models'), {
    full: { warmup: 3, repeats: 20, minSampleMs: 0 },
    quick: { warmup: 2, repeats: 5, minSampleMs: 0 },
  });
  if (!started) return;
  const { v, ctx } = started;
  const cuda = ctx.device === 'cuda';
  const names = listOption(CMD, v, 'models', MODEL_NAMES.join(', '), (s) => modelSpec(s)?.name ?? null)
    ?? (ctx.quick ? ['small'] : cuda ? MODEL_NAMES : [...SMALL_CONFIGS, 'T224']);
  const models = names.map((n) => modelSpec(n)!);
  const machine = describeMachine(ctx);
  log(`${CMD}: ${names.join(', ')} on ${ctx.device}, ${ctx.threads} threads${ctx.quick ? ' (quick)' : ''}`);

  const rows: Row[] = [];
  const peerNotes = new Set<string>();
  let peerName: string | null = null;
  for (const m of models) {
    const batch = intOption(CMD, v, 'batch', { min: 1 }) ?? (m.small ? (cuda ? 256 : 64) : cuda ? 64 : 8);
    // Training steps: --repeats, else 20 (5 for the ImageNet presets on the CPU, whose steps take seconds).
    const steps = v.repeats !== undefined || m.small || cuda ? ctx.timing.repeats : Math.min(ctx.timing.repeats, 5);
    const ours = benchModel(m, batch, steps, ctx);
    log(`  ${m.name}: repmlp ${ours.side.train.ms.toFixed(1)} ms/step`);
    const peer = runPeer<PeerDoc>(ctx, 'model.py', {
      device: ctx.device, threads: ctx.threads, timing: { ...ctx.timing, minSampleMs: 0 }, warmup: ctx.timing.warmup, steps, batch, compile: cuda,
      model: { name: m.name, cfg: torchConfig(m.cfg), input: m.input },
    });
    if (!peer.ok) peerNotes.add(`PyTorch peer: ${peer.error}`);
    else {
      peerName = peer.value.peer;
      if (peer.value.compile) peerNotes.add(`PyTorch compiled: ${peer.value.compile}`);
      log(`  ${m.name}: ${peer.value.peer} ${peer.value.train.ms.toFixed(1)} ms/step`);
    }
    const p = peer.ok ? peer.value : null;
    rows.push({
      model: m.name, batch,
      macs: { train: flops(m.cfg, m.input[1]), deploy: flops({ ...m.cfg, deploy: true }, m.input[1]) },
      repmlp: ours.side, memory: ours.memory,
      pytorch: p ? { train: p.train, inferTrainForm: p.inferTrainForm, inferDeploy: p.inferDeploy, peakMemoryBytes: p.peakMemoryBytes, memory: p.memory } : null,
      compiled: p?.compiled ?? null,
      ratio: p ? {
        train: p.train.ms / ours.side.train.ms,
        inferTrainForm: p.inferTrainForm.ms / ours.side.inferTrainForm.ms,
        inferDeploy: p.inferDeploy.ms / ours.side.inferDeploy.ms,
      } : null,
    });
  }
  machine.loadEnd = os.loadavg()[0];

  const charts: string[] = [];
  if (ctx.charts) {
    charts.push(writeChart('model-throughput.svg', throughputChart(rows, machine.cpu, ctx)));
    charts.push(writeChart('model-train-vs-deploy.svg', formsChart(rows, ctx)));
  }
  const notes = [
    'img/s from the median step / forward; train split: forward + loss, backward, optimizer step (ms, median)',
    'ratio: repmlp img/s / PyTorch img/s (above 1: repmlp is faster)',
    `peak memory during the training steps: repmlp ${rows[0]?.memory ?? '-'} (memoryStats: live tensor bytes); PyTorch ${rows[0]?.pytorch?.memory ?? '-'}${rows[0]?.pytorch?.memory === 'max RSS growth' ? ' (the process max RSS above its RSS before the model was built: weights, activations, gradients, optimizer state, and whatever its allocators keep)' : ''}`,
    ...peerNotes,
  ];
  if (ctx.json) {
    process.stdout.write(JSON.stringify({ command: CMD, machine, options: { models: names, timing: ctx.timing }, peer: peerName, rows, charts, notes }) + '\n');
    return;
  }
  console.log(`${machine.cpu}${machine.gpu ? `, ${machine.gpu}` : ''}; ${machine.device}, ${machine.threads} threads; repmlp ${machine.repmlp}, ${peerName ?? 'no PyTorch peer'}; load ${machine.loadStart.toFixed(2)} -> ${machine.loadEnd.toFixed(2)}\n`);
  const mib = (b: number | undefined) => (b === undefined ? null : (b / 2 ** 20).toFixed(0));
  const cols: Column<Row>[] = [
    { header: 'model', cell: (r) => r.model, align: 'left' },
    { header: 'batch', cell: (r) => String(r.batch) },
    { header: 'GMAC/img', cell: (r) => fixed(r.macs.deploy / 1e9, 3) },
    { header: 'train img/s', cell: (r) => sig3(imgs(r.batch, r.repmlp.train.ms)) },
    { header: 'fwd/bwd/opt ms', cell: (r) => `${sig3(r.repmlp.train.forwardMs)}/${sig3(r.repmlp.train.backwardMs)}/${sig3(r.repmlp.train.optimizerMs)}` },
    { header: 'torch', cell: (r) => sig3(imgs(r.batch, r.pytorch?.train.ms)) },
    { header: 'torch fwd/bwd/opt', cell: (r) => (r.pytorch ? `${sig3(r.pytorch.train.forwardMs)}/${sig3(r.pytorch.train.backwardMs)}/${sig3(r.pytorch.train.optimizerMs)}` : null) },
    { header: 'ratio', cell: (r) => times(r.ratio?.train) },
    { header: 'infer train-form', cell: (r) => sig3(imgs(r.batch, r.repmlp.inferTrainForm.ms)) },
    { header: 'torch', cell: (r) => sig3(imgs(r.batch, r.pytorch?.inferTrainForm.ms)) },
    { header: 'ratio', cell: (r) => times(r.ratio?.inferTrainForm) },
    { header: 'infer deploy', cell: (r) => sig3(imgs(r.batch, r.repmlp.inferDeploy.ms)) },
    { header: 'torch', cell: (r) => sig3(imgs(r.batch, r.pytorch?.inferDeploy.ms)) },
    { header: 'ratio', cell: (r) => times(r.ratio?.inferDeploy) },
    ...(cuda ? [
      { header: 'compiled train', cell: (r: Row) => sig3(imgs(r.batch, r.compiled?.train.ms)) },
      { header: 'compiled deploy', cell: (r: Row) => sig3(imgs(r.batch, r.compiled?.inferDeploy.ms)) },
    ] : []),
    { header: 'peak MiB', cell: (r) => mib(r.repmlp.peakMemoryBytes) },
    { header: 'torch MiB', cell: (r) => mib(r.pytorch?.peakMemoryBytes) },
  ];
  console.log('img/s (images per second)');
  console.log(formatTable(cols, rows));
  console.log('');
  for (const n of notes) console.log(`  ${n}`);
  if (charts.length) console.log(`charts: ${charts.join(', ')}`);
}

function throughputChart(rows: Row[], cpu: string, ctx: Context): string {
  return barChartSvg({
    title: 'RepMLPNet throughput: repmlp vs PyTorch',
    yLabel: 'images / s', groups: rows.map((r) => `${r.model} (batch ${r.batch})`), log: true,
    series: [
      { name: 'repmlp training step', values: rows.map((r) => imgs(r.batch, r.repmlp.train.ms)) },
      { name: 'PyTorch training step', values: rows.map((r) => imgs(r.batch, r.pytorch?.train.ms)) },
      { name: 'repmlp inference, deploy form', values: rows.map((r) => imgs(r.batch, r.repmlp.inferDeploy.ms)) },
      { name: 'PyTorch inference, deploy form', values: rows.map((r) => imgs(r.batch, r.pytorch?.inferDeploy.ms)) },
    ],
    note: `${cpu}; ${ctx.device}, ${ctx.threads} threads; npm run bench:model`,
  });
}

function formsChart(rows: Row[], ctx: Context): string {
  return barChartSvg({
    title: 'Inference: training form (conv branches) vs deploy form',
    yLabel: 'images / s', groups: rows.map((r) => `${r.model} (batch ${r.batch})`), log: true,
    series: [
      { name: 'repmlp training form', values: rows.map((r) => imgs(r.batch, r.repmlp.inferTrainForm.ms)) },
      { name: 'repmlp deploy form', values: rows.map((r) => imgs(r.batch, r.repmlp.inferDeploy.ms)) },
      { name: 'PyTorch training form', values: rows.map((r) => imgs(r.batch, r.pytorch?.inferTrainForm.ms)) },
      { name: 'PyTorch deploy form', values: rows.map((r) => imgs(r.batch, r.pytorch?.inferDeploy.ms)) },
    ],
    note: `${ctx.device}, ${ctx.threads} threads; npm run bench:model`,
  });
}

if (require.main === module) {
  try {
    main();
  } catch (e) {
    console.error((e as Error).message);
    process.exitCode = 1;
  }
}
