// Model throughput (npm run bench:model), side by side with PyTorch (bench/peers/model.py)
// and, for the deploy form on the CPU, onnxruntime-node on the project's own ONNX export
// (bench/lib/ort.ts): per model (RepMLPNet's configs and presets, and the 2021 presets built
// through buildModel: RepMLP-Res50-Light-224, RepMLP-Res50-Bottleneck-224, ResNet-50 and the
// RepMLP-CIFAR-* models, whose PyTorch peers are repmlp_resnet_torch.py and
// repmlp_cifar_torch.py), the training step's img/s (AdamW, cross-entropy with label
// smoothing 0.1) split into forward, backward and optimizer step, inference img/s of the
// training form (eval mode) and of the deploy form (after Locality Injection) both eager and
// compiled (compileInference; for the 2021 models that is the deploy form run eagerly), the deploy form's batch-1 latency, and peak memory.
// onnxruntime is timed minutes after the plan here, with other rows in between; bench:deploy
// (bench/deploy.ts) times the two in turns, which is the fairer ratio when the load drifts. A CPU
// PyTorch peer on a reference BLAS is refused, one starved by the machine's load marked
// (peerGemmCheck, from its matmul rate measured in the run).
//
//   npx tsx bench/model.ts [--quick] [--json] [--device cpu|cuda] [--threads N] [--batch N]
//       [--models small,small-nolocal,cifar,T224,...] [--warmup N] [--repeats N (training steps)]
//       [--no-peer] [--python PATH] [--charts|--no-charts]
//
// Defaults: on the CPU the small configs (batch 64) and T224 (batch 8); on CUDA every RepMLPNet
// model (batch 256 for the small configs, 64 for the ImageNet presets). A 2021 preset runs when
// --models names it, at the batch of its kind (the CIFAR models as the small configs, the 224
// ones as the ImageNet presets); on a few CPU cores give the 224 ones a small --batch (2 or 4).
import * as os from 'node:os';
import { noGrad } from '../lib/autograd';
import { randn, tensor } from '../lib/creation';
import { compileInference } from '../lib/infer/compile';
import { exportOnnx } from '../lib/onnx/export';
import { flops } from '../lib/models/flops';
import { allPresetNames, buildModel, familyOf, familyOfPreset, isRepMLPNetConfig, type FamilyModel, type ModelConfig } from '../lib/models/families';
import { preset, presetInputSize, type PresetName } from '../lib/models/presets';
import type { RepMLPNetConfig } from '../lib/models/repmlpnet';
import { crossEntropy } from '../lib/ops/cross_entropy';
import { AdamW } from '../lib/optim/adamw';
import { splitWeightDecay } from '../lib/optim/optimizer';
import { Rng } from '../lib/rng';
import { scope } from '../lib/scope';
import type { Tensor } from '../lib/tensor';
import { valued } from '../lib/cli/args';
import { intOption, listOption, type Values } from './lib/args';
import {
  describeMachine, gemmPeak, log, peerEnvNote, memoryProbe, peerGemmCheck, runPeer, startBench, syncOn, writeChart, type Context, type GemmPeak,
} from './lib/context';
import { ortPeer } from './lib/ort';
import { IMAGENET_PRESETS } from './lib/shapes';
import { measure, median, type Timing } from './lib/stats';
import { barChartSvg } from './lib/svg';
import { fixed, formatTable, sig3, times, type Column } from './lib/table';

const CMD = 'bench:model';

/** A benchmarked model: its config (any family's) and input (C, H, W). */
interface ModelSpec {
  name: string;
  cfg: ModelConfig;
  input: [number, number, number];
  small: boolean;
}

const SMALL_CONFIGS = ['small', 'small-nolocal', 'cifar'] as const;
/** The 2021 paper's presets (RepMLP-ResNet and the CIFAR models), built through buildModel. */
const PRESETS_2021 = allPresetNames.filter((n) => familyOfPreset(n)?.arch !== 'RepMLPNet');
const REPMLPNET_NAMES = [...SMALL_CONFIGS, ...IMAGENET_PRESETS.map((p) => p.replace('RepMLPNet-', ''))];
const MODEL_NAMES = [...REPMLPNET_NAMES, ...PRESETS_2021];

