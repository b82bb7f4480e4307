// `repmlp verify --arch <a> [--weights <file>] [--batch N] [--seed S] [--json]`: checks that
// Locality Injection keeps a model's outputs (eval mode) on a random batch.
import { randn } from '../creation';
import { buildModel, type Classifier } from '../models/families';
import { randomizeBatchNorms } from '../models/randomize';
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

Builds the training form of a model (from --weights, a .safetensors or PyTorch .pth
training-form checkpoint, or else a seeded random init whose BN statistics and affine
parameters are randomised too, so that the fusion matters), runs it in eval mode on a
random batch at the config's input size, converts it by Locality Injection and runs the
deploy form on the same batch. Prints the parameter counts, the FLOPs (multiply-adds per
image) of both forms, and the worst absolute and relative (to the largest logit magnitude)
difference of the logits. Exits with 1 when the relative difference exceeds ${VERIFY_TOLERANCE},
or when a weight or a logit of either form is not finite (NaN or infinite; named in the
output).

Options:
  --arch <a>       a preset (RepMLPNet-T224, ..., cifar, small, RepMLP-Res50-Light-224,
                   RepMLP-CIFAR-MLP, ...) or a JSON file of config fields
  --weights <f>    training-form weights (default: random init)
  --batch <N>      images in the batch (default 2)
  --seed <S>       seed of the init and the input (default 0)
  --json           print the result as JSON
  -h, --help       show this help`;

export interface VerifyResult {
  arch: string;
  /** the input height and width: one number when they are equal, else [H, W] */
  inputSize: number | [number, number];
  batch: number;
  seed: number;
  weights: string | null;
  params: { train: number; deploy: number };
  flops: { train: number; deploy: number };
  maxAbsDiff: number;
  maxRelDiff: number;
  tolerance: number;
  /** state-dict keys of the training form holding NaN or infinite values */
  nonFiniteWeights: string[];
  /** logits that are NaN or infinite, per form */
  nonFiniteLogits: { train: number; deploy: number };
  ok: boolean;
}

// Keys of float32 tensors that hold a NaN or an infinity.
function nonFiniteKeys(model: Classifier): string[] {
  const keys: string[] = [];
  for (const [k, v] of model.stateDict()) if (v.dtype === 'float32' && !(v.data as Float32Array).every(Number.isFinite)) keys.push(k);
  return keys;
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
    const [C, H, W] = arch.inputShape;
    const state = weights === null ? null : readStateDict(weights);
    const rng = new Rng(seed);
    const model = buildModel(cfg, { rng });
    let maxAbs = 0, maxRef = 0;
    let nonFiniteWeights: string[] = [];
    const nonFiniteLogits = { train: 0, deploy: 0 };
    let x: Tensor | undefined;
    try {
      if (state) model.loadStateDict(state);
      else randomizeBatchNorms(model, rng);
      model.eval();
      nonFiniteWeights = nonFiniteKeys(model);
      x = randn([batch, C, H, W], rng);
      const input = x;
      const a = scope(() => model.forward(input).toFloat32Array());
      model.localityInjection();
      const b = scope(() => model.forward(input).toFloat32Array());
      nonFiniteLogits.train = countNonFinite(a);
      nonFiniteLogits.deploy = countNonFinite(b);
      for (let i = 0; i < a.length; i++) {
        maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i]));
        maxRef = Math.max(maxRef, Math.abs(a[i]));
        if (Number.isNaN(a[i]) || Number.isNaN(b[i])) maxAbs = NaN;
      }
    } finally {
      x?.dispose();
      model.dispose();
    }
    const maxRel = maxRef > 0 ? maxAbs / maxRef : maxAbs;
    const train = arch.family.cost(cfg), deploy = arch.family.cost({ ...cfg, deploy: true });
    const r: VerifyResult = {
      arch: arch.name, inputSize: H === W ? H : [H, W], batch, seed, weights,
      params: { train: train.params, deploy: deploy.params },
      flops: { train: train.macs, deploy: deploy.macs },
      maxAbsDiff: maxAbs, maxRelDiff: maxRel, tolerance: VERIFY_TOLERANCE, nonFiniteWeights, nonFiniteLogits,
      // false for NaN differences too
      ok: maxRel <= VERIFY_TOLERANCE && nonFiniteWeights.length === 0 && nonFiniteLogits.train + nonFiniteLogits.deploy === 0,
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
          `${r.arch}: input ${H}x${W}, batch ${batch}, seed ${seed}, weights ${weights ?? 'random init'}`,
          `parameters  train form ${r.params.train}, deploy form ${r.params.deploy}`,
          `FLOPs       train form ${formatG(r.flops.train)}, deploy form ${formatG(r.flops.deploy)} (multiply-adds per image)`,
          `values      ${finite}`,
          `logits      max abs diff ${maxAbs.toExponential(3)}, max rel diff ${maxRel.toExponential(3)} (limit ${VERIFY_TOLERANCE}): ${r.ok ? 'ok' : 'FAILED'}`,
        ].join('\n') + '\n',
      );
    return r.ok ? 0 : 1;
  },
};
