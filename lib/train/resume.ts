// Resuming a run from its last.safetensors: the checkpoint is read and checked before
// anything is loaded (same config and options, an optimizer state of the right shape for
// every parameter, the EMA's weights when the run keeps them), then the model, the EMA,
// the optimizer, the loader and the run's position are restored and metrics.jsonl is cut
// back to the checkpoint's step, since the steps after it run again. Checkpoints are
// written at optimizer-step boundaries only, so no half-summed gradient is ever needed.
import * as fs from 'node:fs';
import { RepmlpError } from '../errors';
import { writeFileAtomic } from '../io/atomic';
import { checkOptimizerState, readCheckpoint, type Checkpoint } from './checkpoint';
import { baseOptimizer, optimizerStateLayout } from './optimizer';
import { OP, RECORDED_DEFAULTS } from './options';
import type { TrainingRun } from './run';

/** Checks that a checkpoint's optimizer state fits this run's optimizer, naming the parameter at fault. */
function checkResumeState(file: string, ck: Checkpoint, run: TrainingRun): void {
  const names = new Map(run.model.namedParameters().map(([n, t]) => [t, n]));
  const groups = baseOptimizer(run.opt).paramGroups;
  const params = groups.flatMap((g) => g.params).map((p) => ({ name: names.get(p) ?? '?', shape: p.shape }));
  checkOptimizerState(file, ck.optimizer, params, groups.map((g) => g.params.length), ck.meta.step, optimizerStateLayout(run.s), OP);
  if (run.ema && !ck.ema) throw new RepmlpError(`${OP}: expected the EMA's weights (ema.* tensors) in ${file} but received none; the checkpoint is incomplete`);
}

/** The options as a canonical string: keys sorted, the options a checkpoint predates at their defaults. */
function optionsKey(options: unknown): string {
  const all: Record<string, unknown> = { ...RECORDED_DEFAULTS, ...(options as Record<string, unknown>) };
  return JSON.stringify(Object.keys(all).sort().map((k) => [k, all[k]]));
}

/** Refuses a checkpoint of a run with another config or other options. */
function checkSameRun(file: string, ck: Checkpoint, run: TrainingRun): void {
  if (JSON.stringify(ck.meta.config) !== JSON.stringify(run.config) || optionsKey(ck.meta.options) !== optionsKey(run.recorded))
    throw new RepmlpError(`${OP}: expected ${file} to come from a run with the same config and options but it differs (saved options ${JSON.stringify(ck.meta.options)}); use another --out or drop --resume`);
}

/** Runs fn; a RepmlpError it throws names `file` (what was being loaded) first. */
function inFile<T>(file: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof RepmlpError) throw new RepmlpError(`${OP}: ${file}: ${e.message}`);
    throw e;
  }
}

/**
 * The lines of a metrics log up to `step`. A last line cut short (a process killed while
 * appending) is dropped; a broken line before it is an error naming the file and the line.
 */
export function metricsUpTo(file: string, step: number): string[] {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const kept: string[] = [];
  lines.forEach((l, i) => {
    if (!l) return;
    let r: { step?: unknown };
    try {
      r = JSON.parse(l) as { step?: unknown };
    } catch {
      if (lines.slice(i + 1).every((x) => x === '')) return;
      throw new RepmlpError(`${OP}: expected one JSON record per line in ${file} but line ${i + 1} is ${JSON.stringify(l.slice(0, 60))}`);
    }
    if (typeof r.step === 'number' && r.step <= step) kept.push(l);
  });
  return kept;
}

function resume(run: TrainingRun): void {
  const { last, metrics } = run.files;
  if (!fs.existsSync(last))
    throw new RepmlpError(`${OP}: rank ${run.par.world.rank} cannot read ${last}, which rank 0 resumes from: every rank needs the run directory (a shared --out)`);
  const ck = readCheckpoint(last);
  checkSameRun(last, ck, run);
  checkResumeState(last, ck, run);
  inFile(last, () => run.model.loadStateDict(ck.model));
  if (run.ema && ck.ema) inFile(last, () => run.ema!.loadStateDict(ck.ema!));
  inFile(last, () => baseOptimizer(run.opt).loadStateDict(ck.optimizer));
  run.restore(ck.meta);
  run.rank0Writes(() => {
    const kept = fs.existsSync(metrics) ? metricsUpTo(metrics, ck.meta.step) : [];
    writeFileAtomic(metrics, kept.map((l) => l + '\n').join(''), OP);
  });
  run.log(`resuming from ${last}: epoch ${ck.meta.epoch + 1}, batch ${ck.meta.batch}/${run.batchesPerEpoch}, step ${ck.meta.step}`);
}

/**
 * Continues from last.safetensors when the run resumes and one exists (as rank 0 sees it,
 * for every rank); else starts metrics.jsonl afresh.
 */
export function startOrResume(run: TrainingRun): void {
  if (run.par.agree(run.s.resume && fs.existsSync(run.files.last))) return resume(run);
  if (run.s.resume) run.log(`no ${run.files.last} yet: starting from scratch`);
  run.rank0Writes(() => writeFileAtomic(run.files.metrics, '', OP));
}
