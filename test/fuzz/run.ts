// Fuzzes every native binding with random and adversarial arguments (see specs.ts and
// mutate.ts). Calls run in batches, each in a child process (child.ts) under a watchdog, so a
// signal, an abort, a hang or a non-zero exit is caught and reported with the call that
// caused it; the batch then goes on after that call in a new child. A call whose arguments
// are clearly invalid must throw an Error naming the op; a valid call must succeed.
//
//   npm run test:fuzz -- [--seed N] [--seconds S | --iterations N] [--ops a,b] [--batch B]
//                        [--batch-size N] [--timeout MS] [--replay FILE]
//
// The calls are a function of the seed and the batch number alone: `--seed N --batch B`
// repeats a reported batch exactly, and --replay runs one call saved as JSON.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Call } from './recipe';

export interface FuzzOptions {
  seed: number;
  /** stop starting batches after this many seconds (with iterations unset) */
  seconds?: number;
  /** total calls (overrides seconds) */
  iterations?: number;
  batchSize?: number;
  /** only this batch */
  batch?: number;
  ops?: string;
  /** the longest one call may take before it counts as a hang (ms) */
  timeoutMs?: number;
  replay?: string;
  /** progress lines (the CLI prints them; the uvu test does not) */
  verbose?: boolean;
  /** make each child die ('signal') or hang at its first call: tests the harness itself */
  selfTest?: 'signal' | 'hang';
}

export interface Failure {
  kind: 'crash' | 'hang' | 'violation' | 'fatal';
  op: string;
  message: string;
  call?: Call;
  batch?: number;
  index?: number;
}

export interface FuzzReport {
  seed: number;
  batches: number;
  calls: number;
  perOp: Record<string, number>;
  failures: Failure[];
}

const CHILD = path.join(__dirname, 'child.ts');

const label = (c: Call) => (c.how === 'read' || c.how === 'write' ? `Storage.${c.how}` : c.op);

interface ChildResult {
  calls: { i: number; call: Call }[];
  violations: Failure[];
  done: boolean;
  fatal?: string;
  exit: string;
  stderr: string;
  hung: boolean;
}

// Runs one child with the given arguments; resolves when it exits or is killed.
function runChild(args: string[], timeoutMs: number): Promise<ChildResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-r', 'tsx/cjs', CHILD, ...args], {
      cwd: path.join(__dirname, '..', '..'),
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
      env: { ...process.env, REPMLP_POISON: '0' },
    });
    const res: ChildResult = { calls: [], violations: [], done: false, exit: '', stderr: '', hung: false };
    let buf = '';
    // Loading tsx and the addon takes a while; after that each call gets timeoutMs.
    let timer = setTimeout(() => kill(), Math.max(timeoutMs, 60000));
    const kill = () => {
      res.hung = true;
      child.kill('SIGKILL');
    };
    const rearm = () => {
      clearTimeout(timer);
      timer = setTimeout(kill, timeoutMs);
    };
    const onLine = (line: string) => {
      if (!line) return;
      const o = JSON.parse(line) as { i?: number; call?: Call; violation?: string; done?: boolean; fatal?: string };
      if (o.fatal) res.fatal = o.fatal;
      else if (o.done) res.done = true;
      else if (o.violation && o.call)
        res.violations.push({ kind: 'violation', op: label(o.call), message: o.violation, call: o.call, index: o.i });
      else if (o.call && o.i !== undefined) {
        res.calls.push({ i: o.i, call: o.call });
        rearm();
      }
    };
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        onLine(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
    });
    child.stderr!.on('data', (d: Buffer) => {
      res.stderr = (res.stderr + d.toString('utf8')).slice(-4000);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (buf) onLine(buf);
      res.exit = signal ? `signal ${signal}` : `exit code ${code}`;
      resolve(res);
    });
  });
}

/** The failures of one child run, and the index to resume its batch at (null: finished). */
function assess(res: ChildResult, batch: number): { failures: Failure[]; resumeAt: number | null } {
  const failures = res.violations.map((v) => ({ ...v, batch }));
  if (res.fatal) return { failures: [...failures, { kind: 'fatal', op: '-', message: res.fatal }], resumeAt: null };
  if (res.done) return { failures, resumeAt: null };
  const last = res.calls[res.calls.length - 1];
  const tail = res.stderr.trim().split('\n').slice(-6).join('\n');
  if (!last) return { failures: [...failures, { kind: 'fatal', op: '-', message: `the child failed before any call (${res.exit}):\n${tail}` }], resumeAt: null };
  const kind = res.hung ? 'hang' : 'crash';
  const message = res.hung ? 'the call did not return in time (killed)' : `the process died (${res.exit})${tail ? ':\n' + tail : ''}`;
  return { failures: [...failures, { kind, op: label(last.call), message, call: last.call, batch, index: last.i }], resumeAt: last.i + 1 };
}

