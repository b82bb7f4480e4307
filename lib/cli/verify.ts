// `repmlp verify --arch <a> [--weights <file>] [--batch N] [--seed S] [--json]`: checks that
// Locality Injection keeps a model's outputs (eval mode) on a random batch.
import { randn } from '../creation';
import { compileInference } from '../infer/compile';
import { flops } from '../models/flops';
import { parameterCount } from '../models/presets';
import { randomizeBatchNorms } from '../models/randomize';
import { RepMLPNet } from '../models/repmlpnet';
import { readStateDict } from '../io/pth';
import { Rng } from '../rng';
import { scope } from '../scope';
import type { Tensor } from '../tensor';
import { flags, valued } from './args';
import { resolveArch } from './arch';
import type { Command } from './command';
import { intOption, pathOption, stringOption } from './options';

/** The largest relative difference accepted: max |train - deploy| / max |train|. */
export const VERIFY_TOLERANCE = 1e-4;

const usage = `Usage: repmlp verify --arch <preset | config.json> [--weights <file>] [--batch N] [--seed S] [--json]

Builds the training form of a RepMLPNet (from --weights, a .safetensors or PyTorch .pth
training-form checkpoint, or else a seeded random init whose BN statistics and affine
parameters are randomised too, so that the fusion matters), runs it in eval mode on a
random batch at the config's input size, converts it by Locality Injection and runs the
deploy form on the same batch, and the compiled deploy form (compileInference) too. Prints
the parameter counts, the FLOPs (multiply-adds per image) of both forms, and the worst
absolute and relative (to the largest logit magnitude) difference of the deploy form's and
of the compiled form's logits from the training form's. Exits with 1 when a relative
difference exceeds ${VERIFY_TOLERANCE},
or when a weight or a logit of either form is not finite (NaN or infinite; named in the
output).

Options:
  --arch <a>       a preset (RepMLPNet-T224, ..., cifar, small) or a JSON file of config fields
  --weights <f>    training-form weights (default: random init)
  --batch <N>      images in the batch (default 2)
  --seed <S>       seed of the init and the input (default 0)
  --json           print the result as JSON
  -h, --help       show this help`;

export interface VerifyResult {
  arch: string;
  inputSize: number;
  batch: number;
  seed: number;
  weights: string | null;
  params: { train: number; deploy: number };
  flops: { train: number; deploy: number };
  maxAbsDiff: number;
  maxRelDiff: number;
  /** the compiled deploy form (compileInference) against the training form */
  compiled: { maxAbsDiff: number; maxRelDiff: number };
  tolerance: number;
  /** state-dict keys of the training form holding NaN or infinite values */
  nonFiniteWeights: string[];
  /** logits that are NaN or infinite, per form */
  nonFiniteLogits: { train: number; deploy: number };
  ok: boolean;
}

// Keys of float32 tensors that hold a NaN or an infinity.
function nonFiniteKeys(model: RepMLPNet): string[] {
  const keys: string[] = [];
  for (const [k, v] of model.stateDict()) if (v.dtype === 'float32' && !(v.data as Float32Array).every(Number.isFinite)) keys.push(k);
  return keys;
}

/** max |b - a| (NaN if either holds a NaN) and that relative to max |a|. */
function logitDiff(a: Float32Array, b: Float32Array): { maxAbsDiff: number; maxRelDiff: number } {
  let maxAbs = 0, maxRef = 0;
  for (let i = 0; i < a.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i]));
    maxRef = Math.max(maxRef, Math.abs(a[i]));
    if (Number.isNaN(a[i]) || Number.isNaN(b[i])) maxAbs = NaN;
  }
  return { maxAbsDiff: maxAbs, maxRelDiff: maxRef > 0 ? maxAbs / maxRef : maxAbs };
}

const countNonFinite = (a: Float32Array) => a.reduce((n, v) => n + (Number.isFinite(v) ? 0 : 1), 0);

function formatG(macs: number): string {
  return `${(macs / 1e9).toFixed(macs < 1e8 ? 4 : 2)} G`;
}

