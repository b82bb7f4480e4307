// `repmlp train`: trains RepMLPNet on Fashion-MNIST (or CIFAR) with lib/train/trainer.ts.
import { DATA_NAMES } from '../data/datasets';
import type { TrainOptions } from '../train/options';
import { OPTIMIZER_NAMES } from '../train/recipe-options';
import { flags, valued, type CommandLine, type Values } from './args';
import { isPresetName, resolveArch } from './arch';
import { RepmlpError } from '../errors';
import { UsageError, type Command, type Io } from './command';
import { choiceOption, COUNT, DEVICE_CHOICES, intOption, numberOption, pathOption, stringOption, type IntSpec } from './options';

const usage = `Usage: repmlp train [--data fashion-mnist] [--arch small] [--epochs 5] [--batch-size 64] [--out DIR] [options]

Trains a RepMLPNet from scratch with AdamW or SGD (weight decay on weights only), a per-step
cosine learning rate with linear warm-up, label smoothing, random crop and flip. Every epoch
ends with the top-1 and top-5 accuracy on the test split (top-k of all classes when there
are fewer than 5); the run ends with Locality Injection and the deploy form's accuracy beside
the training form's. The run directory holds config.json, metrics.jsonl, last.safetensors
(every epoch and every --save-every steps), best.safetensors, best-ema.safetensors (with
--ema: the EMA's state dict at its best test accuracy) and deploy.safetensors, each written
atomically (a failed write, e.g. on a full disk, stops
the run with exit code 1 and leaves the previous file as it was); <out>/train.lock keeps a
second run out of the directory while this one lasts. Fashion-MNIST comes from Debian's
dataset-fashion-mnist when installed, else from the sample shipped with repmlp (the output
says which).

Options:
  --data <d>             fashion-mnist (default), cifar10 or cifar100 (these need --data-dir)
  --data-dir <dir>       where the data set's files are
  --arch <a>             a preset (small, cifar, RepMLPNet-T224, ..., see docs/MODELS.md)
                         or a config JSON file (default small)
  --epochs <N>           epochs (default 5)
  --batch-size <B>       images per step (default 64)
  --out <dir>            run directory (default runs/<data>-<arch>)
  --resume               continue from <out>/last.safetensors
  --device <d>           auto (default: cuda when a GPU and cuBLAS are usable, else cpu), cpu or cuda
  --opt <o>              adamw (default) or sgd
  --lr <x>               peak learning rate (default 0.002)
  --min-lr <x>           learning rate at the end of the cosine (default 1e-5)
  --lr-scale-batch <B>   scale --lr and --min-lr (and so the warm-up) by the images per step
                         over B: batch size x accumulation steps / B (the reference code
                         uses 256; default: no scaling); the scaled rates are printed
  --weight-decay <x>     weight decay on >= 2-d tensors (default 0.05): decoupled for AdamW,
                         added to the gradient for SGD
  --momentum <m>         SGD momentum, in [0, 1) (default 0.9; needs --opt sgd)
  --no-nesterov          plain momentum instead of Nesterov's (needs --opt sgd)
  --accum-steps <N>      sum the gradients of N batches into one optimizer step (default 1);
                         steps, the schedule and checkpoints count optimizer steps
  --ema                  keep an exponential moving average of the weights and BN statistics,
                         evaluated every epoch (a copy of the model during the warm-up)
  --ema-decay <d>        ema = d * ema + (1 - d) * model at each update (default 0.99; needs --ema)
  --ema-every <N>        update the EMA every N optimizer steps (default 8; needs --ema)
  --warmup <epochs>      linear warm-up length in epochs, fractions allowed (default 1)
  --label-smoothing <x>  (default 0.1)
  --mixup <a>            mixup Beta(a, a) strength (default 0: off)
  --cutmix <a>           CutMix Beta(a, a) strength (default 0: off)
  --no-augment           no random crop and flip
  --clip-grad <x>        clip the global gradient norm to x (default: no clipping)
  --seed <S>             seed of the weights, the shuffling and the augmentation (default 0)
  --limit-train <N>      use only the first N training images
  --limit-test <N>       use only the first N test images
  --log-every <N>        log every N steps (default 20)
  --save-every <N>       save last.safetensors every N steps (default 200)
  --max-steps <N>        stop after N steps in total (resume later with --resume)
  --json                 print a JSON summary as the last line

Distributed (data-parallel over the ranks of \`mpirun -np N repmlp train ...\`, or of --nproc):
  --nproc <N>            start N local ranks through mpirun (with --oversubscribe beyond the
                         cores and --allow-run-as-root as root); --batch-size is the global
                         batch, divisible by N, and rank 0 alone logs and writes the files
  --threads-per-rank <T> CPU threads of each rank (default REPMLP_NUM_THREADS, else 1)
  --sync-bn              BatchNorm statistics over every rank, forward and backward (default:
                         each rank's own, rank 0's running statistics copied after each step)
  -h, --help             show this help`;

const OPTIONS = {
  ...valued(
    'data', 'data-dir', 'arch', 'epochs', 'batch-size', 'out', 'device', 'lr', 'min-lr', 'weight-decay', 'warmup', 'label-smoothing',
    'mixup', 'cutmix', 'clip-grad', 'seed', 'limit-train', 'limit-test', 'log-every', 'save-every', 'max-steps',
    'opt', 'momentum', 'accum-steps', 'lr-scale-batch', 'ema-decay', 'ema-every', 'nproc', 'threads-per-rank',
  ),
  ...flags('resume', 'json', 'no-augment', 'no-nesterov', 'ema', 'sync-bn'),
};

