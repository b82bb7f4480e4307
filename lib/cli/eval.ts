// `repmlp eval --weights <file> [--arch <a>] [--data fashion-mnist]`: top-1 test accuracy of
// training-form or deploy-form weights (told apart by their keys).
import * as fs from 'node:fs';
import { backend } from '../backend';
import { presetNames, preset, type PresetName } from '../models/presets';
import type { RepMLPNetConfig } from '../models/repmlpnet';
import { RepmlpError } from '../errors';
import type { HostTensor } from '../safetensors';
import { resolveArch, parseOptions } from './arch';
import { UsageError, type Command } from './command';
import { dataOpt, deviceOpt, intOpt } from './train';

const usage = `Usage: repmlp eval --weights <file> [--arch <preset | config.json>] [--data fashion-mnist] [--batch-size 64] [--json]

Prints the top-1 accuracy on the test split of weights in either form: a training checkpoint
written by \`repmlp train\` (last.safetensors, best.safetensors; its config is used when
--arch is not given), a training-form or a deploy-form state dict (.safetensors or PyTorch
.pth; the form is told by the keys: fc3_bn / repconv keys mean the training form).

Options:
  --weights <f>       the weights to evaluate (required)
  --arch <a>          a preset (small, cifar, RepMLPNet-T224, ...) or a config JSON file; a
                      preset gets the data set's channels and classes (default: the
                      checkpoint's config)
  --data <d>          fashion-mnist (default), cifar10 or cifar100 (these need --data-dir)
  --data-dir <dir>    where the data set's files are
  --batch-size <B>    images per batch (default 64)
  --limit-test <N>    use only the first N test images
  --device <d>        auto (default: cuda when a GPU and cuBLAS are usable, else cpu), cpu or cuda
  --json              print the result as JSON
  -h, --help          show this help`;

export interface EvalResult {
  weights: string;
  form: 'train' | 'deploy';
  accuracy: number;
  correct: number;
  total: number;
  dataSource: string;
}

/** 'train' when the state dict has Local Perceptron branches (fc3_bn, repconv*), else 'deploy'. */
export function weightsForm(state: Map<string, HostTensor>): 'train' | 'deploy' {
  for (const k of state.keys()) if (/(^|\.)(fc3_bn|repconv\d+)\./.test(k)) return 'train';
  return 'deploy';
}

export const command: Command = {
  name: 'eval',
  usage,
  async run(args, io) {
    const opts = parseOptions('eval', args, ['weights', 'arch', 'data', 'data-dir', 'batch-size', 'limit-test', 'device'], ['json'], 0);
    if (opts.flags.has('help')) {
      io.out(usage + '\n');
      return 0;
    }
    const weights = opts.values.get('weights');
    if (weights === undefined) throw new UsageError('eval: --weights <file> is required');
    const data = dataOpt('eval', opts);
    const deviceOption = deviceOpt('eval', opts);
    const device = deviceOption === 'auto' ? backend().device : deviceOption;
    const batchSize = intOpt('eval', opts, 'batch-size') ?? 64;
    const limitTest = intOpt('eval', opts, 'limit-test');
    const archValue = opts.values.get('arch');
    if (!fs.existsSync(weights)) throw new RepmlpError(`eval: ${weights} does not exist`);

    const ck = require('../train/checkpoint') as typeof import('../train/checkpoint');
    const tr = require('../train/trainer') as typeof import('../train/trainer');
    const { RepMLPNet } = require('../models/repmlpnet') as typeof import('../models/repmlpnet');
    const { DataLoader } = require('../data/loader') as typeof import('../data/loader');

    const { state, config: saved } = ck.readModelWeights(weights);
    const ds = tr.loadData(data, opts.values.get('data-dir'));
    const channels = ds.test.c ?? 1;
    let config: RepMLPNetConfig;
    if (archValue === undefined) {
      if (!saved) throw new UsageError('eval: --arch <preset | config.json> is required for weights that are not a training checkpoint');
      config = saved;
    } else if ((presetNames as string[]).includes(archValue)) {
      config = preset(archValue as PresetName, { inChannels: channels, numClasses: ds.numClasses });
    } else {
      config = resolveArch('eval', archValue).config;
    }
    const form = weightsForm(state);
    const model = new RepMLPNet({ ...config, deploy: form === 'deploy' }, { device });
    const inputSize = config.hs[0] * config.patchSize;
    const test = tr.limitDataset(ds.test, limitTest);
    const loader = new DataLoader(test, { batchSize, shuffle: false, mean: ds.mean, std: ds.std, padTo: inputSize, numClasses: ds.numClasses });
    try {
      model.loadStateDict(state);
      const ev = await tr.evaluate(model, loader, device);
      const r: EvalResult = { weights, form, accuracy: ev.accuracy, correct: ev.correct, total: ev.total, dataSource: ds.source };
      if (opts.flags.has('json')) io.out(JSON.stringify(r) + '\n');
      else
        io.out(`${deviceOption === 'auto' ? `backend ${backend().reason}\n` : ''}${ds.description}\n${weights} (${form} form): top-1 accuracy ${(100 * ev.accuracy).toFixed(2)}% (${ev.correct}/${ev.total}) on the ${data} test split\n`);
    } finally {
      await loader.close();
      model.dispose();
    }
    return 0;
  },
};
