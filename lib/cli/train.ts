// `repmlp train`: trains a model of any family on Fashion-MNIST, CIFAR or an image folder with lib/train/trainer.ts.
import type { TrainOptions } from '../train/options';
import { OPTIMIZER_NAMES } from '../train/recipe-options';
import { flags, valued, type CommandLine, type Values } from './args';
import { RepmlpError } from '../errors';
import { isPresetName, partitionOrderHelp, partitionOrderOption, resolveArch } from './arch';
import { UsageError, type Command, type Io } from './command';
import { dataOption, IMAGE_OPTIONS, imageFolderOptions, namesImageFiles, refuseFolderOptions } from './image-options';
import { INTERRUPTED, withInterrupt } from './interrupt';
import { choiceOption, COUNT, DEVICE_CHOICES, intOption, numberOption, pathOption, stringOption, type IntSpec } from './options';

const usage = `Usage: repmlp train [--data fashion-mnist | cifar10 | cifar100 | DIR] [--arch small] [--epochs 5] [--batch-size 64] [--out DIR] [options]

Trains a model (RepMLPNet, or one of the 2021 RepMLP models) from scratch with AdamW or
SGD (weight decay on weights only), a per-step cosine learning rate with linear warm-up,
label smoothing, random crop and flip. Every epoch ends with the top-1 and top-5 accuracy
on the test split (top-k of all classes when there are fewer than 5); the run ends with
Locality Injection and the deploy form's accuracy beside the training form's. The run
directory holds config.json, metrics.jsonl, last.safetensors (every epoch and every
--save-every steps), best.safetensors, best-ema.safetensors (with --ema: the EMA's state
dict at its best test accuracy) and deploy.safetensors, each written atomically (a failed
write, e.g. on a full disk, stops the run with exit code 1 and leaves the previous file as
it was); <out>/train.lock keeps a second run out of the directory while this one lasts.
Fashion-MNIST comes from Debian's dataset-fashion-mnist when installed, else from the
sample shipped with repmlp (the output says which). Every safetensors file of the run
records the config, the class names and the preprocessing (its model card), so
\`repmlp eval\` and \`repmlp predict\` need no --arch.

Options:
  --data <d>             fashion-mnist (default), cifar10 or cifar100 (these need --data-dir),
                         or an image folder: DIR/train/<class>/* and DIR/val/<class>/*, or
                         DIR/<class>/* with --val-dir; the classes are the folders' names
  --data-dir <dir>       where the named data set's files are
  --input-size <N>       the model's input height and width (default the config's,
                         hs[0] * patchSize: 32 for small; the 2021 models take only their
                         imgH x imgW); images are rendered at it
  --arch <a>             a preset (small, cifar, RepMLPNet-T224, ..., RepMLP-CIFAR-MLP,
                         RepMLP-Res50-Light-224, ..., see docs/MODELS.md) or a config JSON
                         file of any model family (default small)
${partitionOrderHelp(25)}
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
  -h, --help             show this help

Image files (--data DIR, or --train-list and --val-list):
  --val-dir <dir>        the validation folder (<class>/<image>) when DIR holds the training
                         classes only
  --train-list <f>       a file of \`path label\` lines (paths relative to it), with
  --val-list <f>         the validation list (classes: the labels' numbers)
  --in-channels <c>      1, 3 or auto (default: 1 when 32 sampled training images are grey)
  --workers <N>          decoding threads per loader (default: the CPU cores, shared by the
                         ranks on the machine; 0: none)
  --skip-bad-images      leave out images that cannot be decoded (counted at the end)
                         instead of stopping at the first, named
  --randaugment <p>      raug15, a timm policy such as rand-m9-mstd0.5-inc1, or none (default);
                         inputs of 64 px or less take the CIFAR recipe (pad, crop, flip) instead
  --erasing <p>          random erasing probability (default 0)
  --crop-pct <x>         evaluation centre crop: the shorter side resized to size / x (default
                         0.875; inputs of 64 px or less are fitted whole)
  --interpolation <i>    bilinear (default) or bicubic
  --resampler <r>        pil (default: PIL's resize, torchvision's bytes) or libvips (faster)
  --norm <n>             imagenet (default) or dataset (the training images' mean and std,
                         computed once and stored with the model)

Distributed (data-parallel over the ranks of \`mpirun -np N repmlp train ...\`, or of --nproc):
  --nproc <N>            start N local ranks through mpirun (with --oversubscribe beyond the
                         cores and --allow-run-as-root as root); --batch-size is the global
                         batch, divisible by N, and rank 0 alone logs and writes the files;
                         Ctrl-C stops every rank after the step, as it stops one process
  --threads-per-rank <T> CPU threads of each rank (default REPMLP_NUM_THREADS, else 1)
  --sync-bn              BatchNorm statistics over every rank, forward and backward (default:
                         each rank's own, rank 0's running statistics copied after each step)`;

