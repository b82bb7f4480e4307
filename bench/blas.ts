// repmlp's hand-written CPU kernels against OpenBLAS and oneDNN on the models' own shapes:
// the strided-batched GEMM (native gemm_strided_batched, the kernel under matmul, linear,
// groupedLinear, setSharingFc and conv1x1) and the direct convolution (conv2d_forward /
// conv2d_backward), each case in exactly the layout the model's op hands the kernel. The
// libraries run in bench/peers/blas_peer.cc, built here on demand with g++ into build-bench/
// and run back to back with repmlp's side, case by case, at the same thread count (OpenBLAS:
// openblas_set_num_threads; oneDNN: OMP_NUM_THREADS). A batched case runs on the libraries
// as one cblas_sgemm / dnnl_sgemm call per matrix, and on oneDNN also as one matmul primitive
// over the strided batch. Run: npm run bench:libs [-- --threads-list 2,1] [--models small,...] [--quick] [--json]
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { native, type Conv2dShape, type NativeStorage } from '../lib/native';
import { info, setNumThreads } from '../lib/info';
import { preset } from '../lib/models/presets';
import { repmlpChannels, resnetPlan, resnetPreset, validateResNetConfig } from '../lib/models/repmlp-resnet-config';
import { valued } from '../lib/cli/args';
import { intOption, listOption, parseOptions } from './lib/args';
import { measure, type TimingOptions } from './lib/stats';
import { formatTable, sig3, times } from './lib/table';

const CMD = 'bench:libs';
const ROOT = path.join(__dirname, '..');

interface GemmCase {
  kind: 'gemm';
  id: string;
  model: string;
  layer: string;
  /** layers of this shape in one step of the model (forward or the named gradient) */
  count: number;
  M: number; N: number; K: number; batch: number;
  transA: boolean; transB: boolean;
  lda: number; strideA: number; ldb: number; strideB: number; ldc: number; strideC: number;
}

interface ConvCase {
  kind: 'conv';
  id: string;
  model: string;
  layer: string;
  count: number;
  pass: 'fwd' | 'bwd_data' | 'bwd_weights';
  shape: Conv2dShape;
}

type Case = GemmCase | ConvCase;

let nextId = 0;
function gemm(model: string, layer: string, count: number, g: Omit<GemmCase, 'kind' | 'id' | 'model' | 'layer' | 'count'>): GemmCase {
  return { kind: 'gemm', id: `g${nextId++}`, model, layer, count, ...g };
}

/**
 * groupedLinear's three GEMMs (lib/ops/grouped_linear.ts) for x (R, G*K), weight (G*M, K):
 * y = x W^T, dx = dy W, dW = dy^T x, strided over the G groups. setSharingFc is this with
 * R = N*C/S, G = S, K = M = h*w.
 */
function grouped(model: string, layer: string, count: number, R: number, G: number, K: number, M: number, backward: boolean): GemmCase[] {
  const inF = G * K, outF = G * M;
  const out = [gemm(model, `${layer} fwd`, count, { M: R, N: M, K, batch: G, transA: false, transB: true, lda: inF, strideA: K, ldb: K, strideB: M * K, ldc: outF, strideC: M })];
  if (backward)
    out.push(
      gemm(model, `${layer} dX`, count, { M: R, N: K, K: M, batch: G, transA: false, transB: false, lda: outF, strideA: M, ldb: K, strideB: M * K, ldc: inF, strideC: K }),
      gemm(model, `${layer} dW`, count, { M, N: K, K: R, batch: G, transA: true, transB: false, lda: outF, strideA: M, ldb: inF, strideB: K, ldc: K, strideC: M * K }),
    );
  return out;
}

/**
 * conv1x1's GEMMs (lib/ops/conv1x1.ts) on x (N, Cin, HW): y[n] = W x[n] over the batch with
 * W shared; dx[n] = W^T dy[n]; dW = dy x^T as one GEMM with K = N*HW on channel-major copies
 * (the copies are not timed).
 */