export async function fuzz(o: FuzzOptions): Promise<FuzzReport> {
  const report: FuzzReport = { seed: o.seed, batches: 0, calls: 0, perOp: {}, failures: [] };
  const timeoutMs = o.timeoutMs ?? 10000;
  const count = (res: ChildResult) => {
    for (const c of res.calls) report.perOp[label(c.call)] = (report.perOp[label(c.call)] ?? 0) + 1;
    report.calls += res.calls.length;
  };
  if (o.replay) {
    const file = fs.existsSync(o.replay) ? o.replay : path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'repmlp-fuzz-')), 'call.json');
    if (file !== o.replay) fs.writeFileSync(file, o.replay);
    const res = await runChild(['--replay', file, ...(o.selfTest ? ['--self-test', o.selfTest] : [])], timeoutMs);
    count(res);
    report.failures.push(...assess(res, -1).failures);
    report.batches = 1;
    return report;
  }
  const size = o.batchSize ?? 400;
  const deadline = Date.now() + (o.seconds ?? 30) * 1000;
  const more = (b: number) =>
    o.batch !== undefined ? b === o.batch : o.iterations !== undefined ? b * size < o.iterations : b === 0 || Date.now() < deadline;
  for (let b = o.batch ?? 0; more(b); b++) {
    const n = o.iterations !== undefined && o.batch === undefined ? Math.min(size, o.iterations - b * size) : size;
    let start = 0;
    for (;;) {
      const args = ['--seed', String(o.seed), '--batch', String(b), '--start', String(start), '--count', String(n - start)];
      if (o.ops) args.push('--ops', o.ops);
      if (o.selfTest) args.push('--self-test', o.selfTest);
      const res = await runChild(args, timeoutMs);
      count(res);
      const { failures, resumeAt } = assess(res, b);
      report.failures.push(...failures);
      if (o.verbose)
        for (const f of failures) if (f.kind !== 'violation') console.log(`  batch ${b}: ${f.kind} in ${f.op} (call ${f.index ?? '-'})`);
      if (failures.some((f) => f.kind === 'fatal')) return report;
      if (resumeAt === null || resumeAt >= n) break;
      start = resumeAt;
    }
    report.batches++;
    if (o.verbose && report.batches % 10 === 0) console.log(`  ${report.batches} batches, ${report.calls} calls, ${report.failures.length} failures`);
  }
  return report;
}

/** The report as text: counts per op, then each distinct failure with its reproduction. */
export function describe(r: FuzzReport, maxShown = 20): string {
  const lines: string[] = [];
  lines.push(`fuzz: seed ${r.seed}, ${r.batches} batches, ${r.calls} calls, ${r.failures.length} failures`);
  const ops = Object.keys(r.perOp).sort();
  lines.push('calls per binding: ' + ops.map((k) => `${k} ${r.perOp[k]}`).join(', '));
  // One failure shown per (kind, op, message head): the same bug tends to repeat.
  const seen = new Set<string>();
  let shown = 0;
  const rank = { fatal: 0, crash: 1, hang: 2, violation: 3 };
  for (const f of [...r.failures].sort((a, b) => rank[a.kind] - rank[b.kind])) {
    const key = `${f.kind} ${f.op} ${f.message.split(':')[0]}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (shown++ >= maxShown) break;
    lines.push('');
    lines.push(`${f.kind.toUpperCase()} in ${f.op}: ${f.message}`);
    if (f.call) {
      lines.push(`  mutation: ${f.call.mutation} (expected: ${f.call.expect})`);
      lines.push(`  call: ${JSON.stringify(f.call)}`);
      if (f.batch !== undefined && f.batch >= 0)
        lines.push(`  reproduce: npm run test:fuzz -- --seed ${r.seed} --batch ${f.batch}   (call ${f.index}; or --replay '<call JSON above>')`);
    }
  }
  const groups = new Map<string, number>();
  for (const f of r.failures) groups.set(`${f.kind} ${f.op}`, (groups.get(`${f.kind} ${f.op}`) ?? 0) + 1);
  if (groups.size) lines.push('', 'failures by kind and binding: ' + [...groups].map(([k, n]) => `${k} x${n}`).join(', '));
  return lines.join('\n');
}

function parseArgs(argv: string[]): FuzzOptions {
  const o: FuzzOptions = { seed: 1, verbose: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i], v = argv[i + 1];
    const int = () => {
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < 0) throw new Error(`fuzz: expected a non-negative integer after ${a} but received '${v}'`);
      i++;
      return n;
    };
    if (a === '--seed') o.seed = int();
    else if (a === '--seconds') o.seconds = int();
    else if (a === '--iterations') o.iterations = int();
    else if (a === '--batch') o.batch = int();
    else if (a === '--batch-size') o.batchSize = Math.max(1, int());
    else if (a === '--timeout') o.timeoutMs = int();
    else if (a === '--ops') (o.ops = v), i++;
    else if (a === '--replay') (o.replay = v), i++;
    else throw new Error(`fuzz: unknown option '${a}' (see the head of test/fuzz/run.ts)`);
  }
  return o;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const bound = o.replay ? 'one replayed call' : o.batch !== undefined ? `batch ${o.batch}` : o.iterations !== undefined ? `${o.iterations} calls` : `${o.seconds ?? 30} s`;
  console.log(`fuzz: seed ${o.seed}, ${bound}${process.env.REPMLP_ADDON ? `, addon ${process.env.REPMLP_ADDON}` : ''}`);
  const r = await fuzz(o);
  console.log(describe(r));
  process.exitCode = r.failures.length ? 1 : 0;
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 2;
  });
}
