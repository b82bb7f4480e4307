// FC vs conv microbenchmarks (npm run bench:fc), side by side with PyTorch:
//   conv     the set-sharing FC against dense k x k and depthwise convs on the same input,
//            matched at equal FLOPs and at equal parameters, over map sizes and share-sets S
//   block    one RepMLP block in training form (1x1 and 3x3 branches) against the same block
//            after Locality Injection: forward (eval) and forward + backward (training mode)
//   presets  the FC3 of every stage of the ImageNet presets at the stage's map size
//   resnet   the convs of a ResNet-50 (and of the RepMLP-Res50 models' base blocks) at 224 x 224:
//            the 7x7 stride-2 stem conv (3 -> 64), its 3x3 stride-2 max pool, and the 3x3 convs
//            of the four stages (stride 1, and stride 2 at the stages' starts), forward and
//            forward + backward (not in the default parts: --parts resnet)
// Every row: median ms per call, GFLOP/s, GB/s (minimal bytes), % of the GEMM peak measured in
// the same run, and PyTorch's time for the same case (bench/peers/fc.py). See bench/RESULTS.md.
//
//   npx tsx bench/fc.ts [--quick] [--json] [--device cpu|cuda] [--threads N] [--batch N]
//       [--parts conv,block,presets,resnet] [--maps 7x7,14x14] [--S 1,4,16] [--channels 128] [--k 3]
//       [--presets T224,B224] [--warmup N] [--repeats N] [--no-peer] [--python PATH] [--charts|--no-charts]
import { noGrad } from '../lib/autograd';
import { randn } from '../lib/creation';
import { RepMLPBlock } from '../lib/models/repmlpnet';
import { presetNames, type PresetName } from '../lib/models/presets';
import { conv2d } from '../lib/ops/conv2d';
import { maxPool2d } from '../lib/ops/maxpool';
import { setSharingFc } from '../lib/ops/setsharing_fc';
import { sum } from '../lib/ops/sum';
import { Rng } from '../lib/rng';
import { scope } from '../lib/scope';
import type { Tensor } from '../lib/tensor';
import { valued } from '../lib/cli/args';
import { intOption, listOption } from './lib/args';
import {
  describeMachine, gemmPeak, log, peerEnvNote, peerNotes, peerSummary, runPeer, startBench, syncOn, writeChart, type Context, type GemmPeak,
} from './lib/context';
import {
  blockMacs, convCost, denseConvMatching, depthwiseConvMatching, fcCost, IMAGENET_PRESETS, presetFc3Shapes,
  type ConvShape, type Cost, type FcShape, type Match,
} from './lib/shapes';
import { gbps, gflops, measure, type Timing } from './lib/stats';
import { barChartSvg } from './lib/svg';
import { fixed, formatTable, sig3, times, type Column } from './lib/table';
import * as os from 'node:os';

const CMD = 'bench:fc';
const PARTS = ['conv', 'block', 'presets', 'resnet'] as const;
type Part = (typeof PARTS)[number];
/** The parts a run without --parts does. */
const DEFAULT_PARTS: Part[] = ['conv', 'block', 'presets'];

/** One timed case; `peer` is what bench/peers/fc.py needs to build the same case. */
interface Case {
  id: string;
  part: Part;
  /** what the row shows: map, op, matching, ... */
  label: Record<string, string>;
  cost: Cost;
  /** FLOPs = 2 x multiply-adds, times 3 for forward + backward */
  flops: number;
  /** the row this one is compared against (its time ratio is printed), if any */
  ref?: string;
  peer: Record<string, unknown>;
  build: (rng: Rng, ctx: Context) => { run: () => void; sync: () => void; dispose: () => void };
}

interface Row {
  id: string;
  part: Part;
  label: Record<string, string>;
  macs: number;
  params: number;
  bytes: number;
  flops: number;
  repmlp: Timing & { gflops: number; gbps: number; peakFraction: number };
  /** this row's time / its reference row's time (repmlp), e.g. conv / FC */
  vsRef: number | null;
  pytorch: { ms: number; vsRef: number | null; compiledMs: number | null } | null;
  /** PyTorch time / repmlp time: above 1, repmlp is faster */
  speedup: number | null;
}

// ---- cases ----