function conv1x1(model: string, layer: string, count: number, N: number, Cin: number, Cout: number, HW: number, backward: boolean): GemmCase[] {
  const out = [gemm(model, `${layer} fwd`, count, { M: Cout, N: HW, K: Cin, batch: N, transA: false, transB: false, lda: Cin, strideA: 0, ldb: HW, strideB: Cin * HW, ldc: HW, strideC: Cout * HW })];
  if (backward)
    out.push(
      gemm(model, `${layer} dX`, count, { M: Cin, N: HW, K: Cout, batch: N, transA: true, transB: false, lda: Cin, strideA: 0, ldb: HW, strideB: Cout * HW, ldc: HW, strideC: Cin * HW }),
      gemm(model, `${layer} dW`, count, { M: Cout, N: Cin, K: N * HW, batch: 1, transA: false, transB: true, lda: N * HW, strideA: 0, ldb: N * HW, strideB: 0, ldc: Cin, strideC: 0 }),
    );
  return out;
}

/** linear (lib/ops/linear.ts): y (N, out) = x (N, in) W^T. */
function linear(model: string, layer: string, count: number, N: number, inF: number, outF: number): GemmCase {
  return gemm(model, `${layer} fwd`, count, { M: N, N: outF, K: inF, batch: 1, transA: false, transB: true, lda: inF, strideA: 0, ldb: inF, strideB: 0, ldc: outF, strideC: 0 });
}

/** RepMLPNet (lib/models/repmlpnet.ts) at batch N: the patch embedding, per stage fc3, the FFN and the Global Perceptron, the head. */
function repmlpnetCases(model: string, cfg: ReturnType<typeof preset>, N: number, H: number): Case[] {
  const out: Case[] = [];
  const p = typeof cfg.patchSize === 'number' ? cfg.patchSize : cfg.patchSize[0], hw0 = (H / p) ** 2;
  out.push(...conv1x1(model, `stem ${p}x${p}/${p} patch embed ${cfg.inChannels}->${cfg.channels[0]}`, 1, N, cfg.inChannels * p * p, cfg.channels[0], hw0, false));
  cfg.channels.forEach((C, i) => {
    const h = cfg.hs[i], w = cfg.ws[i], hw = h * w, S = cfg.sharesetsNums[i], nb = cfg.numBlocks[i];
    const st = `s${i + 1}`;
    out.push(...grouped(model, `${st} fc3 set-sharing C${C} ${h}x${w} S${S}`, nb, (N * C) / S, S, hw, hw, true));
    out.push(...conv1x1(model, `${st} FFN fc1 ${C}->${4 * C} @${h}x${w}`, nb, N, C, 4 * C, hw, true));
    out.push(...conv1x1(model, `${st} FFN fc2 ${4 * C}->${C} @${h}x${w}`, nb, N, 4 * C, C, hw, false));
    const c = Math.floor(C / (cfg.globalPerceptronReduce ?? 4));
    out.push(...conv1x1(model, `${st} GP fc1 ${C}->${c}`, nb, N, C, c, 1, false));
    out.push(...conv1x1(model, `${st} GP fc2 ${c}->${C}`, nb, N, c, C, 1, false));
  });
  out.push(linear(model, `head ${cfg.channels[cfg.channels.length - 1]}->${cfg.numClasses}`, 1, N, cfg.channels[cfg.channels.length - 1], cfg.numClasses));
  return out;
}

function conv(model: string, layer: string, count: number, s: Conv2dShape, passes: ConvCase['pass'][]): ConvCase[] {
  return passes.map((pass) => ({ kind: 'conv' as const, id: `c${nextId++}`, model, layer: `${layer} ${pass}`, count, pass, shape: s }));
}

