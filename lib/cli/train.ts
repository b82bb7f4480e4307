// `repmlp train`: trains RepMLPNet on Fashion-MNIST (or CIFAR) with lib/train/trainer.ts.
import { presetNames, type PresetName } from '../models/presets';
import type { Device } from '../tensor';
import type { DataName, TrainOptions } from '../train/trainer';
import { resolveArch, parseOptions, type Options } from './arch';
import { UsageError, type Command } from './command';

const usage = `Usage: repmlp train [--data fashion-mnist] [--arch small] [--epochs 5] [--batch-size 64] [--out DIR] [options]

Trains a RepMLPNet from scratch with AdamW (weight decay on weights only), a per-step cosine
learning rate with linear warm-up, label smoothing, random crop and flip. Every epoch ends
with the top-1 accuracy on the test split; the run ends with Locality Injection and the
deploy form's accuracy beside the training form's. The run directory holds config.json,
metrics.jsonl, last.safetensors (every epoch and every --save-every steps), best.safetensors
and deploy.safetensors, each written atomically (a failed write, e.g. on a full disk, stops
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
  --lr <x>               peak learning rate (default 0.002)
  --min-lr <x>           learning rate at the end of the cosine (default 1e-5)
  --weight-decay <x>     AdamW weight decay on >= 2-d tensors (default 0.05)
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
  -h, --help             show this help`;

const VALUED = [
  'data', 'data-dir', 'arch', 'epochs', 'batch-size', 'out', 'device', 'lr', 'min-lr', 'weight-decay', 'warmup', 'label-smoothing',
  'mixup', 'cutmix', 'clip-grad', 'seed', 'limit-train', 'limit-test', 'log-every', 'save-every', 'max-steps',
] as const;

/** A positive (or, with min 0, non-negative) integer option. */
export function intOpt(command: string, opts: Options, name: string, min = 1): number | undefined {
  const v = opts.values.get(name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min)
    throw new UsageError(`${command}: expected ${min === 1 ? 'a positive integer' : `an integer >= ${min}`} for --${name} but received '${v}'`);
  return n;
}

/** A finite non-negative number option. */
export function numOpt(command: string, opts: Options, name: string, max = Infinity): number | undefined {
  const v = opts.values.get(name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > max)
    throw new UsageError(`${command}: expected ${max === Infinity ? 'a number >= 0' : `a number in [0, ${max}]`} for --${name} but received '${v}'`);
  return n;
}

/** --data: one of the supported data sets. */
export function dataOpt(command: string, opts: Options): DataName {
  const v = opts.values.get('data') ?? 'fashion-mnist';
  if (v !== 'fashion-mnist' && v !== 'cifar10' && v !== 'cifar100')
    throw new UsageError(`${command}: expected fashion-mnist, cifar10 or cifar100 for --data but received '${v}'`);
  return v;
}

/** --device: auto (the default: the backend chosen at first use, see lib/backend.ts), cpu or cuda. */
export function deviceOpt(command: string, opts: Options): Device | 'auto' {
  const v = opts.values.get('device') ?? 'auto';
  if (v !== 'auto' && v !== 'cpu' && v !== 'cuda')
    throw new UsageError(`${command}: expected auto, cpu or cuda for --device but received '${v}'`);
  return v;
}

/** The trainer's options from a command line (exported for the tests). */
export function trainOptions(args: string[]): TrainOptions & { help: boolean } {
  const opts = parseOptions('train', args, VALUED, ['resume', 'json', 'no-augment'], 0);
  if (opts.flags.has('help')) return { help: true };
  const data = dataOpt('train', opts);
  const archValue = opts.values.get('arch') ?? 'small';
  let arch: TrainOptions['arch'];
  if ((presetNames as string[]).includes(archValue)) arch = archValue as PresetName;
  else arch = resolveArch('train', archValue).config;
  const archName = (presetNames as string[]).includes(archValue) ? archValue : 'custom';
  return {
    help: false, data, arch,
    dataDir: opts.values.get('data-dir'),
    epochs: intOpt('train', opts, 'epochs') ?? 5,
    batchSize: intOpt('train', opts, 'batch-size') ?? 64,
    out: opts.values.get('out') ?? `runs/${data}-${archName}`,
    resume: opts.flags.has('resume'),
    json: opts.flags.has('json'),
    device: deviceOpt('train', opts),
    lr: numOpt('train', opts, 'lr'),
    minLr: numOpt('train', opts, 'min-lr'),
    weightDecay: numOpt('train', opts, 'weight-decay'),
    warmupEpochs: numOpt('train', opts, 'warmup'),
    labelSmoothing: numOpt('train', opts, 'label-smoothing', 1),
    mixup: numOpt('train', opts, 'mixup'),
    cutmix: numOpt('train', opts, 'cutmix'),
    augment: !opts.flags.has('no-augment'),
    clipGrad: numOpt('train', opts, 'clip-grad'),
    seed: intOpt('train', opts, 'seed', 0),
    limitTrain: intOpt('train', opts, 'limit-train'),
    limitTest: intOpt('train', opts, 'limit-test'),
    logEvery: intOpt('train', opts, 'log-every'),
    saveEvery: intOpt('train', opts, 'save-every'),
    maxSteps: intOpt('train', opts, 'max-steps'),
  };
}

export const command: Command = {
  name: 'train',
  usage,
  async run(args, io) {
    const { help, ...options } = trainOptions(args);
    if (help) {
      io.out(usage + '\n');
      return 0;
    }
    const { train } = require('../train/trainer') as typeof import('../train/trainer');
    await train({ ...options, write: (t) => io.out(t), warn: (t) => io.err(t), tty: io.isTty === true });
    return 0;
  },
};