export const command: Command = {
  name: 'verify',
  usage,
  options: { ...valued('arch', 'weights', 'batch', 'seed'), ...flags('json') },
  run(cl, io) {
    const arch = resolveArch('verify', stringOption(cl.values, 'arch'));
    const batch = intOption('verify', cl.values, 'batch', { min: 1 }) ?? 2;
    const seed = intOption('verify', cl.values, 'seed') ?? 0;
    const weights = pathOption('verify', cl.values, 'weights') ?? null;
    const cfg = { ...arch.config, deploy: false };
    const state = weights === null ? null : readStateDict(weights);
    const rng = new Rng(seed);
    const model = new RepMLPNet(cfg, { rng });
    let d = { maxAbsDiff: 0, maxRelDiff: 0 }, compiled = d;
    let nonFiniteWeights: string[] = [];
    const nonFiniteLogits = { train: 0, deploy: 0 };
    let x: Tensor | undefined;
    try {
      if (state) model.loadStateDict(state);
      else randomizeBatchNorms(model, rng);
      model.eval();
      nonFiniteWeights = nonFiniteKeys(model);
      x = randn([batch, cfg.inChannels, arch.inputSize, arch.inputSize], rng);
      const input = x;
      const a = scope(() => model.forward(input).toFloat32Array());
      const plan = compileInference(model);
      const c = scope(() => plan.run(input).toFloat32Array());
      plan.dispose();
      model.localityInjection();
      const b = scope(() => model.forward(input).toFloat32Array());
      nonFiniteLogits.train = countNonFinite(a);
      nonFiniteLogits.deploy = countNonFinite(b);
      d = logitDiff(a, b);
      compiled = logitDiff(a, c);
    } finally {
      x?.dispose();
      model.dispose();
    }
    const { maxAbsDiff: maxAbs, maxRelDiff: maxRel } = d;
    const r: VerifyResult = {
      arch: arch.name, inputSize: arch.inputSize, batch, seed, weights,
      params: { train: parameterCount(cfg), deploy: parameterCount({ ...cfg, deploy: true }) },
      flops: { train: flops(cfg, arch.inputSize), deploy: flops({ ...cfg, deploy: true }, arch.inputSize) },
      maxAbsDiff: maxAbs, maxRelDiff: maxRel, compiled, tolerance: VERIFY_TOLERANCE, nonFiniteWeights, nonFiniteLogits,
      // false for NaN differences too
      ok: maxRel <= VERIFY_TOLERANCE && compiled.maxRelDiff <= VERIFY_TOLERANCE && nonFiniteWeights.length === 0 && nonFiniteLogits.train + nonFiniteLogits.deploy === 0,
    };
    const finite =
      nonFiniteWeights.length + nonFiniteLogits.train + nonFiniteLogits.deploy === 0
        ? 'all finite'
        : `NOT FINITE: ${nonFiniteWeights.length} weight tensors${nonFiniteWeights.length ? ` (${nonFiniteWeights.slice(0, 5).join(', ')}${nonFiniteWeights.length > 5 ? ', ...' : ''})` : ''}, ` +
          `${nonFiniteLogits.train} train-form and ${nonFiniteLogits.deploy} deploy-form logits`;
    if (cl.values.json === true) io.out(JSON.stringify(r, null, 2) + '\n');
    else
      io.out(
        [
          `${r.arch}: input ${r.inputSize}x${r.inputSize}, batch ${batch}, seed ${seed}, weights ${weights ?? 'random init'}`,
          `parameters  train form ${r.params.train}, deploy form ${r.params.deploy}`,
          `FLOPs       train form ${formatG(r.flops.train)}, deploy form ${formatG(r.flops.deploy)} (multiply-adds per image)`,
          `values      ${finite}`,
          `logits      max abs diff ${maxAbs.toExponential(3)}, max rel diff ${maxRel.toExponential(3)} (limit ${VERIFY_TOLERANCE}): ${maxRel <= VERIFY_TOLERANCE ? 'ok' : 'FAILED'}`,
          `compiled    max abs diff ${compiled.maxAbsDiff.toExponential(3)}, max rel diff ${compiled.maxRelDiff.toExponential(3)} (limit ${VERIFY_TOLERANCE}): ${r.ok ? 'ok' : 'FAILED'}`,
        ].join('\n') + '\n',
      );
    return r.ok ? 0 : 1;
  },
};