/** RepMLP-Res50-Light-224 (lib/models/repmlp-resnet*.ts) at batch N: the Light blocks' fc3, the ResNet-50 3x3 convs, the stem. */
function res50Cases(N: number): Case[] {
  const model = `Res50-Light b${N}`;
  const cfg = validateResNetConfig(resnetPreset('RepMLP-Res50-Light-224'));
  const out: Case[] = [];
  const stem: Conv2dShape = { N, Cin: 3, H: 224, W: 224, Cout: 64, kh: 7, kw: 7, strideH: 2, strideW: 2, padH: 3, padW: 3, groups: 1 };
  out.push(...conv(model, 'stem 7x7/2 3->64 @224', 1, stem, ['fwd', 'bwd_weights']));
  const plan = resnetPlan(cfg);
  for (const stage of plan) {
    const light = stage.filter((b) => b.type === 'light');
    if (!light.length) continue;
    const b = light[0], C = repmlpChannels(b), hw = cfg.h * cfg.w, G = cfg.fc3Groups;
    const P = (b.H / cfg.h) * (b.W / cfg.w);
    out.push(...grouped(model, `fc3 C${C} ${C * hw}x${C * hw} g${G} (${P} partitions)`, light.length, N * P, G, (C * hw) / G, (C * hw) / G, true));
  }
  // ResNet-50's 3x3 convs at their stride-1 maps (the base blocks; count: blocks of that width)
  plan.forEach((stage, i) => {
    const base = stage.filter((b) => b.type === 'base');
    if (!base.length) return;
    const c = base[0].midC, H = base[0].H;
    const s: Conv2dShape = { N, Cin: c, H, W: H, Cout: c, kh: 3, kw: 3, strideH: 1, strideW: 1, padH: 1, padW: 1, groups: 1 };
    out.push(...conv(model, `s${i + 1} 3x3 ${c}@${H}x${H}`, base.length, s, ['fwd', 'bwd_data', 'bwd_weights']));
  });
  return out;
}

function allCases(quick: boolean): Case[] {
  const small = preset('small', { inChannels: 1, numClasses: 10 });
  const out = [
    ...repmlpnetCases('small b64', small, 64, 32),
    ...repmlpnetCases('cifar b64', preset('cifar'), 64, 32),
    ...repmlpnetCases('T224 b8', preset('RepMLPNet-T224'), 8, 224),
    ...res50Cases(4),
  ];
  return quick ? out.filter((c) => !c.model.startsWith('T224')) : out;
}

function flops(c: Case): number {
  if (c.kind === 'gemm') return 2 * c.M * c.N * c.K * c.batch;
  const s = c.shape;
  const Ho = Math.floor((s.H + 2 * s.padH - s.kh) / s.strideH) + 1, Wo = Math.floor((s.W + 2 * s.padW - s.kw) / s.strideW) + 1;
  return 2 * s.N * Ho * Wo * s.Cout * (s.Cin / s.groups) * s.kh * s.kw;
}

// ---- repmlp's side ----

function filled(n: number): NativeStorage {
  const s = new native.Storage('cpu', 'float32', Math.max(n, 1));
  const h = new Float32Array(Math.max(n, 1));
  for (let i = 0; i < h.length; i++) h[i] = Math.sin(i * 0.37);
  s.write(h);
  return s;
}

function extent(batch: number, rows: number, ld: number, stride: number): number {
  return (batch - 1) * stride + rows * ld;
}

function timeOurs(c: Case, t: TimingOptions): number {
  if (c.kind === 'gemm') {
    const sA = filled(extent(c.batch, c.transA ? c.K : c.M, c.lda, c.strideA));
    const sB = filled(extent(c.batch, c.transB ? c.N : c.K, c.ldb, c.strideB));
    const sC = filled(extent(c.batch, c.M, c.ldc, c.strideC));
    const args = { C: sC, A: sA, B: sB, M: c.M, N: c.N, K: c.K, batch: c.batch, transA: c.transA, transB: c.transB, alpha: 1, beta: 0, offC: 0, ldc: c.ldc, strideC: c.strideC, offA: 0, lda: c.lda, strideA: c.strideA, offB: 0, ldb: c.ldb, strideB: c.strideB };
    const ms = measure(() => native.gemm_strided_batched(args), () => {}, t).ms;
    for (const s of [sA, sB, sC]) s.dispose();
    return ms;
  }
  const s = c.shape;
  const Ho = Math.floor((s.H + 2 * s.padH - s.kh) / s.strideH) + 1, Wo = Math.floor((s.W + 2 * s.padW - s.kw) / s.strideW) + 1;
  const x = filled(s.N * s.Cin * s.H * s.W), w = filled(s.Cout * (s.Cin / s.groups) * s.kh * s.kw), y = filled(s.N * s.Cout * Ho * Wo);
  const run =
    c.pass === 'fwd' ? () => native.conv2d_forward({ out: y, inp: x, weight: w, bias: null, ...s })
      : c.pass === 'bwd_data' ? () => native.conv2d_backward({ dinp: x, dweight: null, dbias: null, dout: y, inp: null, weight: w, ...s })
        : () => native.conv2d_backward({ dinp: null, dweight: w, dbias: null, dout: y, inp: x, weight: null, ...s });
  const ms = measure(run, () => {}, t).ms;
  for (const st of [x, w, y]) st.dispose();
  return ms;
}

