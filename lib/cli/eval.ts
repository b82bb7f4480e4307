// `repmlp eval --weights <file> [--arch <a>] [--data fashion-mnist]`: top-1 and top-5 test
// accuracy of training-form or deploy-form weights (told apart by their keys).
import { backend } from '../backend';
import { DATA_NAMES } from '../data/datasets';
import { flags, valued } from './args';
import type { Command } from './command';
import { checkExists, choiceOption, COUNT, DEVICE_CHOICES, intOption, pathOption, stringOption } from './options';
import { resolveModel } from './weights';

const usage = `Usage: repmlp eval --weights <file> [--arch <preset | config.json>] [--data fashion-mnist] [--batch-size 64] [--json]

Prints the top-1 and top-5 accuracy on the test split (top-k of all k classes when there
are fewer than 5) of weights in either form: a training checkpoint
written by \`repmlp train\` (last.safetensors, best.safetensors; its config is used when
--arch is not given), a training-form or a deploy-form state dict (.safetensors or PyTorch
.pth; the form is told by the keys: fc3_bn / repconv keys mean the training form), such as
best-ema.safetensors, the EMA's weights that \`repmlp train --ema\` writes.

Options:
  --weights <f>       the weights to evaluate (required)
  --arch <a>          a preset (small, cifar, RepMLPNet-T224, RepMLP-CIFAR-MLP, ...) or a config JSON file; a
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
  /** top-5 accuracy and count; topK is 5, or the classes when fewer */
  top5Accuracy: number;
  top5Correct: number;
  topK: number;
  dataSource: string;
}

export const command: Command = {
  name: 'eval',
  usage,
  options: { ...valued('weights', 'arch', 'data', 'data-dir', 'batch-size', 'limit-test', 'device'), ...flags('json') },
  async run(cl, io) {
    const v = cl.values;
    const weights = pathOption('eval', v, 'weights', { required: 'file' });
    const data = choiceOption('eval', v, 'data', DATA_NAMES) ?? 'fashion-mnist';
    const deviceOption = choiceOption('eval', v, 'device', DEVICE_CHOICES) ?? 'auto';
    const device = deviceOption === 'auto' ? backend().device : deviceOption;
    const batchSize = intOption('eval', v, 'batch-size', COUNT) ?? 64;
    const limitTest = intOption('eval', v, 'limit-test', COUNT);
    checkExists('eval', weights);

    const { loadData, limitDataset } = require('../data/datasets') as typeof import('../data/datasets');
    const { evaluate } = require('../train/evaluate') as typeof import('../train/evaluate');
    const { buildModel, squareInputSize } = require('../models/families') as typeof import('../models/families');
    const { DataLoader } = require('../data/loader') as typeof import('../data/loader');

    const ds = loadData(data, pathOption('eval', v, 'data-dir'), 'eval');
    // A preset gets the data set's channels and classes, which the weights must then match.
    const fit = { inChannels: ds.test.c ?? 1, numClasses: ds.numClasses };
    const { state, config, form } = resolveModel('eval', { weights, arch: stringOption(v, 'arch'), fit });
    const inputSize = squareInputSize(config, 'eval');
    const model = buildModel({ ...config, deploy: form === 'deploy' }, { device });
    const test = limitDataset(ds.test, limitTest);
    const loader = new DataLoader(test, { batchSize, shuffle: false, mean: ds.mean, std: ds.std, padTo: inputSize, numClasses: ds.numClasses });
    try {
      model.loadStateDict(state);
      const ev = await evaluate(model, loader, device);
      const r: EvalResult = {
        weights, form, accuracy: ev.accuracy, correct: ev.correct, total: ev.total,
        top5Accuracy: ev.top5Accuracy, top5Correct: ev.top5Correct, topK: ev.topK, dataSource: ds.source,
      };
      const pct = (a: number) => `${(100 * a).toFixed(2)}%`;
      if (v.json === true) io.out(JSON.stringify(r) + '\n');
      else
        io.out(`${deviceOption === 'auto' ? `backend ${backend().reason}\n` : ''}${ds.description}\n${weights} (${form} form): top-1 accuracy ${pct(ev.accuracy)} (${ev.correct}/${ev.total}), ` +
          `top-${ev.topK} ${pct(ev.top5Accuracy)} (${ev.top5Correct}/${ev.total}) on the ${data} test split\n`);
    } finally {
      await loader.close();
      model.dispose();
    }
    return 0;
  },
};