const OPTIONS = {
  ...IMAGE_OPTIONS,
  ...valued(
    'data', 'data-dir', 'arch', 'epochs', 'batch-size', 'out', 'device', 'lr', 'min-lr', 'weight-decay', 'warmup', 'label-smoothing',
    'mixup', 'cutmix', 'clip-grad', 'seed', 'limit-train', 'limit-test', 'log-every', 'save-every', 'max-steps',
    'opt', 'momentum', 'accum-steps', 'lr-scale-batch', 'ema-decay', 'ema-every', 'partition-order', 'nproc', 'threads-per-rank',
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

/** --data as the trainer's: a data set's name (default fashion-mnist), or the image files' options. */
function dataOptions(v: Values): Pick<TrainOptions, 'data' | 'dataDir'> {
  const data = dataOption('train', v);
  if (!namesImageFiles(v, data)) {
    refuseFolderOptions('train', v);
    return { data: (data as Exclude<typeof data, object>) ?? 'fashion-mnist', dataDir: pathOption('train', v, 'data-dir') };
  }
  if (v['data-dir'] !== undefined) throw new UsageError('train: --data-dir is for fashion-mnist, cifar10 and cifar100; an image folder is --data DIR');
  return { data: imageFolderOptions('train', v, typeof data === 'object' ? data.folder : undefined) };
}

/** The trainer's options from a parsed command line (exported for the tests). */
export function trainOptions(cl: CommandLine): TrainOptions {
  const v = cl.values;
  const int = (name: string, spec: IntSpec = COUNT) => intOption('train', v, name, spec);
  const num = (name: string, max?: number) => numberOption('train', v, name, { max });
  const archValue = stringOption(v, 'arch') ?? 'small';
  const partitionOrder = partitionOrderOption('train', v);
  const arch = isPresetName(archValue) ? archValue : resolveArch('train', archValue, partitionOrder).config;
  return {
    ...dataOptions(v), arch, partitionOrder,
    inputSize: int('input-size'),
    epochs: int('epochs') ?? 5,
    batchSize: int('batch-size') ?? 64,
    out: pathOption('train', v, 'out'),
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
 * Trains; Ctrl-C asks for a stop after the step (exit code 130). Under an MPI launcher an
 * error of a rank of many names the rank (its exit then stops every rank); SIGUSR2 asks for
 * the stop too, as Open MPI's mpirun passes it on to every rank (SIGINT it answers by ending
 * them), rank 0 alone says it came, and a rank stopped so ends with code 0 (any other exit
 * aborts every rank; --nproc reports 130). The progress is then printed as lines: Open MPI
 * gives every rank a terminal of its own, whatever the launcher's output is.
 */
async function trainHere(options: TrainOptions, io: Io): Promise<number> {
  const { train } = require('../train/trainer') as typeof import('../train/trainer');
  const { world, launcherVariable } = require('../dist/world') as typeof import('../dist/world');
  const launched = launcherVariable() !== null;
  const rank0: Io = { ...io, err: (t) => void (world().rank === 0 && io.err(t)) };
  try {
    return await withInterrupt(rank0, 'the run stops after this step, saving last.safetensors (continue with --resume)', async (interrupted) => {
      const summary = await train({ ...options, shouldStop: interrupted, write: (t) => io.out(t), warn: (t) => io.err(t), tty: io.isTty === true && !launched });
      return summary.stopped && interrupted() && !launched ? INTERRUPTED : 0;
    }, launched ? ['SIGINT', 'SIGUSR2'] : ['SIGINT']);
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
    if (nproc === undefined) return trainHere(options, io);
    const { launcherVariable } = require('../dist/world') as typeof import('../dist/world');
    if (launcherVariable() !== null) throw new UsageError('train: --nproc starts the ranks itself; under an MPI launcher (mpirun -np N repmlp train) leave it out');
    const { launchLocal } = require('../dist/launch') as typeof import('../dist/launch');
    const { code, interrupted } = await launchLocal(nproc, rankCommand(cl.values));
    // the ranks stopped as asked end with code 0 (any other code of a rank aborts them all)
    return code === 0 && interrupted ? INTERRUPTED : code;
  },
};