/** small / small-nolocal: the Fashion-MNIST setup of bench/RESULTS.md (1 x 32 x 32, 10 classes). */
export function modelSpec(name: string): ModelSpec | null {
  if (name === 'small' || name === 'small-nolocal')
    return { name, cfg: { ...preset('small', { inChannels: 1, numClasses: 10 }), ...(name === 'small-nolocal' ? { reparamConvK: [] } : {}) }, input: [1, 32, 32], small: true };
  if (name === 'cifar') return { name, cfg: preset('cifar'), input: [3, 32, 32], small: true };
  if (PRESETS_2021.includes(name)) {
    const family = familyOfPreset(name)!;
    const cfg = family.preset(name);
    const input = family.inputShape(cfg);
    return { name, cfg, input, small: input[1] <= 64 };
  }
  const full = (name.startsWith('RepMLPNet-') ? name : `RepMLPNet-${name}`) as PresetName;
  if (!IMAGENET_PRESETS.includes(full)) return null;
  const cfg = preset(full);
  const size = presetInputSize(full);
  return { name: full.replace('RepMLPNet-', ''), cfg, input: [3, size, size], small: false };
}

/** --models for the benchmarks of the compiled plan (bench:plan, bench:deploy): RepMLPNet names only, small, cifar and T224 by default. */
export function repmlpnetModels(command: string, v: Values): string[] {
  const repmlpnet = (s: string) => {
    const m = modelSpec(s);
    return m && isRepMLPNetConfig(m.cfg) ? m.name : null;
  };
  return listOption(command, v, 'models', 'RepMLPNet models of bench:model (small, small-nolocal, cifar, T224, B224, ...)', repmlpnet)
    ?? ['small', 'cifar', 'T224'];
}

/** The reference model's config keys (bench/peers/repmlpnet_torch.py). */
function torchConfig(c: RepMLPNetConfig) {
  return { in: c.inChannels, classes: c.numClasses, patch: c.patchSize, blocks: c.numBlocks, channels: c.channels, hs: c.hs, ws: c.ws, S: c.sharesetsNums, ks: c.reparamConvK };
}

/** The peer's model spec: RepMLPNet's in the reference keys; the 2021 models' config as it is, with its arch. */
function peerModel(m: ModelSpec) {
  if (isRepMLPNetConfig(m.cfg)) return { name: m.name, cfg: torchConfig(m.cfg), input: m.input };
  return { name: m.name, arch: familyOf(m.cfg).arch, cfg: m.cfg, input: m.input };
}

/** Multiply-adds of one image's forward pass, training form and deploy form. */
function macsOf(m: ModelSpec): { train: number; deploy: number } {
  if (isRepMLPNetConfig(m.cfg)) return { train: flops(m.cfg, m.input[1]), deploy: flops({ ...m.cfg, deploy: true }, m.input[1]) };
  const family = familyOf(m.cfg);
  return { train: family.cost(m.cfg).macs, deploy: family.cost({ ...m.cfg, deploy: true }).macs };
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
  /** the deploy form at batch 1 */
  latency: Timing;
  peakMemoryBytes: number;
}

/** repmlp's side: the eager forward's timings (Side) and the compiled deploy form's. */
interface Ours extends Side {
  inferPlan: Timing;
  latencyPlan: Timing;
}

interface PeerDoc extends Side {
  peer: string;
  threads: number;
  memory: string;
  compiled: Side | null;
  compile: string | null;
  gemmPeak: GemmPeak;
  blas: string;
}

/** onnxruntime's deploy-form inference, at the row's batch and at batch 1. */
interface OrtSide {
  inferDeploy: Timing;
  latency: Timing;
}

interface Row {
  model: string;
  batch: number;
  /** multiply-adds of one image's forward pass, training form and deploy form */
  macs: { train: number; deploy: number };
  repmlp: Ours;
  memory: string;
  pytorch: (Side & { memory: string }) | null;
  compiled: Side | null;
  ort: OrtSide | null;
  /** 1-minute load average when the row was done (the machine is shared) */
  load: number;
  /** repmlp / PyTorch img/s: training step, training-form inference, deploy inference (eager and compiled), batch-1 latency (compiled) */
  ratio: { train: number; inferTrainForm: number; inferDeploy: number; inferPlan: number; latencyPlan: number } | null;
  /** compiled repmlp / onnxruntime img/s: deploy inference, batch-1 latency */
  ortRatio: { inferPlan: number; latencyPlan: number } | null;
}

/**
 * Training steps split by synchronisation points (the peer does the same): forward + loss
 * (then the loss is read), backward (then a gradient element is read), optimizer step (then
 * the loss value is read, as a logged step would).
 */