function fcBuild(s: FcShape) {
  return (rng: Rng, ctx: Context) => {
    const hw = s.h * s.w;
    const x = randn([s.N, s.C, s.h, s.w], rng, { device: ctx.device });
    const weight = randn([s.S * hw, hw, 1, 1], rng, { device: ctx.device, std: 1 / Math.sqrt(hw) });
    return {
      run: () => scope(() => void setSharingFc(x, weight, s.S, s.h, s.w)),
      sync: () => syncOn(x),
      dispose: () => [x, weight].forEach((t) => t.dispose()),
    };
  };
}

function convBuild(s: ConvShape) {
  return (rng: Rng, ctx: Context) => {
    const x = randn([s.N, s.C, s.h, s.w], rng, { device: ctx.device });
    const weight = randn([s.Cout, s.C / s.groups, s.k, s.k], rng, { device: ctx.device, std: 1 / s.k });
    return {
      run: () => scope(() => void conv2d(x, weight, null, { padding: s.k >> 1, groups: s.groups })),
      sync: () => syncOn(x),
      dispose: () => [x, weight].forEach((t) => t.dispose()),
    };
  };
}

type BlockForm = 'train' | 'deploy';
type BlockMode = 'eval' | 'fwd+bwd';

function blockBuild(s: FcShape, form: BlockForm, mode: BlockMode, ks: number[]) {
  return (rng: Rng, ctx: Context) => {
    const block = new RepMLPBlock(s.C, { h: s.h, w: s.w, S: s.S, reparamConvK: ks }, { rng, device: ctx.device });
    if (form === 'deploy') block.localityInjection();
    const x = randn([s.N, s.C, s.h, s.w], rng, { device: ctx.device });
    const params = block.parameters();
    let run: () => void;
    if (mode === 'eval') {
      block.eval();
      run = () => scope(() => noGrad(() => void block.forward(x)));
    } else {
      block.train();
      x.requiresGrad_();
      const clear = (t: Tensor) => {
        t.grad?.dispose();
        t.grad = null;
      };
      run = () =>
        scope(() => {
          params.forEach(clear);
          clear(x);
          sum(block.forward(x)).backward();
        });
    }
    return { run, sync: () => syncOn(x), dispose: () => (block.dispose(), x.dispose()) };
  };
}

const mapName = (s: { h: number; w: number }) => `${s.h}x${s.w}`;

/** A layer of ResNet-50 at 224 x 224: a conv (C -> Cout, k x k) or a max pool, on an (N, C, h, w) input. */
interface ResNetLayer {
  name: string;
  kind: 'conv' | 'maxpool';
  N: number;
  C: number;
  Cout: number;
  h: number;
  w: number;
  k: number;
  stride: number;
  padding: number;
  /** how many layers of this shape ResNet-50 has */
  count: number;
  /** the input needs no gradient (the stem: its input is the image) */
  inputGrad: boolean;
}

const outSize = (l: ResNetLayer, n: number) => Math.floor((n + 2 * l.padding - l.k) / l.stride) + 1;

/** The stem, its max pool and the 3x3 convs of the four stages (block j == 0 of stages 2-4 strided). */
function resnetLayers(N: number): ResNetLayer[] {
  const layer = (name: string, kind: ResNetLayer['kind'], C: number, Cout: number, size: number, k: number, stride: number, count: number): ResNetLayer =>
    ({ name, kind, N, C, Cout, h: size, w: size, k, stride, padding: k >> 1, count, inputGrad: name !== 'stem' });
  return [
    layer('stem', 'conv', 3, 64, 224, 7, 2, 1),
    layer('stem pool', 'maxpool', 64, 64, 112, 3, 2, 1),
    layer('stage 1', 'conv', 64, 64, 56, 3, 1, 3),
    layer('stage 2 start', 'conv', 128, 128, 56, 3, 2, 1),
    layer('stage 2', 'conv', 128, 128, 28, 3, 1, 3),
    layer('stage 3 start', 'conv', 256, 256, 28, 3, 2, 1),
    layer('stage 3', 'conv', 256, 256, 14, 3, 1, 5),
    layer('stage 4 start', 'conv', 512, 512, 14, 3, 2, 1),
    layer('stage 4', 'conv', 512, 512, 7, 3, 1, 2),
  ];
}

