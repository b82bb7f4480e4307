// `repmlp verify --arch <a> [--weights <file>] [--input-size N|HxW] [--batch N] [--seed S] [--json]`:
// checks that Locality Injection keeps a model's outputs (eval mode) on a random batch.
import { randn } from '../creation';
import { warningLine } from '../errors';
import { flops } from '../models/flops';
import { checkInputSize, partitionsPerStage } from '../models/geometry';
import { parameterCount } from '../models/shapes';
import { randomizeBatchNorms } from '../models/randomize';
import { RepMLPNet, type RepMLPNetConfig } from '../models/repmlpnet';
import type { HostTensor } from '../io/safetensors';
import { Rng } from '../rng';
import { scope } from '../scope';
import type { Tensor } from '../tensor';
import { flags, valued } from './args';
import { archOption, partitionOrderHelp } from './arch';
import type { Command, Io } from './command';
import { inputSizeOption, intOption, pathOption } from './options';
import { emaHelp, fitPresetToWeights, WEIGHTS_OPTIONS } from './weights';

/** The largest relative difference accepted: max |train - deploy| / max |train|. */
export const VERIFY_TOLERANCE = 1e-4;

const usage = `Usage: repmlp verify --arch <preset | config.json> [--weights <file>] [--input-size N | HxW] [--batch N] [--seed S] [--json]

Builds the training form of a RepMLPNet (from --weights, a .safetensors or PyTorch .pth
training-form checkpoint, or else a seeded random init whose BN statistics and affine
parameters are randomised too, so that the fusion matters), runs it in eval mode on a
random batch at the config's input size (or --input-size), converts it by Locality
Injection and runs the deploy form on the same batch. Prints the parameter counts, the
FLOPs (multiply-adds per image) of both forms, the partitions per map of each stage, and
the worst absolute and relative (to the largest logit magnitude) difference of the logits.
Exits with 1 when the relative difference exceeds ${VERIFY_TOLERANCE}, or when a weight or a
logit of either form is not finite (NaN or infinite; named in the output).

Options:
  --arch <a>             a preset (RepMLPNet-T224, ..., cifar, small) or a JSON file of config fields
${partitionOrderHelp(25)}
  --weights <f>          training-form weights (default: random init)
${emaHelp(25)}
  --input-size <s>       input height and width, N or HxW (default: the config's); a larger
                         map is cut into several partitions per block
  --batch <N>            images in the batch (default 2)
  --seed <S>             seed of the init and the input (default 0)
  --json                 print the result as JSON
  -h, --help             show this help`;

export interface VerifyResult {
  arch: string;
  /** the input [height, width] */
  inputSize: [number, number];
  /** partitions per map, per stage; partitionOrder as the config gives it ('paper' when it gives none) */
  partitions: number[];
  partitionOrder: 'paper' | 'reference';
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
function nonFiniteKeys(model: RepMLPNet): string[] {
  const keys: string[] = [];
  for (const [k, v] of model.stateDict()) if (v.dtype === 'float32' && !(v.data as Float32Array).every(Number.isFinite)) keys.push(k);
  return keys;
}

const countNonFinite = (a: Float32Array) => a.reduce((n, v) => n + (Number.isFinite(v) ? 0 : 1), 0);

function formatG(macs: number): string {
  return `${(macs / 1e9).toFixed(macs < 1e8 ? 4 : 2)} G`;
}

type Comparison = Pick<VerifyResult, 'maxAbsDiff' | 'maxRelDiff' | 'nonFiniteWeights' | 'nonFiniteLogits'>;

/** Both forms' logits on one random batch of [H, W] images: their worst difference and what is not finite. */
function compareForms(cfg: RepMLPNetConfig, state: Map<string, HostTensor> | null, batch: number, [H, W]: [number, number], seed: number, io: Io): Comparison {
  const rng = new Rng(seed);
  const model = new RepMLPNet(cfg, { rng, onWarning: (m) => io.err(warningLine(m)) });
  let x: Tensor | undefined;
  try {
    if (state) model.loadStateDict(state);
    else randomizeBatchNorms(model, rng);
    model.eval();
    const nonFiniteWeights = nonFiniteKeys(model);
    const input = (x = randn([batch, cfg.inChannels, H, W], rng));
    const a = scope(() => model.forward(input).toFloat32Array());
    model.localityInjection();
    const b = scope(() => model.forward(input).toFloat32Array());
    let maxAbs = 0, maxRef = 0;
    for (let i = 0; i < a.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i]));
      maxRef = Math.max(maxRef, Math.abs(a[i]));
      if (Number.isNaN(a[i]) || Number.isNaN(b[i])) maxAbs = NaN;
    }
    const maxRelDiff = maxRef > 0 ? maxAbs / maxRef : maxAbs;
    return { maxAbsDiff: maxAbs, maxRelDiff, nonFiniteWeights, nonFiniteLogits: { train: countNonFinite(a), deploy: countNonFinite(b) } };
  } finally {
    x?.dispose();
    model.dispose();
  }
}