// ---- the libraries' side ----

interface PeerRow {
  id: string;
  openblas_ms?: number;
  dnnl_sgemm_ms?: number;
  dnnl_matmul_ms?: number;
  dnnl_matmul_impl?: string;
  dnnl_conv_ms?: number;
  dnnl_conv_impl?: string;
  dnnl_conv_blocked_ms?: number;
  dnnl_conv_blocked_impl?: string;
}

interface PeerInfo {
  threads: number;
  openblas_threads: number;
  openblas: string;
  openblas_core: string;
  dnnl: string;
  omp_num_threads: string;
}

/** Builds build-bench/blas_peer when it is missing or older than its source. */
function buildPeer(): string {
  const src = path.join(ROOT, 'bench', 'peers', 'blas_peer.cc');
  const exe = path.join(ROOT, 'build-bench', 'blas_peer');
  if (fs.existsSync(exe) && fs.statSync(exe).mtimeMs >= fs.statSync(src).mtimeMs) return exe;
  fs.mkdirSync(path.dirname(exe), { recursive: true });
  const blasInc = ['/usr/include/x86_64-linux-gnu/openblas-pthread', '/usr/include/openblas'].filter((d) => fs.existsSync(d)).map((d) => `-I${d}`);
  const blasLib = ['/usr/lib/x86_64-linux-gnu/openblas-pthread'].filter((d) => fs.existsSync(d)).flatMap((d) => [`-L${d}`, `-Wl,-rpath,${d}`]);
  const args = ['-std=c++17', '-O3', '-march=native', ...blasInc, src, '-o', exe, ...blasLib, '-lopenblas', '-ldnnl'];
  process.stderr.write(`${CMD}: g++ ${args.join(' ')}\n`);
  const r = spawnSync('g++', args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0)
    throw new Error(`${CMD}: expected the peer to build (needs g++, libopenblas-dev and libdnnl-dev) but g++ exited with ${r.status ?? r.error?.message}`);
  return exe;
}

function caseLine(c: Case): string {
  if (c.kind === 'gemm')
    return ['gemm', c.id, c.M, c.N, c.K, c.batch, +c.transA, +c.transB, c.lda, c.strideA, c.ldb, c.strideB, c.ldc, c.strideC].join(' ');
  const s = c.shape;
  return ['conv', c.id, c.pass, s.N, s.Cin, s.H, s.W, s.Cout, s.kh, s.kw, s.strideH, s.strideW, s.padH, s.padW, s.groups].join(' ');
}

function runPeer(exe: string, cases: Case[], threads: number, t: TimingOptions): { info: PeerInfo; rows: Map<string, PeerRow> } {
  const env = { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) };
  const r = spawnSync(exe, [String(threads), String(t.warmup), String(t.repeats), String(t.minSampleMs)], {
    input: cases.map(caseLine).join('\n') + '\n', encoding: 'utf8', env, maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`${CMD}: blas_peer exited with ${r.status ?? r.error?.message}: ${(r.stderr || '').trim().split('\n').pop()}`);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as PeerRow & Partial<PeerInfo> & { info?: boolean });
  const infoLine = lines.find((l) => l.info) as unknown as PeerInfo;
  return { info: infoLine, rows: new Map(lines.filter((l) => !l.info).map((l) => [l.id, l])) };
}

// ---- the run ----

interface Row {
  c: Case;
  mflop: number;
  ours: number;
  openblas: number | null;
  /** the faster of dnnl_sgemm per matrix and the matmul primitive (GEMM), or the plain-layout convolution */
  dnnl: number | null;
  dnnlHow: string;
  /** the convolution primitive in its own blocked layouts, reorders not timed */
  dnnlBlocked: number | null;
}