function resnetBuild(l: ResNetLayer, mode: BlockMode) {
  return (rng: Rng, ctx: Context) => {
    const x = randn([l.N, l.C, l.h, l.w], rng, { device: ctx.device });
    const weight = l.kind === 'conv' ? randn([l.Cout, l.C, l.k, l.k], rng, { device: ctx.device, std: 1 / (l.k * Math.sqrt(l.C)) }) : null;
    const opts = { stride: l.stride, padding: l.padding };
    const op = () => (weight ? conv2d(x, weight, null, opts) : maxPool2d(x, l.k, opts));
    let run: () => void;
    if (mode === 'eval') run = () => scope(() => noGrad(() => void op()));
    else {
      const leaves = [...(l.inputGrad ? [x] : []), ...(weight ? [weight] : [])];
      leaves.forEach((t) => t.requiresGrad_());
      run = () =>
        scope(() => {
          for (const t of leaves) {
            t.grad?.dispose();
            t.grad = null;
          }
          sum(op()).backward();
        });
    }
    return { run, sync: () => syncOn(x), dispose: () => [x, ...(weight ? [weight] : [])].forEach((t) => t.dispose()) };
  };
}

function resnetCases(N: number): Case[] {
  return resnetLayers(N).flatMap((l) => {
    const Ho = outSize(l, l.h), Wo = outSize(l, l.w);
    const params = l.kind === 'conv' ? l.Cout * l.C * l.k * l.k : 0;
    const outputs = l.N * l.Cout * Ho * Wo;
    // a max pool's "multiply-adds": one comparison per window element (as FLOPs, x2 like the convs')
    const macs = outputs * (l.kind === 'conv' ? l.C * l.k * l.k : l.k * l.k) / (l.kind === 'conv' ? 1 : 2);
    const cost: Cost = { macs, params, bytes: 4 * (l.N * l.C * l.h * l.w + params + outputs) };
    const op = l.kind === 'conv' ? `conv ${l.k}x${l.k} s${l.stride}, ${l.C}->${l.Cout}` : `max pool ${l.k}x${l.k} s${l.stride}, C=${l.C}`;
    const shape = `${mapName(l)} -> ${Ho}x${Wo}`;
    const key = `resnet/${l.name.replace(/ /g, '-')}`;
    return (['eval', 'fwd+bwd'] as const).map((mode) => ({
      id: `${key}/${mode}`, part: 'resnet' as const, cost,
      // forward + backward: x3 for a conv whose input needs its gradient (dx and dW), x2 for the stem (dW only); a pool's backward scatters, counted x1 more
      flops: 2 * macs * (mode === 'eval' ? 1 : l.kind === 'maxpool' ? 2 : l.inputGrad ? 3 : 2),
      label: { layer: l.name, op, shape, count: String(l.count), mode: mode === 'eval' ? 'forward' : l.inputGrad ? 'fwd+bwd' : 'fwd+bwd (dW)' },
      ref: mode === 'eval' ? undefined : `${key}/eval`,
      peer: { kind: 'resnet', op: l.kind, N: l.N, C: l.C, Cout: l.Cout, h: l.h, w: l.w, k: l.k, stride: l.stride, padding: l.padding, inputGrad: l.inputGrad, mode },
      build: resnetBuild(l, mode),
    }));
  });
}

function convLabel(c: ConvShape): string {
  return c.groups === 1 ? `conv ${c.k}x${c.k}, ${c.C}->${c.Cout}` : `dw conv ${c.k}x${c.k}`;
}

function convCases(N: number, C: number, k: number, maps: { h: number; w: number }[], Ss: number[]): Case[] {
  const cases: Case[] = [];
  for (const m of maps) {
    const sets = Ss.filter((S) => C % S === 0);
    const fcId = (S: number) => `conv/${mapName(m)}/fc-S${S}`;
    for (const S of sets) {
      const s: FcShape = { N, C, h: m.h, w: m.w, S };
      const cost = fcCost(s);
      cases.push({
        id: fcId(S), part: 'conv', label: { map: mapName(m), op: `FC S=${S}`, matched: '' }, cost, flops: 2 * cost.macs,
        peer: { kind: 'fc', ...s }, build: fcBuild(s),
      });
    }
    const matchedCase = (fc: FcShape, match: Match, dense: boolean, ref: string): Case | null => {
      const r = dense ? denseConvMatching(fc, k, match) : depthwiseConvMatching(fc, match);
      const tag = match === 'flops' ? '= FLOPs' : `= params S=${fc.S}`;
      if (!r.conv) {
        log(`${CMD}: ${mapName(m)} ${dense ? 'dense' : 'depthwise'} conv at ${tag}: skipped, ${r.reason}`);
        return null;
      }
      const c = r.conv, cost = convCost(c);
      return {
        id: `conv/${mapName(m)}/${dense ? 'dense' : 'dw'}-${match}${match === 'params' ? `-S${fc.S}` : ''}`,
        part: 'conv', label: { map: mapName(m), op: convLabel(c), matched: tag }, cost, flops: 2 * cost.macs, ref,
        peer: { kind: 'conv', ...c }, build: convBuild(c),
      };
    };
    const first: FcShape = { N, C, h: m.h, w: m.w, S: sets[0] };
    for (const dense of [true, false]) {
      const c = matchedCase(first, 'flops', dense, fcId(sets[0]));
      if (c) cases.push(c);
    }
    for (const S of sets)
      for (const dense of [true, false]) {
        const c = matchedCase({ ...first, S }, 'params', dense, fcId(S));
        if (c) cases.push(c);
      }
  }
  return cases;
}

