// What every benchmark run shares: the device (CUDA when it is usable, else the CPU), the
// thread count, the timing options, the PyTorch peer's interpreter, the machine's
// description, the GEMM peak measured in the same run, and peak memory.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultDevice } from '../../lib/backend';
import { randn } from '../../lib/creation';
import { info, memoryStats, resetPeakMemoryStats, setNumThreads } from '../../lib/info';
import { matmul } from '../../lib/ops/matmul';
import { Rng } from '../../lib/rng';
import { scope } from '../../lib/scope';
import type { Device, Tensor } from '../../lib/tensor';
import type { OptionSpecs } from '../../lib/cli/args';
import { chartsWanted, choiceOption, intOption, parseOptions, type Values } from './args';
import { gflops, measure, type TimingOptions } from './stats';

export interface Context {
  command: string;
  device: Device;
  threads: number;
  quick: boolean;
  json: boolean;
  charts: boolean;
  timing: TimingOptions;
  /** the interpreter that runs bench/peers/*.py, or null with --no-peer */
  python: string | null;
}

/**
 * --python, else REPMLP_BENCH_PYTHON, else the first of `python3` on PATH and Debian's
 * /usr/bin/python3 that imports torch (torch with CUDA for a CUDA run), else /usr/bin/python3
 * or python3, whose failure the PyTorch columns then report.
 */
export function peerPython(v: Values, device: 'cpu' | 'cuda'): string {
  if (typeof v.python === 'string') return v.python;
  if (process.env.REPMLP_BENCH_PYTHON) return process.env.REPMLP_BENCH_PYTHON;
  const probe = device === 'cuda' ? 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 3)' : 'import torch';
  for (const python of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(python, ['-c', probe], { stdio: 'ignore', timeout: 120_000 });
    if (r.status === 0) return python;
  }
  return fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

export function makeContext(command: string, v: Values, timing: Timings): Context {
  const dev = choiceOption(command, v, 'device', ['cpu', 'cuda'] as const) ?? defaultDevice();
  if (dev === 'cuda') {
    const cuda = info().backends.cuda;
    if (!cuda.available) throw new Error(`${command}: expected a usable CUDA device for --device cuda but received none (${cuda.reason})`);
    if (!cuda.cublas.found) throw new Error(`${command}: expected cuBLAS for --device cuda but it was not found (see README: cuBLAS search order)`);
  }
  const threads = setNumThreads(intOption(command, v, 'threads', { min: 1, max: 64 }) ?? info().backends.cpu.threads);
  const quick = v.quick === true;
  const base = quick ? timing.quick : timing.full;
  return {
    command,
    device: dev,
    threads,
    quick,
    json: v.json === true,
    charts: chartsWanted(v),
    timing: {
      warmup: intOption(command, v, 'warmup', { min: 0, max: 1000 }) ?? base.warmup,
      repeats: intOption(command, v, 'repeats', { min: 1, max: 10000 }) ?? base.repeats,
      minSampleMs: base.minSampleMs,
    },
    python: v['no-peer'] ? null : peerPython(v, dev),
  };
}

/** Timing options of a full run and of a --quick one. */
export interface Timings {
  full: TimingOptions;
  quick: TimingOptions;
}

/**
 * The start of a benchmark's main: the command line parsed against the common options plus
 * `extra`, and the run's context; null once the usage is printed for --help.
 */
export function startBench(command: string, usage: string, extra: OptionSpecs, timing: Timings): { v: Values; ctx: Context } | null {
  const v = parseOptions(command, process.argv.slice(2), extra);
  if (v.help) {
    console.log(usage);
    return null;
  }
  return { v, ctx: makeContext(command, v, timing) };
}

/** Progress and notes go to stderr, so that --json leaves stdout to the one JSON document. */
export function log(msg: string): void {
  process.stderr.write(msg + '\n');
}

/**
 * Waits for the work queued before it: reads one element of t back to the host (on CUDA the
 * copy waits for the stream; on the CPU every kernel has already finished).
 */
export function syncOn(t: Tensor): void {
  t.storage.read(t.offset, 1);
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  repmlp: string;
  device: Device;
  gpu: string | null;
  threads: number;
  /** 1-minute load average when the run started and ended (others' work on a shared machine shows here) */
  loadStart: number;
  loadEnd?: number;
}

export function describeMachine(ctx: Context): Machine {
  const cpuinfo = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const it = info();
  const dev = it.backends.cuda.devices[0];
  return {
    cpu: model.trim(),
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    repmlp: it.version,
    device: ctx.device,
    gpu: ctx.device === 'cuda' && dev ? `${dev.name ?? 'unknown'} (sm ${dev.computeCapability ?? '?'})` : null,
    threads: ctx.threads,
    loadStart: os.loadavg()[0],
  };
}

export interface GemmPeak {
  n: number;
  ms: number;
  gflops: number;
}

/**
 * A large square float32 GEMM through matmul: the machine's attainable GEMM rate for the
 * roofline column. Its fastest sample counts (a peak, not a typical time).
 */