function combine(c: Case, ours: number, p: PeerRow | undefined): Row {
  let dnnl: number | null = null, how = '';
  if (c.kind === 'gemm') {
    const a = p?.dnnl_sgemm_ms, b = p?.dnnl_matmul_ms;
    if (a !== undefined && (b === undefined || a <= b)) [dnnl, how] = [a, 'sgemm'];
    else if (b !== undefined) [dnnl, how] = [b, `matmul ${p?.dnnl_matmul_impl ?? ''}`];
    else how = p?.dnnl_matmul_impl ?? '';
  } else {
    dnnl = p?.dnnl_conv_ms ?? null;
    how = p?.dnnl_conv_impl ?? '';
  }
  return { c, mflop: flops(c) / 1e6, ours, openblas: p?.openblas_ms ?? null, dnnl, dnnlHow: how, dnnlBlocked: c.kind === 'conv' ? p?.dnnl_conv_blocked_ms ?? null : null };
}

const gf = (mflop: number, ms: number | null) => (ms === null ? null : mflop / ms); // MFLOP per ms = GFLOP/s

function table(rows: Row[]): string {
  return formatTable<Row>([
    { header: 'model', cell: (r) => r.c.model, align: 'left' },
    { header: 'layer', cell: (r) => r.c.layer, align: 'left' },
    { header: 'x', cell: (r) => String(r.c.count) },
    { header: 'shape', cell: (r) => shapeText(r.c), align: 'left' },
    { header: 'MFLOP', cell: (r) => sig3(r.mflop) },
    { header: 'repmlp ms', cell: (r) => sig3(r.ours) },
    { header: 'GF/s', cell: (r) => sig3(gf(r.mflop, r.ours)) },
    { header: 'OpenBLAS ms', cell: (r) => sig3(r.openblas) },
    { header: 'GF/s', cell: (r) => sig3(gf(r.mflop, r.openblas)) },
    { header: 'oneDNN ms', cell: (r) => sig3(r.dnnl) },
    { header: 'GF/s', cell: (r) => sig3(gf(r.mflop, r.dnnl)) },
    { header: 'oneDNN via', cell: (r) => r.dnnlHow, align: 'left' },
    { header: 'blocked ms', cell: (r) => sig3(r.dnnlBlocked) },
    { header: 'OB/ours', cell: (r) => times(r.openblas === null ? null : r.ours / r.openblas) },
    { header: 'DNNL/ours', cell: (r) => times(r.dnnl === null ? null : r.ours / r.dnnl) },
  ], rows);
}

function shapeText(c: Case): string {
  if (c.kind === 'gemm') return `${c.batch > 1 ? `${c.batch}x ` : ''}${c.M}x${c.N}x${c.K}${c.transA ? ' At' : ''}${c.transB ? ' Bt' : ''}${c.batch > 1 && c.strideA === 0 ? ' A shared' : ''}`;
  const s = c.shape;
  return `N${s.N} ${s.Cin}->${s.Cout} ${s.H}x${s.W} k${s.kh} s${s.strideH} p${s.padH}`;
}

/** Per model: the step's time in these kernels (sum of count x ms), repmlp against each library and against the faster library per row. */
function totals(rows: Row[]): string {
  const models = [...new Set(rows.map((r) => r.c.model))];
  const out = models.flatMap((m) => (['gemm', 'conv'] as const).map((kind) => {
    const rs = rows.filter((r) => r.c.model === m && r.c.kind === kind);
    if (!rs.length) return null;
    const sum = (f: (r: Row) => number | null) => rs.reduce((s, r) => s + r.c.count * (f(r) ?? r.ours), 0);
    const ours = sum((r) => r.ours), ob = sum((r) => r.openblas), dn = sum((r) => r.dnnl);
    const best = sum((r) => Math.min(r.ours, r.openblas ?? Infinity, r.dnnl ?? Infinity));
    return [m, kind, sig3(ours), sig3(ob), times(ours / ob), sig3(dn), times(ours / dn), sig3(best), times(ours / best)];
  })).filter((r): r is (string | null)[] => r !== null);
  return formatTable<(string | null)[]>(
    ['model', 'kernels', 'repmlp ms', 'OpenBLAS ms', 'ours/OB', 'oneDNN ms', 'ours/DNNL', 'best-of ms', 'ours/best'].map((header, i) => ({ header, cell: (r) => r[i], align: i < 2 ? 'left' as const : 'right' as const })),
    out,
  );
}