/** Refuses an option given without the one it belongs to (`--momentum` without `--opt sgd`). */
function needs(v: Values, name: string, ok: boolean, what: string): void {
  if (v[name] !== undefined && !ok) throw new UsageError(`train: --${name} needs ${what}`);
}

/** The optimizer, accumulation, lr scaling and EMA options. */
function recipeOptions(v: Values): Partial<TrainOptions> {
  const optimizer = choiceOption('train', v, 'opt', OPTIMIZER_NAMES) ?? 'adamw';
  needs(v, 'momentum', optimizer === 'sgd', '--opt sgd');
  needs(v, 'no-nesterov', optimizer === 'sgd', '--opt sgd');
  needs(v, 'ema-decay', v.ema === true, '--ema');
  needs(v, 'ema-every', v.ema === true, '--ema');
  const momentum = numberOption('train', v, 'momentum');
  if (momentum !== undefined && momentum >= 1) throw new UsageError(`train: expected a number in [0, 1) for --momentum but received '${v.momentum}'`);
  // Nesterov momentum unless --no-nesterov (the trainer's default: on with momentum, as the reference).
  const sgd = optimizer === 'sgd' ? { momentum, nesterov: v['no-nesterov'] === true ? false : undefined } : {};
  const ema = v.ema === true ? { emaDecay: numberOption('train', v, 'ema-decay', { max: 1 }), emaEvery: intOption('train', v, 'ema-every', COUNT) } : {};
  return {
    optimizer, ...sgd, ema: v.ema === true, ...ema,
    accumSteps: intOption('train', v, 'accum-steps', COUNT),
    lrScaleBatch: intOption('train', v, 'lr-scale-batch', COUNT),
  };
}

/** The trainer's options from a parsed command line (exported for the tests). */
export function trainOptions(cl: CommandLine): TrainOptions {
  const v = cl.values;
  const int = (name: string, spec: IntSpec = COUNT) => intOption('train', v, name, spec);
  const num = (name: string, max?: number) => numberOption('train', v, name, { max });
  const data = choiceOption('train', v, 'data', DATA_NAMES) ?? 'fashion-mnist';
  const archValue = stringOption(v, 'arch') ?? 'small';
  const arch = isPresetName(archValue) ? archValue : resolveArch('train', archValue).config;
  return {
    data, arch,
    dataDir: pathOption('train', v, 'data-dir'),
    epochs: int('epochs') ?? 5,
    batchSize: int('batch-size') ?? 64,
    out: pathOption('train', v, 'out') ?? `runs/${data}-${isPresetName(archValue) ? archValue : 'custom'}`,
    resume: v.resume === true,
    json: v.json === true,
    device: choiceOption('train', v, 'device', DEVICE_CHOICES) ?? 'auto',
    lr: num('lr'),
    minLr: num('min-lr'),
    weightDecay: num('weight-decay'),
    warmupEpochs: num('warmup'),
    labelSmoothing: num('label-smoothing', 1),
    mixup: num('mixup'),
    cutmix: num('cutmix'),
    augment: v['no-augment'] !== true,
    clipGrad: num('clip-grad'),
    seed: int('seed', { min: 0 }),
    limitTrain: int('limit-train'),
    limitTest: int('limit-test'),
    logEvery: int('log-every'),
    saveEvery: int('save-every'),
    maxSteps: int('max-steps'),
    ...recipeOptions(v),
    syncBatchNorm: v['sync-bn'] === true,
    threadsPerRank: int('threads-per-rank'),
  };
}

/** The command line of one rank of --nproc: this one's options, --nproc left out. */
function rankCommand(v: Values): string[] {
  const options = Object.entries(v).flatMap(([k, x]) => (k === 'nproc' || k === 'help' || x === undefined ? [] : x === true ? [`--${k}`] : [`--${k}=${x}`]));
  return [process.execPath, ...process.execArgv, process.argv[1], 'train', ...options];
}

/**
 * Trains; an error of a rank of many names the rank (its exit then stops every rank). Under
 * an MPI launcher the progress is printed as lines: Open MPI gives every rank a terminal of
 * its own, whatever the launcher's output is.
 */
async function trainHere(options: TrainOptions, io: Io): Promise<void> {
  const { train } = require('../train/trainer') as typeof import('../train/trainer');
  const { world, launcherVariable } = require('../dist/world') as typeof import('../dist/world');
  try {
    await train({ ...options, write: (t) => io.out(t), warn: (t) => io.err(t), tty: io.isTty === true && launcherVariable() === null });
  } catch (e) {
    const w = world();
    if (w.size > 1 && e instanceof RepmlpError) throw new RepmlpError(`rank ${w.rank} of ${w.size}: ${e.message}`, { cause: e });
    throw e;
  }
}

export const command: Command = {
  name: 'train',
  usage,
  options: OPTIONS,
  async run(cl, io) {
    const options = trainOptions(cl);
    const nproc = intOption('train', cl.values, 'nproc', COUNT);
    if (nproc === undefined) {
      await trainHere(options, io);
      return 0;
    }
    const { launcherVariable } = require('../dist/world') as typeof import('../dist/world');
    if (launcherVariable() !== null) throw new UsageError('train: --nproc starts the ranks itself; under an MPI launcher (mpirun -np N repmlp train) leave it out');
    const { launchLocal } = require('../dist/launch') as typeof import('../dist/launch');
    return launchLocal(nproc, rankCommand(cl.values));
  },
};