function blockCases(shapes: FcShape[], ks: number[]): Case[] {
  return shapes.flatMap((s) => {
    const shape = `C=${s.C} ${mapName(s)} S=${s.S}`;
    return (['eval', 'fwd+bwd'] as const).flatMap((mode) =>
      (['train', 'deploy'] as const).map((form) => {
        const macs = blockMacs(s, form === 'train' ? ks : []);
        const fc = fcCost(s);
        // fc3, and the conv branches' kernels (training form) or fc3's bias (deploy form)
        const params = fc.params + (form === 'train' ? ks.reduce((n, k) => n + s.S * k * k, 0) : s.S * s.h * s.w);
        const cost: Cost = { macs, params, bytes: fc.bytes };
        const id = `block/${shape}/${mode}/${form}`;
        return {
          id, part: 'block' as const, cost, flops: 2 * macs * (mode === 'eval' ? 1 : 3),
          label: { shape, mode, form: form === 'train' ? `training (branches ${ks.join(',')})` : 'deploy' },
          ref: form === 'train' ? `block/${shape}/${mode}/deploy` : undefined,
          peer: { kind: 'block', ...s, ks, form, mode }, build: blockBuild(s, form, mode, ks),
        };
      }),
    );
  });
}

function presetCases(names: PresetName[], N: number): Case[] {
  const byShape = new Map<string, { s: FcShape; who: string[] }>();
  for (const st of presetFc3Shapes(names, N)) {
    const key = `C=${st.C} ${mapName(st)} S=${st.S}`;
    const who = `${st.preset.replace('RepMLPNet-', '')}.${st.stage}`;
    const e = byShape.get(key);
    if (e) e.who.push(who);
    else byShape.set(key, { s: { N, C: st.C, h: st.h, w: st.w, S: st.S }, who: [who] });
  }
  return [...byShape.entries()].map(([key, { s, who }]) => {
    const cost = fcCost(s);
    return {
      id: `presets/${key}`, part: 'presets' as const, cost, flops: 2 * cost.macs,
      label: { stages: who.join(' '), shape: key }, peer: { kind: 'fc', ...s }, build: fcBuild(s),
    };
  });
}

// ---- options ----

function parseMap(s: string): { h: number; w: number } | null {
  const m = /^(\d+)x(\d+)$/.exec(s);
  return m && Number(m[1]) > 0 && Number(m[2]) > 0 ? { h: Number(m[1]), w: Number(m[2]) } : null;
}

function parsePreset(s: string): PresetName | null {
  const name = (s.startsWith('RepMLPNet-') ? s : `RepMLPNet-${s}`) as PresetName;
  return IMAGENET_PRESETS.includes(name) && presetNames.includes(name) ? name : null;
}

const positiveInt = (s: string) => (/^\d+$/.test(s) && Number(s) > 0 ? Number(s) : null);

const USAGE = `usage: npx tsx bench/fc.ts [--quick] [--json] [--device cpu|cuda] [--threads N] [--batch N]
  [--parts conv,block,presets,resnet] [--maps 7x7,8x8,14x14,16x16] [--S 1,4,16] [--channels 128] [--k 3]
  [--presets T224,B224,T256,B256,D256,L256] [--warmup N] [--repeats N]
  [--no-peer] [--python PATH] [--charts | --no-charts]`;

// ---- run ----

