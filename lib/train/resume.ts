// Resuming a run from its last.safetensors: the checkpoint is read and checked before
// anything is loaded (same config and options, an optimizer state of the right shape for
// every parameter), then the model, AdamW, the loader and the run's position are restored
// and metrics.jsonl is cut back to the checkpoint's step, since the steps after it run again.
import * as fs from 'node:fs';
import { RepmlpError } from '../errors';
import { writeFileAtomic } from '../io/atomic';
import type { RepMLPNet } from '../models/repmlpnet';
import type { AdamW, AdamWHyper } from '../optim/adamw';
import { checkOptimizerState, readCheckpoint, type Checkpoint, type StateLayout } from './checkpoint';
import { OP } from './options';
import type { TrainingRun } from './run';

/** AdamW's per-parameter state: a step count and two moments of the parameter's shape. */
const ADAMW_STATE: StateLayout = { step: 'count', exp_avg: 'param', exp_avg_sq: 'param' };

/** Checks that a checkpoint's optimizer state fits this model's optimizer, naming the parameter at fault. */
function checkResumeState(file: string, ck: Checkpoint, model: RepMLPNet, opt: AdamW): void {
  const names = new Map(model.namedParameters().map(([n, t]) => [t, n]));
  const params = opt.paramGroups.flatMap((g) => g.params).map((p) => ({ name: names.get(p) ?? '?', shape: p.shape }));
  checkOptimizerState(file, ck.optimizer, params, opt.paramGroups.map((g) => g.params.length), ck.meta.step, ADAMW_STATE, OP);
}

/** Refuses a checkpoint of a run with another config or other options. */
function checkSameRun(file: string, ck: Checkpoint, run: TrainingRun): void {
  if (JSON.stringify(ck.meta.config) !== JSON.stringify(run.config) || JSON.stringify(ck.meta.options) !== JSON.stringify(run.recorded))
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
  const ck = readCheckpoint<AdamWHyper>(last);
  checkSameRun(last, ck, run);
  checkResumeState(last, ck, run.model, run.opt);
  inFile(last, () => run.model.loadStateDict(ck.model));
  inFile(last, () => run.opt.loadStateDict(ck.optimizer));
  run.restore(ck.meta);
  const kept = fs.existsSync(metrics) ? metricsUpTo(metrics, ck.meta.step) : [];
  writeFileAtomic(metrics, kept.map((l) => l + '\n').join(''), OP);
  run.log(`resuming from ${last}: epoch ${ck.meta.epoch + 1}, batch ${ck.meta.batch}/${run.stepsPerEpoch}, step ${ck.meta.step}`);
}

/** Continues from last.safetensors when the run resumes and one exists; else starts metrics.jsonl afresh. */
export function startOrResume(run: TrainingRun): void {
  if (run.s.resume && fs.existsSync(run.files.last)) return resume(run);
  if (run.s.resume) run.log(`no ${run.files.last} yet: starting from scratch`);
  writeFileAtomic(run.files.metrics, '', OP);
}
