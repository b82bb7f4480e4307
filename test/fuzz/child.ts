// The fuzz worker, run in a child process by run.ts: makes the calls of one batch (or one
// replayed call) against the native addon. Before each call it writes the call's recipe as
// a JSON line to fd 3 with a synchronous write, so that when the call kills the process (a
// signal, an abort) or hangs, the parent knows exactly which call it was. Broken
// expectations (an unexpected success, an error that does not name the op, a valid call
// that throws) are written there too, then a summary line.
//
//   child.ts --seed S --batch B --start I --count N [--ops a,b]   calls I..I+N-1 of batch B
//   child.ts --replay FILE                                          the one call in FILE
//   (either with --self-test signal|hang: die or hang at the first call, to test the harness)
import * as fs from 'node:fs';
import { native, type NativeAddon } from '../../lib/native';
import { build, invoke, judge, type Call } from './recipe';
import { makeCall, opNames, uncovered } from './plan';

const LOG_FD = 3;
// Synchronous, so the line is out before the call runs; a full pipe is waited out.
function log(o: object): void {
  const data = Buffer.from(JSON.stringify(o) + '\n');
  for (let off = 0; off < data.length; ) {
    try {
      off += fs.writeSync(LOG_FD, data, off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
    }
  }
}

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

// Global switches a call may flip, put back after it so that later calls start alike.
const { threads, cpuIsaSupported } = native.runtimeInfo();
function restore(addon: NativeAddon, call: Call): void {
  if (call.op === 'setPoison') addon.setPoison(false);
  if (call.op === 'setNumThreads') addon.setNumThreads(threads);
  if (call.op === 'setTf32') addon.setTf32(false);
  if (call.op === 'setCpuIsa' && cpuIsaSupported !== 'baseline') addon.setCpuIsa(cpuIsaSupported);
}

// --self-test signal|hang: the harness's own check (fuzz.test.ts) that a call that kills the
// process or never returns is caught and reported with that call.
const selfTest = flag('--self-test');

function run(call: Call, i: number): void {
  log({ i, call });
  if (selfTest === 'signal') process.kill(process.pid, 'SIGSEGV');
  if (selfTest === 'hang') for (;;);
  const built = build(native, call);
  const { error, value } = invoke(native, call, built);
  const why = judge(call, error);
  if (why) log({ i, violation: why, call });
  restore(native, call);
  for (const s of built.storages) if (!s.disposed) s.dispose();
  if (call.how === 'new' && value && typeof (value as { dispose?: unknown }).dispose === 'function')
    (value as { dispose(): void }).dispose();
}

function main(): void {
  native.setPoison(false);
  const missing = uncovered(Object.keys(native));
  if (missing.length) {
    log({ fatal: `no argument spec for the binding(s) ${missing.join(', ')}: add them to test/fuzz/specs.ts` });
    process.exit(3);
  }
  const replay = flag('--replay');
  if (replay) {
    run(JSON.parse(fs.readFileSync(replay, 'utf8')) as Call, 0);
    log({ done: true });
    return;
  }
  const seed = Number(flag('--seed') ?? 1), batch = Number(flag('--batch') ?? 0);
  const start = Number(flag('--start') ?? 0), count = Number(flag('--count') ?? 100);
  const ops = opNames(flag('--ops'));
  const otherDevice = native.runtimeInfo().cudaDevices > 0;
  for (let i = start; i < start + count; i++) run(makeCall(seed, batch, i, ops, otherDevice), i);
  log({ done: true });
}

main();