function main(): void {
  const started = startBench(CMD, USAGE, valued('parts', 'maps', 'S', 'channels', 'k', 'presets'), {
    full: { warmup: 3, repeats: 10, minSampleMs: 20 },
    quick: { warmup: 1, repeats: 5, minSampleMs: 10 },
  });
  if (!started) return;
  const { v, ctx } = started;
  const cuda = ctx.device === 'cuda';
  const N = intOption(CMD, v, 'batch', { min: 1 }) ?? (cuda ? 64 : 4);
  const C = intOption(CMD, v, 'channels', { min: 1 }) ?? 128;
  const k = intOption(CMD, v, 'k', { min: 1 }) ?? 3;
  if (k % 2 === 0) throw new Error(`${CMD}: expected an odd kernel size for --k but received ${k}`);
  const parts = listOption(CMD, v, 'parts', PARTS.join(', '), (s) => (PARTS as readonly string[]).includes(s) ? (s as Part) : null) ?? [...DEFAULT_PARTS];
  const maps = listOption(CMD, v, 'maps', 'HxW map sizes', parseMap) ?? (ctx.quick ? [{ h: 7, w: 7 }, { h: 14, w: 14 }] : [7, 8, 14, 16].map((h) => ({ h, w: h })));
  const Ss = listOption(CMD, v, 'S', 'positive integers', positiveInt) ?? (ctx.quick ? [1, 16] : [1, 4, 16]);
  const presets = listOption(CMD, v, 'presets', IMAGENET_PRESETS.join(', '), parsePreset) ?? (ctx.quick ? ['RepMLPNet-T224' as const] : [...IMAGENET_PRESETS]);
  if (Ss.every((S) => C % S !== 0)) throw new Error(`${CMD}: expected at least one S dividing --channels ${C} for --S but received ${Ss.join(',')}`);
  // The RepMLP block at T224's stage shapes (stage 3 alone with --quick).
  const t224 = presetFc3Shapes(['RepMLPNet-T224'], N);
  const blockShapes: FcShape[] = (ctx.quick ? t224.filter((s) => s.stage === 3) : t224).map(({ N: n, C: c, h, w, S }) => ({ N: n, C: c, h, w, S }));

  const cases = [
    ...(parts.includes('conv') ? convCases(N, C, k, maps, Ss) : []),
    ...(parts.includes('block') ? blockCases(blockShapes, [1, 3]) : []),
    ...(parts.includes('presets') ? presetCases(presets, N) : []),
    ...(parts.includes('resnet') ? resnetCases(N) : []),
  ];
  const machine = describeMachine(ctx);
  log(`${CMD}: ${cases.length} cases on ${ctx.device}, ${ctx.threads} threads, batch ${N}${ctx.quick ? ' (quick)' : ''}`);

  // The GEMM peak before and after the cases (the better of the two: others' load on a shared machine varies).
  const before = gemmPeak(ctx);
  const rng = new Rng(0);
  const timings = new Map<string, Timing>();
  for (const c of cases) {
    const b = c.build(rng, ctx);
    try {
      timings.set(c.id, measure(b.run, b.sync, ctx.timing));
    } finally {
      b.dispose();
    }
    log(`  ${c.id}: ${timings.get(c.id)!.ms.toFixed(3)} ms`);
  }
  const after = gemmPeak(ctx);
  const peak: { repmlp: GemmPeak; pytorch: GemmPeak | null } = { repmlp: after.gflops > before.gflops ? after : before, pytorch: null };

  // The peer runs the same cases, back to back with repmlp's.
  type PeerRow = { id: string; eager: Timing; compiled: Timing | null };
  type PeerDoc = { peer: string; threads: number; device: string; gemmPeak: GemmPeak; compile: string | null; rows: PeerRow[] };
  const peer = runPeer<PeerDoc>(ctx, 'fc.py', {
    device: ctx.device, threads: ctx.threads, timing: ctx.timing, compile: cuda,
    cases: cases.map((c) => ({ id: c.id, ...c.peer })),
  });
  if (!peer.ok) log(`${CMD}: PyTorch peer: ${peer.error}`);
  const peerRows = new Map(peer.ok ? peer.value.rows.map((r) => [r.id, r]) : []);
  if (peer.ok) peak.pytorch = peer.value.gemmPeak;
  const peakGflops = Math.max(peak.repmlp.gflops, peak.pytorch?.gflops ?? 0);

  const rows: Row[] = cases.map((c) => {
    const t = timings.get(c.id)!;
    const ref = c.ref ? timings.get(c.ref) : undefined;
    const p = peerRows.get(c.id), pref = c.ref ? peerRows.get(c.ref) : undefined;
    const g = gflops(c.flops, t.ms);
    return {
      id: c.id, part: c.part, label: c.label, macs: c.cost.macs, params: c.cost.params, bytes: c.cost.bytes, flops: c.flops,
      repmlp: { ...t, gflops: g, gbps: gbps(c.cost.bytes, t.ms), peakFraction: g / peakGflops },
      vsRef: ref ? t.ms / ref.ms : null,
      pytorch: p ? { ms: p.eager.ms, vsRef: pref ? p.eager.ms / pref.eager.ms : null, compiledMs: p.compiled?.ms ?? null } : null,
      speedup: p ? p.eager.ms / t.ms : null,
    };
  });
  machine.loadEnd = os.loadavg()[0];

  const charts: string[] = [];
  if (ctx.charts) {
    if (parts.includes('conv')) charts.push(writeChart('fc-vs-conv.svg', fcVsConvChart(rows, machine.cpu, ctx)));
    if (parts.includes('block')) charts.push(writeChart('block-train-vs-deploy.svg', blockChart(rows, ctx)));
  }
  const notes = [
    'ms: median per call; GFLOP/s counts 2 x multiply-adds (x3 for forward + backward); GB/s counts inputs + weights + outputs once',
    `% peak: of the larger GEMM rate measured in this run (repmlp ${peak.repmlp.gflops.toFixed(1)}, PyTorch ${peak.pytorch ? peak.pytorch.gflops.toFixed(1) : '-'} GFLOP/s, ${peak.repmlp.n}^3)`,
    `x ref: time / the reference row (conv rows: the FC with the matched S; training-form block rows: the deploy form${parts.includes('resnet') ? '; resnet fwd+bwd rows: the forward' : ''})`,
    ...(parts.includes('resnet') ? [
      'resnet: n = how many layers of the shape ResNet-50 has; fwd+bwd = forward, then backward of sum(y): dx and dW (the stem: dW only, its input is the image), FLOPs x3 (stem x2)',
      'resnet max pool: FLOPs count one comparison per window element (its backward one more pass); read its GB/s rather than its GFLOP/s',
    ] : []),
    'speed-up: PyTorch ms / repmlp ms (above 1: repmlp is faster)',
    ...peerNotes(peer),
    ...(peerEnvNote() ? [peerEnvNote()!] : []),
  ];
  if (ctx.json) {
    process.stdout.write(JSON.stringify({
      command: CMD, machine, options: { batch: N, channels: C, k, parts, maps, S: Ss, presets, timing: ctx.timing },
      peer: peerSummary(peer),
      gemmPeak: peak, rows, charts, notes,
    }) + '\n');
    return;
  }
  printTables(rows, parts, machine, peer.ok ? peer.value.peer : null, cuda, N);
  for (const n of notes) console.log(`  ${n}`);
  if (charts.length) console.log(`charts: ${charts.join(', ')}`);
}