export function gemmPeak(ctx: Context): GemmPeak {
  const n = ctx.device === 'cuda' ? 4096 : 1024;
  return scope(() => {
    const rng = new Rng(7);
    const a = randn([n, n], rng, { device: ctx.device }), b = randn([n, n], rng, { device: ctx.device });
    const t = measure(() => scope(() => void matmul(a, b)), () => syncOn(a), { ...ctx.timing, minSampleMs: Math.max(ctx.timing.minSampleMs, 50) });
    return { n, ms: t.minMs, gflops: gflops(2 * n ** 3, t.minMs) };
  });
}

// ---- peak memory ----

/** Peak memory from repmlp's allocators (tensor memory, cached blocks excluded), per device. */
export interface MemoryProbe {
  kind: 'allocator peak';
  reset(): void;
  peakBytes(): number;
}

export function memoryProbe(device: Device): MemoryProbe {
  return {
    kind: 'allocator peak',
    reset: () => resetPeakMemoryStats(device),
    peakBytes: () => {
      const s = memoryStats();
      return (device === 'cuda' ? s.cuda?.peakAllocatedBytes : s.cpu.peakAllocatedBytes) ?? 0;
    },
  };
}

// ---- the PyTorch peer ----

export type PeerResult<T> = { ok: true; value: T } | { ok: false; error: string };

/**
 * Runs bench/peers/<script> with `spec` as JSON on stdin and parses the JSON document it
 * prints last. A peer that cannot run (no interpreter, no torch) is reported, not fatal.
 */
export function runPeer<T>(ctx: Context, script: string, spec: object): PeerResult<T> {
  if (!ctx.python) return { ok: false, error: 'skipped (--no-peer)' };
  const file = path.join(__dirname, '..', 'peers', script);
  const r = spawnSync(ctx.python, [file], { input: JSON.stringify(spec), encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) return { ok: false, error: `${ctx.python}: ${r.error.message}` };
  if (r.status !== 0) {
    const last = (r.stderr || '').trim().split('\n').pop() || `exit status ${r.status}`;
    return { ok: false, error: `${script} failed: ${last}` };
  }
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return { ok: true, value: JSON.parse(line) as T };
  } catch {
    return { ok: false, error: `${script} printed no JSON (last line: ${JSON.stringify(line.slice(0, 200))})` };
  }
}

/** The least matmul rate (GFLOP/s, 1024^3) a CPU peer must reach to be compared with: below it torch runs on a reference BLAS or a starved machine. */
export const PEER_MIN_GEMM_GFLOPS = 40;

/**
 * The verdict on a CPU peer whose matmul ran at `peer` GFLOP/s while repmlp's ran at `ours` in
 * the same run (null: a fair peer). Below PEER_MIN_GEMM_GFLOPS and under a quarter of repmlp's
 * rate it is refused (a reference BLAS runs at 4-5 GFLOP/s where an optimised one runs at
 * 100+); below it but close to repmlp's, the machine was starved and the peer is marked.
 */
export function peerGemmCheck(device: Device, peer: GemmPeak | undefined, ours: GemmPeak, blas: string | undefined): { refuse: boolean; note: string } | null {
  if (device !== 'cpu' || !peer || peer.gflops >= PEER_MIN_GEMM_GFLOPS) return null;
  const rate = `its ${peer.n}^3 matmul ran at ${peer.gflops.toFixed(1)} GFLOP/s, below ${PEER_MIN_GEMM_GFLOPS} (repmlp's ${ours.gflops.toFixed(1)}; BLAS ${blas ?? 'unknown'})`;
  if (peer.gflops < ours.gflops / 4)
    return { refuse: true, note: `PyTorch peer REFUSED: ${rate}: a reference BLAS, not a fair peer; its columns are left out` };
  return { refuse: false, note: `PyTorch peer MARKED: ${rate}: both sides ran starved (a loaded machine); read its columns as under load` };
}

/**
 * The OpenMP wait policy the peer inherits, as a note (null when unset): on a loaded machine
 * OMP_WAIT_POLICY=PASSIVE keeps PyTorch's OpenMP threads from spinning against others' jobs
 * (see bench/RESULTS.md, Noise); repmlp's own thread pool does not read it.
 */
export function peerEnvNote(): string | null {
  const policy = process.env.OMP_WAIT_POLICY;
  return policy ? `PyTorch peer under OMP_WAIT_POLICY=${policy} (from the environment)` : null;
}

/** What every peer's document says about itself. */
export interface PeerInfo {
  peer: string;
  threads: number;
  compile: string | null;
}

/** The output's notes on the peer: how PyTorch compiled the cases, or why it did not run. */
export function peerNotes(peer: PeerResult<PeerInfo>): string[] {
  if (!peer.ok) return [`PyTorch peer: ${peer.error}`];
  return peer.value.compile ? [`PyTorch compiled: ${peer.value.compile}`] : [];
}

/** The peer as the JSON output records it. */
export function peerSummary(peer: PeerResult<PeerInfo>): object {
  return peer.ok ? { name: peer.value.peer, threads: peer.value.threads, compile: peer.value.compile } : { error: peer.error };
}

/** Writes an SVG chart into bench/charts/ and returns its path relative to the repository. */
export function writeChart(name: string, svg: string): string {
  const dir = path.join(__dirname, '..', 'charts');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  fs.writeFileSync(file, svg);
  return path.relative(path.join(__dirname, '..', '..'), file);
}