function report(r: VerifyResult): string {
  const bad = r.nonFiniteWeights.length + r.nonFiniteLogits.train + r.nonFiniteLogits.deploy;
  const named = r.nonFiniteWeights.length ? ` (${r.nonFiniteWeights.slice(0, 5).join(', ')}${r.nonFiniteWeights.length > 5 ? ', ...' : ''})` : '';
  const finite = bad === 0 ? 'all finite'
    : `NOT FINITE: ${r.nonFiniteWeights.length} weight tensors${named}, ${r.nonFiniteLogits.train} train-form and ${r.nonFiniteLogits.deploy} deploy-form logits`;
  return [
    `${r.arch}: input ${r.inputSize[0]}x${r.inputSize[1]}, batch ${r.batch}, seed ${r.seed}, weights ${r.weights ?? 'random init'}`,
    `parameters  train form ${r.params.train}, deploy form ${r.params.deploy}`,
    `FLOPs       train form ${formatG(r.flops.train)}, deploy form ${formatG(r.flops.deploy)} (multiply-adds per image)`,
    `partitions  ${r.partitions.join(', ')} per map by stage (${r.partitionOrder} order)`,
    `values      ${finite}`,
    `logits      max abs diff ${r.maxAbsDiff.toExponential(3)}, max rel diff ${r.maxRelDiff.toExponential(3)} (limit ${VERIFY_TOLERANCE}): ${r.ok ? 'ok' : 'FAILED'}`,
  ].join('\n') + '\n';
}

export const command: Command = {
  name: 'verify',
  usage,
  options: { ...WEIGHTS_OPTIONS, ...valued('weights', 'batch', 'seed', 'input-size'), ...flags('json') },
  run(cl, io) {
    const v = cl.values;
    const arch = archOption('verify', v);
    const batch = intOption('verify', v, 'batch', { min: 1 }) ?? 2;
    const seed = intOption('verify', v, 'seed') ?? 0;
    const weights = pathOption('verify', v, 'weights') ?? null;
    const size = checkInputSize(arch.config, inputSizeOption('verify', v), 'verify');
    const { readModelWeights } = require('../train/checkpoint') as typeof import('../train/checkpoint');
    const state = weights === null ? null : readModelWeights(weights, { ema: v.ema === true }).state;
    const fitted = state && arch.isPreset ? fitPresetToWeights(arch.config, state) : arch.config;
    const cfg = { ...fitted, deploy: false };
    const c = compareForms(cfg, state, batch, size, seed, io);
    const r: VerifyResult = {
      arch: arch.name, inputSize: size, partitions: partitionsPerStage(cfg, size), partitionOrder: cfg.partitionOrder ?? 'paper', batch, seed, weights,
      params: { train: parameterCount(cfg), deploy: parameterCount({ ...cfg, deploy: true }) },
      flops: { train: flops(cfg, size), deploy: flops({ ...cfg, deploy: true }, size) },
      ...c, tolerance: VERIFY_TOLERANCE,
      // false for NaN differences too
      ok: c.maxRelDiff <= VERIFY_TOLERANCE && c.nonFiniteWeights.length === 0 && c.nonFiniteLogits.train + c.nonFiniteLogits.deploy === 0,
    };
    io.out(v.json === true ? JSON.stringify(r, null, 2) + '\n' : report(r));
    return r.ok ? 0 : 1;
  },
};