function printTables(rows: Row[], parts: Part[], machine: ReturnType<typeof describeMachine>, peerName: string | null, cuda: boolean, N: number): void {
  console.log(`${machine.cpu}${machine.gpu ? `, ${machine.gpu}` : ''}; ${machine.device}, ${machine.threads} threads, batch ${N}; repmlp ${machine.repmlp}, ${peerName ?? 'no PyTorch peer'}; load ${machine.loadStart.toFixed(2)} -> ${machine.loadEnd?.toFixed(2)}`);
  const timingCols: Column<Row>[] = [
    { header: 'MFLOP', cell: (r) => sig3(r.flops / 1e6) },
    { header: 'params', cell: (r) => String(r.params) },
    { header: 'ms', cell: (r) => sig3(r.repmlp.ms) },
    { header: 'GFLOP/s', cell: (r) => sig3(r.repmlp.gflops) },
    { header: 'GB/s', cell: (r) => sig3(r.repmlp.gbps) },
    { header: '% peak', cell: (r) => fixed(100 * r.repmlp.peakFraction, 0) },
    { header: 'x ref', cell: (r) => times(r.vsRef) },
    { header: 'torch ms', cell: (r) => sig3(r.pytorch?.ms) },
    { header: 'torch x ref', cell: (r) => times(r.pytorch?.vsRef) },
    ...(cuda ? [{ header: 'compiled ms', cell: (r: Row) => sig3(r.pytorch?.compiledMs) }] : []),
    { header: 'speed-up', cell: (r) => times(r.speedup) },
  ];
  const left = (header: string, key: string): Column<Row> => ({ header, cell: (r) => r.label[key], align: 'left' });
  const sections: [Part, string, Column<Row>[]][] = [
    ['conv', 'FC vs conv on the same input (N, C, h, w)', [left('map', 'map'), left('op', 'op'), left('matched', 'matched')]],
    ['block', 'RepMLP block: training form vs deploy form', [left('shape', 'shape'), left('mode', 'mode'), left('form', 'form')]],
    ['presets', 'FC3 of the presets\' stages (one partition per map)', [left('shape', 'shape'), left('stages', 'stages')]],
    ['resnet', 'ResNet-50 convs at 224 x 224 (N, C, h, w) -> (N, Cout, Ho, Wo)', [left('layer', 'layer'), left('op', 'op'), left('map', 'shape'), { header: 'n', cell: (r) => r.label.count }, left('mode', 'mode')]],
  ];
  for (const [part, title, cols] of sections) {
    if (!parts.includes(part)) continue;
    console.log(`\n${title}`);
    console.log(formatTable([...cols, ...timingCols], rows.filter((r) => r.part === part)));
  }
  console.log('');
}