function trainSteps(model: FamilyModel, x: Tensor, y: Tensor, warmup: number, steps: number): TrainTiming {
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

function inference(model: FamilyModel, x: Tensor, ctx: Context): Timing {
  model.eval();
  return measure(() => scope(() => noGrad(() => void model.forward(x))), () => syncOn(x), { ...ctx.timing, minSampleMs: 0 });
}

/** The deploy form compiled (compileInference) at the batch of x and at batch 1 (x1). */
function compiledInference(model: FamilyModel, x: Tensor, x1: Tensor, ctx: Context): { inferPlan: Timing; latencyPlan: Timing } {
  const compiled = compileInference(model);
  const timing = { ...ctx.timing, minSampleMs: 0 };
  try {
    return {
      inferPlan: measure(() => scope(() => void compiled.run(x)), () => syncOn(x), timing),
      latencyPlan: measure(() => scope(() => void compiled.run(x1)), () => syncOn(x1), timing),
    };
  } finally {
    compiled.dispose();
  }
}

/** repmlp's side of a model, and the deploy form's ONNX export for onnxruntime (CPU runs only). */
function benchModel(m: ModelSpec, batch: number, steps: number, ctx: Context): { side: Ours; memory: string; onnx: Uint8Array | null } {
  const probe = memoryProbe(ctx.device);
  return scope(() => {
    const rng = new Rng(1);
    const x = randn([batch, ...m.input], rng, { device: ctx.device });
    const x1 = randn([1, ...m.input], rng, { device: ctx.device });
    const y = tensor(BigInt64Array.from({ length: batch }, () => BigInt(rng.int(m.cfg.numClasses))), [batch], { device: ctx.device });
    const model = buildModel(m.cfg, { seed: 0, device: ctx.device });
    try {
      probe.reset();
      model.train();
      const train = trainSteps(model, x, y, ctx.timing.warmup, steps);
      const peakMemoryBytes = probe.peakBytes();
      const inferTrainForm = inference(model, x, ctx);
      model.localityInjection();
      const inferDeploy = inference(model, x, ctx);
      const latency = inference(model, x1, ctx);
      const plan = compiledInference(model, x, x1, ctx);
      const onnx = ctx.device === 'cpu' ? exportOnnx(model) : null;
      return { side: { train, inferTrainForm, inferDeploy, latency, ...plan, peakMemoryBytes }, memory: probe.kind, onnx };
    } finally {
      model.dispose();
    }
  });
}

/** onnxruntime on the export, at the row's batch and at batch 1; null (and a note) when it cannot run. */
async function benchOrt(onnx: Uint8Array | null, m: ModelSpec, batch: number, ctx: Context, notes: Set<string>): Promise<OrtSide | null> {
  if (!onnx) return null;
  const r = await ortPeer(onnx, ctx.threads);
  if (!r.ok) {
    notes.add(`onnxruntime peer: ${r.error}`);
    return null;
  }
  notes.add(`onnxruntime-node ${r.peer.version}: a session on the ONNX export (lib/onnx), intraOpNumThreads ${ctx.threads}, default graph optimizations`);
  const timing = { ...ctx.timing, minSampleMs: 0 };
  try {
    return { inferDeploy: await r.peer.time([batch, ...m.input], timing), latency: await r.peer.time([1, ...m.input], timing) };
  } finally {
    await r.peer.release();
  }
}

const imgs = (batch: number, ms: number | undefined) => (ms === undefined ? null : (batch / ms) * 1000);

const USAGE = `usage: npx tsx bench/model.ts [--quick] [--json] [--device cpu|cuda] [--threads N] [--batch N]
  [--models ${MODEL_NAMES.join(',')}] [--warmup N] [--repeats N]
  [--no-peer] [--python PATH] [--charts | --no-charts]`;

async function main(): Promise<void> {
  const started = startBench(CMD, USAGE, valued('models'), {
    full: { warmup: 3, repeats: 20, minSampleMs: 0 },
    quick: { warmup: 2, repeats: 5, minSampleMs: 0 },
  });
  if (!started) return;
  const { v, ctx } = started;
  const cuda = ctx.device === 'cuda';
  const names = listOption(CMD, v, 'models', MODEL_NAMES.join(', '), (s) => modelSpec(s)?.name ?? null)
    ?? (ctx.quick ? ['small'] : cuda ? REPMLPNET_NAMES : [...SMALL_CONFIGS, 'T224']);
  const models = names.map((n) => modelSpec(n)!);
  const machine = describeMachine(ctx);
  log(`${CMD}: ${names.join(', ')} on ${ctx.device}, ${ctx.threads} threads${ctx.quick ? ' (quick)' : ''}`);
  const ours = gemmPeak(ctx);

  const rows: Row[] = [];
  const peerNotes = new Set<string>();
  let peerName: string | null = null, peerGemm: GemmPeak | null = null;
  for (const m of models) {
    const batch = intOption(CMD, v, 'batch', { min: 1 }) ?? (m.small ? (cuda ? 256 : 64) : cuda ? 64 : 8);
    // Training steps: --repeats, else 20 (5 for the ImageNet presets on the CPU, whose steps take seconds).
    const steps = v.repeats !== undefined || m.small || cuda ? ctx.timing.repeats : Math.min(ctx.timing.repeats, 5);
    const mine = benchModel(m, batch, steps, ctx);
    log(`  ${m.name}: repmlp ${mine.side.train.ms.toFixed(1)} ms/step`);
    const ort = await benchOrt(mine.onnx, m, batch, ctx, peerNotes);
    const peer = runPeer<PeerDoc>(ctx, 'model.py', {
      device: ctx.device, threads: ctx.threads, timing: { ...ctx.timing, minSampleMs: 0 }, warmup: ctx.timing.warmup, steps, batch, compile: cuda,
      model: peerModel(m),
    });
    let p: PeerDoc | null = null;
    if (!peer.ok) peerNotes.add(`PyTorch peer: ${peer.error}`);
    else {
      peerName = `${peer.value.peer} (BLAS ${peer.value.blas})`;
      peerGemm = peer.value.gemmPeak;
      const check = peerGemmCheck(ctx.device, peer.value.gemmPeak, ours, peer.value.blas);
      if (check) peerNotes.add(check.note);
      if (!check?.refuse) p = peer.value;
      if (peer.value.compile) peerNotes.add(`PyTorch compiled: ${peer.value.compile}`);
      log(`  ${m.name}: ${peer.value.peer} ${peer.value.train.ms.toFixed(1)} ms/step`);
    }
    const r = mine.side;
    rows.push({
      model: m.name, batch,
      macs: macsOf(m),
      repmlp: r, memory: mine.memory,
      pytorch: p ? { train: p.train, inferTrainForm: p.inferTrainForm, inferDeploy: p.inferDeploy, latency: p.latency, peakMemoryBytes: p.peakMemoryBytes, memory: p.memory } : null,
      compiled: p?.compiled ?? null,
      ort,
      load: os.loadavg()[0],
      ratio: p ? {
        train: p.train.ms / r.train.ms,
        inferTrainForm: p.inferTrainForm.ms / r.inferTrainForm.ms,
        inferDeploy: p.inferDeploy.ms / r.inferDeploy.ms,
        inferPlan: p.inferDeploy.ms / r.inferPlan.ms,
        latencyPlan: p.latency.ms / r.latencyPlan.ms,
      } : null,
      ortRatio: ort ? { inferPlan: ort.inferDeploy.ms / r.inferPlan.ms, latencyPlan: ort.latency.ms / r.latencyPlan.ms } : null,
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
    'deploy: eager = the module forward after Locality Injection; plan = compileInference (BNs folded, fused GEMM epilogues, one native call)',
    ...(models.some((m) => !isRepMLPNetConfig(m.cfg)) ? ['plan of a 2021 model (RepMLP-ResNet, RepMLP-CIFAR): compileInference has no compiled plan for these families and returns the deploy form run eagerly, so plan ~ deploy eager'] : []),
    'ratio: repmlp img/s / the peer\'s img/s (above 1: repmlp is faster); x ort: compiled repmlp vs onnxruntime',
    'load: the 1-minute load average when the row was done (others\' jobs share the machine; ratios are measured back to back in one run)',
    `peak memory during the training steps: repmlp ${rows[0]?.memory ?? '-'} (memoryStats: live tensor bytes); PyTorch ${rows[0]?.pytorch?.memory ?? '-'}${rows[0]?.pytorch?.memory === 'max RSS growth' ? ' (the process max RSS above its RSS before the model was built: weights, activations, gradients, optimizer state, and whatever its allocators keep)' : ''}`,
    ...peerNotes,
    ...(peerEnvNote() ? [peerEnvNote()!] : []),
  ];
  if (ctx.json) {
    process.stdout.write(JSON.stringify({ command: CMD, machine, options: { models: names, timing: ctx.timing }, peer: peerName, gemmPeak: { repmlp: ours, pytorch: peerGemm }, rows, charts, notes }) + '\n');
    return;
  }
  const gemm = `GEMM 1024^3: repmlp ${ours.gflops.toFixed(1)} GFLOP/s${peerGemm ? `, PyTorch ${peerGemm.gflops.toFixed(1)} GFLOP/s` : ''}`;
  console.log(`${machine.cpu}${machine.gpu ? `, ${machine.gpu}` : ''}; ${machine.device}, ${machine.threads} threads; repmlp ${machine.repmlp}, ${peerName ?? 'no PyTorch peer'}; ${gemm}; load ${machine.loadStart.toFixed(2)} -> ${machine.loadEnd.toFixed(2)}\n`);
  console.log('img/s (images per second)');
  console.log(formatTable(throughputColumns(cuda), rows));
  console.log('\nbatch-1 latency of the deploy form, ms (median)');
  console.log(formatTable(latencyColumns(), rows));
  console.log('');
  for (const n of notes) console.log(`  ${n}`);
  if (charts.length) console.log(`charts: ${charts.join(', ')}`);
}

const mib = (b: number | undefined) => (b === undefined ? null : (b / 2 ** 20).toFixed(0));

function throughputColumns(cuda: boolean): Column<Row>[] {
  return [
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
    { header: 'deploy eager', cell: (r) => sig3(imgs(r.batch, r.repmlp.inferDeploy.ms)) },
    { header: 'plan', cell: (r) => sig3(imgs(r.batch, r.repmlp.inferPlan.ms)) },
    { header: 'ort', cell: (r) => sig3(imgs(r.batch, r.ort?.inferDeploy.ms)) },
    { header: 'x ort', cell: (r) => times(r.ortRatio?.inferPlan) },
    { header: 'torch', cell: (r) => sig3(imgs(r.batch, r.pytorch?.inferDeploy.ms)) },
    { header: 'eager x torch', cell: (r) => times(r.ratio?.inferDeploy) },
    { header: 'plan x torch', cell: (r) => times(r.ratio?.inferPlan) },
    ...(cuda ? [
      { header: 'compiled train', cell: (r: Row) => sig3(imgs(r.batch, r.compiled?.train.ms)) },
      { header: 'compiled deploy', cell: (r: Row) => sig3(imgs(r.batch, r.compiled?.inferDeploy.ms)) },
    ] : []),
    { header: 'peak MiB', cell: (r) => mib(r.repmlp.peakMemoryBytes) },
    { header: 'torch MiB', cell: (r) => mib(r.pytorch?.peakMemoryBytes) },
    { header: 'load', cell: (r) => r.load.toFixed(2) },
  ];
}

function latencyColumns(): Column<Row>[] {
  const ms = (t: Timing | undefined) => sig3(t?.ms);
  return [
    { header: 'model', cell: (r) => r.model, align: 'left' },
    { header: 'plan', cell: (r) => ms(r.repmlp.latencyPlan) },
    { header: 'eager', cell: (r) => ms(r.repmlp.latency) },
    { header: 'ort', cell: (r) => ms(r.ort?.latency) },
    { header: 'x ort', cell: (r) => times(r.ortRatio?.latencyPlan) },
    { header: 'torch', cell: (r) => ms(r.pytorch?.latency) },
    { header: 'x torch', cell: (r) => times(r.ratio?.latencyPlan) },
    { header: 'load', cell: (r) => r.load.toFixed(2) },
  ];
}

function throughputChart(rows: Row[], cpu: string, ctx: Context): string {
  return barChartSvg({
    title: `${rows.every((r) => modelSpec(r.model) && isRepMLPNetConfig(modelSpec(r.model)!.cfg)) ? 'RepMLPNet' : 'Model'} throughput: repmlp vs PyTorch`,
    yLabel: 'images / s', groups: rows.map((r) => `${r.model} (batch ${r.batch})`), log: true,
    series: [
      { name: 'repmlp training step', values: rows.map((r) => imgs(r.batch, r.repmlp.train.ms)) },
      { name: 'PyTorch training step', values: rows.map((r) => imgs(r.batch, r.pytorch?.train.ms)) },
      { name: 'repmlp inference, deploy form', values: rows.map((r) => imgs(r.batch, r.repmlp.inferDeploy.ms)) },
      { name: 'repmlp inference, compiled', values: rows.map((r) => imgs(r.batch, r.repmlp.inferPlan.ms)) },
      { name: 'onnxruntime inference', values: rows.map((r) => imgs(r.batch, r.ort?.inferDeploy.ms)) },
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
  main().catch((e: unknown) => {
    console.error((e as Error).message);
    process.exitCode = 1;
  });
}