function main(): void {
  const v = parseOptions(CMD, process.argv.slice(2), valued('threads-list', 'models'));
  if (v.help) {
    console.log(`usage: npx tsx bench/blas.ts [--threads-list 2,1] [--models small,cifar,T224,Res50-Light] [--quick] [--json] [--warmup N] [--repeats N]`);
    return;
  }
  const threadCounts = listOption(CMD, v, 'threads-list', 'thread counts (integers >= 1)', (s) => {
    const n = Number(s);
    return Number.isInteger(n) && n >= 1 ? n : null;
  }) ?? [Math.min(2, os.cpus().length), 1];
  const quick = v.quick === true;
  const t: TimingOptions = {
    warmup: intOption(CMD, v, 'warmup', { min: 0, max: 100 }) ?? 1,
    repeats: intOption(CMD, v, 'repeats', { min: 1, max: 100 }) ?? (quick ? 3 : 5),
    minSampleMs: quick ? 10 : 20,
  };
  const only = listOption(CMD, v, 'models', 'model names (small, cifar, T224, Res50-Light)', (s) => s);
  const cases = allCases(quick).filter((c) => !only || only.some((m) => c.model.startsWith(m)));
  const exe = buildPeer();
  const cpuinfo = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
  const flags = /flags\s*:\s*(.*)/.exec(cpuinfo)?.[1].split(' ') ?? [];
  const machine = {
    cpu: (/model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? 'unknown').trim(),
    cores: os.cpus().length,
    isa: ['avx2', 'fma', 'avx512f'].map((f) => `${f}: ${flags.includes(f) ? 'yes' : 'no'}`).join(', '),
    repmlp: info().version,
    loadStart: os.loadavg(),
  };
  console.log(`machine: ${machine.cpu}, ${machine.cores} cores, ${machine.isa}; repmlp ${machine.repmlp}; load average at start ${machine.loadStart.map((x) => x.toFixed(2)).join(' ')}`);
  console.log(`timing: warmup ${t.warmup}, median of ${t.repeats} samples of >= ${t.minSampleMs} ms; ${cases.length} cases`);
  const results: { threads: number; peer: PeerInfo; rows: Row[] }[] = [];
  for (const threads of threadCounts) {
    setNumThreads(threads);
    const started = Date.now();
    // case by case, repmlp then the peer on the same case, so that a change in the machine's
    // load lands on both sides of a row alike
    let peerInfo: PeerInfo | null = null;
    const rows = cases.map((c) => {
      const ours = timeOurs(c, t);
      const p = runPeer(exe, [c], threads, t);
      peerInfo = p.info;
      return combine(c, ours, p.rows.get(c.id));
    });
    const peer = { info: peerInfo! as PeerInfo };
    results.push({ threads, peer: peer.info, rows });
    console.log(`\nthreads: ${threads} (repmlp ${native.runtimeInfo().threads}, OpenBLAS ${peer.info.openblas_threads}, OMP_NUM_THREADS ${peer.info.omp_num_threads}); ${((Date.now() - started) / 1000).toFixed(0)} s`);
    console.log(`libraries: ${peer.info.openblas} (core ${peer.info.openblas_core}); oneDNN ${peer.info.dnnl}`);
    console.log(table(rows));
    console.log('\nper model, one step of these kernels (sum over rows of x * ms; a row a library did not run counts at repmlp\'s time):');
    console.log(totals(rows));
  }
  const loadEnd = os.loadavg();
  console.log(`\nload average at end ${loadEnd.map((x) => x.toFixed(2)).join(' ')}`);
  if (v.json) {
    const file = path.join(ROOT, 'build-bench', 'blas.json');
    fs.writeFileSync(file, JSON.stringify({ machine: { ...machine, loadEnd }, timing: t, results }, null, 1));
    console.log(`json: ${path.relative(ROOT, file)}`);
  }
}

main();