function fcVsConvChart(rows: Row[], cpu: string, ctx: Context): string {
  const conv = rows.filter((r) => r.part === 'conv');
  const maps = [...new Set(conv.map((r) => r.label.map))];
  const pick = (pred: (r: Row) => boolean, val: (r: Row) => number | null) => maps.map((m) => {
    const r = conv.find((x) => x.label.map === m && pred(x));
    return r ? val(r) : null;
  });
  const firstFc = (r: Row) => r.label.op.startsWith('FC') && !conv.some((x) => x.label.map === r.label.map && x.label.op.startsWith('FC') && conv.indexOf(x) < conv.indexOf(r));
  const dense = (r: Row) => r.label.matched === '= FLOPs' && r.label.op.startsWith('conv');
  const dw = (r: Row) => r.label.matched === '= FLOPs' && r.label.op.startsWith('dw');
  const torchG = (r: Row) => (r.pytorch ? gflops(r.flops, r.pytorch.ms) : null);
  const fcS = conv.find(firstFc)?.label.op ?? 'FC';
  return barChartSvg({
    title: 'Set-sharing FC vs convs of equal FLOPs (same input)',
    yLabel: 'GFLOP/s', groups: maps,
    series: [
      { name: `repmlp ${fcS}`, values: pick(firstFc, (r) => r.repmlp.gflops) },
      { name: 'repmlp dense conv, = FLOPs', values: pick(dense, (r) => r.repmlp.gflops) },
      { name: 'repmlp depthwise conv, = FLOPs', values: pick(dw, (r) => r.repmlp.gflops) },
      { name: `PyTorch ${fcS}`, values: pick(firstFc, torchG) },
      { name: 'PyTorch dense conv, = FLOPs', values: pick(dense, torchG) },
      { name: 'PyTorch depthwise conv, = FLOPs', values: pick(dw, torchG) },
    ],
    note: `${cpu}; ${ctx.device}, ${ctx.threads} threads; npm run bench:fc`,
  });
}

function blockChart(rows: Row[], ctx: Context): string {
  const block = rows.filter((r) => r.part === 'block');
  const groups = [...new Set(block.map((r) => `${r.label.shape}, ${r.label.mode}`))];
  const val = (form: string, side: (r: Row) => number | null) => groups.map((g) => {
    const r = block.find((x) => `${x.label.shape}, ${x.label.mode}` === g && x.label.form.startsWith(form));
    return r ? side(r) : null;
  });
  return barChartSvg({
    title: 'RepMLP block: training form (conv branches) vs deploy form',
    yLabel: 'ms per call', groups, log: true,
    series: [
      { name: 'repmlp training form', values: val('training', (r) => r.repmlp.ms) },
      { name: 'repmlp deploy form', values: val('deploy', (r) => r.repmlp.ms) },
      { name: 'PyTorch training form', values: val('training', (r) => r.pytorch?.ms ?? null) },
      { name: 'PyTorch deploy form', values: val('deploy', (r) => r.pytorch?.ms ?? null) },
    ],
    note: `${ctx.device}, ${ctx.threads} threads; npm run bench:fc`,
  });
}

try {
  main();
} catch (e) {
  console.error((e as Error).message);
  process.exitCode = 1;
}
