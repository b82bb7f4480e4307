// `repmlp train`: trains RepMLPNet on Fashion-MNIST (or CIFAR) with lib/train/trainer.ts.
import { DATA_NAMES } from '../data/datasets';
import type { TrainOptions } from '../train/options';
import { flags, valued, type CommandLine } from './args';
import { isPresetName, resolveArch } from './arch';
import type { Command } from './command';
import { choiceOption, COUNT, DEVICE_CHOICES, intOption, numberOption, pathOption, stringOption, type IntSpec } from './options';

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

const OPTIONS = {
  ...valued(
    'data', 'data-dir', 'arch', 'epochs', 'batch-size', 'out', 'device', 'lr', 'min-lr', 'weight-decay', 'warmup', 'label-smoothing',
    'mixup', 'cutmix', 'clip-grad', 'seed', 'limit-train', 'limit-test', 'log-every', 'save-every', 'max-steps',
  ),
  ...flags('resume', 'json', 'no-augment'),
};

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
  };
}

export const command: Command = {
  name: 'train',
  usage,
  options: OPTIONS,
  async run(cl, io) {
    const options = trainOptions(cl);
    const { train } = require('../train/trainer') as typeof import('../train/trainer');
    await train({ ...options, write: (t) => io.out(t), warn: (t) => io.err(t), tty: io.isTty === true });
    return 0;
  },
};
