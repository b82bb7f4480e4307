// `repmlp eval --weights <file> [--arch <a>] [--data fashion-mnist | DIR]`: top-1 and top-5
// accuracy of training-form or deploy-form weights (told apart by their keys) on a named data
// set's test split or on the images of a folder.
import { backend } from '../backend';
import type { BatchSource } from '../data/batch-source';
import type { DataName } from '../data/datasets';
import type { Device } from '../tensor';
import { flags, valued, type Values } from './args';
import type { Command, Io } from './command';
import { cropPctOption, dataOption, refuseFolderOptions, workersOption } from './image-options';
import { checkExists, choiceOption, COUNT, DEVICE_CHOICES, intOption, pathOption, stringOption } from './options';
import { warningLine } from '../errors';
import { partitionOrderHelp } from './arch';
import { emaHelp, modelSource, resolveModel, WEIGHTS_OPTIONS, type ModelSource, type ResolvedModel } from './weights';

const usage = `Usage: repmlp eval --weights <file> [--arch <preset | config.json>] [--data fashion-mnist | DIR] [--batch-size 64] [--json]

Prints the top-1 and top-5 accuracy (top-k of all k classes when there are fewer than 5) of
weights in either form: a file written by \`repmlp train\` (last.safetensors,
best.safetensors, best-ema.safetensors, deploy.safetensors; the config and the class names
recorded in it are used when --arch is not given), or a training-form or a deploy-form state
dict written elsewhere (.safetensors or PyTorch .pth; the form is told by the keys: fc3_bn /
repconv keys, and for the 2021 models any BN, mean the training form). On an image folder
the images get the run's evaluation transform (its input size, crop_pct, mean and std) and
are labelled by their class folders' names, which must be the model's class names (weights
that record none take the folders' sorted names, as ImageFolder does). The model runs in its
compiled form (compileInference: the deploy form, training-form weights converted by
Locality Injection first; a RepMLPNet with every BN folded into fused GEMMs), whose logits
equal the eager forward's to float rounding.

Options:
  --weights <f>       the weights to evaluate (required)
  --arch <a>          a preset (small, cifar, RepMLPNet-T224, RepMLP-CIFAR-MLP, ...) or a
                      config JSON file; a preset gets the data set's (or the weights')
                      channels and classes (default: the config the weights record, or the
                      preset a reference-code checkpoint's config names)
${partitionOrderHelp(22)}
${emaHelp(22)}
  --data <d>          fashion-mnist (default), cifar10 or cifar100 (these need --data-dir): the
                      test split; or an image folder: DIR/val/<class>/* when DIR has train/ and
                      val/, else DIR/<class>/*
  --data-dir <dir>    where the named data set's files are
  --batch-size <B>    images per batch (default 64)
  --limit-test <N>    use only the first N images
  --input-size <N>    image folders: the model's input (default the recorded one)
  --crop-pct <x>      image folders: the evaluation centre crop (default the recorded one)
  --workers <N>       image folders: decoding threads (default: the CPU cores)
  --skip-bad-images   image folders: leave out images that cannot be decoded (counted)
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
  /** images left out because they could not be decoded (image folders with --skip-bad-images) */
  skippedImages: number;
}

/** What is evaluated: the loader, the config to build, and the words of the output. */
interface EvalData {
  loader: BatchSource;
  model: ResolvedModel;
  description: string;
  source: string;
  split: string;
  skipped: () => number;
}

/** The command line, checked before any file is read. */
interface EvalArgs {
  weights: string;
  /** --weights with --arch, --partition-order and --ema */
  source: ModelSource;
  data: DataName | { folder: string };
  dataDir: string | undefined;
  batchSize: number;
  limit: number | undefined;
  /** image folders only */
  overrides: { inputSize?: number; cropPct?: number };
  workers: number | undefined;
  skipBadImages: boolean;
}

function evalArgs(v: Values): EvalArgs {
  const data = dataOption('eval', v) ?? 'fashion-mnist';
  if (typeof data !== 'object') refuseFolderOptions('eval', v, ['input-size', 'crop-pct', 'workers', 'skip-bad-images'], '--data DIR (an image folder)');
  const weights = pathOption('eval', v, 'weights', { required: 'file' });
  return {
    weights, source: modelSource('eval', v, weights), data, dataDir: pathOption('eval', v, 'data-dir'),
    batchSize: intOption('eval', v, 'batch-size', COUNT) ?? 64, limit: intOption('eval', v, 'limit-test', COUNT),
    overrides: { inputSize: intOption('eval', v, 'input-size', COUNT), cropPct: cropPctOption('eval', v) },
    workers: workersOption('eval', v), skipBadImages: v['skip-bad-images'] === true,
  };
}

/** A named data set's test split; a preset gets its channels and classes. */
function namedEval(a: EvalArgs, data: DataName): EvalData {
  const { loadData, limitDataset } = require('../data/datasets') as typeof import('../data/datasets');
  const { DataLoader } = require('../data/loader') as typeof import('../data/loader');
  const ds = loadData(data, a.dataDir, 'eval');
  // A preset gets the data set's channels and classes, which the weights must then match.
  const fit = { inChannels: ds.test.c ?? 1, numClasses: ds.numClasses };
  const model = resolveModel('eval', { ...a.source, fit });
  const { modelInputSize } = require('../models/families') as typeof import('../models/families');
  const inputSize = modelInputSize(model.config);
  const test = limitDataset(ds.test, a.limit);
  const loader = new DataLoader(test, { batchSize: a.batchSize, shuffle: false, mean: ds.mean, std: ds.std, padTo: inputSize, numClasses: ds.numClasses });
  return { loader, model, description: ds.description, source: ds.source, split: `the ${data} test split`, skipped: () => 0 };
}

/** The images of a folder, with the card's evaluation transform (and this run's input size and crop_pct). */
function folderEvalData(a: EvalArgs, dir: string): EvalData {
  const { folderEval } = require('./eval-folder') as typeof import('./eval-folder');
  const { cardFor, withOverrides } = require('../predict/card') as typeof import('../predict/card');
  const model = resolveModel('eval', a.source);
  const card = withOverrides(cardFor(model.config, model.archName, model.card), a.overrides, 'eval');
  const f = folderEval(dir, card, model.card !== null, { batchSize: a.batchSize, workers: a.workers, skipBadImages: a.skipBadImages, limit: a.limit });
  return { loader: f.loader, model, description: f.description, source: 'folder', split: `the images of ${dir}`, skipped: () => f.loader.skippedImages };
}

function report(io: Io, r: EvalResult, d: EvalData, json: boolean, backendLine: string): void {
  const pct = (a: number) => `${(100 * a).toFixed(2)}%`;
  if (json) return io.out(JSON.stringify(r) + '\n');
  const skipped = r.skippedImages ? `; skipped ${r.skippedImages} images that could not be decoded` : '';
  io.out(`${backendLine}${d.description}\n${r.weights} (${r.form} form): top-1 accuracy ${pct(r.accuracy)} (${r.correct}/${r.total}), ` +
    `top-${r.topK} ${pct(r.top5Accuracy)} (${r.top5Correct}/${r.total}) on ${d.split}${skipped}\n`);
}

async function evaluateOn(d: EvalData, weights: string, device: Device, warn: (m: string) => void): Promise<EvalResult> {
  const { evaluate } = require('../train/evaluate') as typeof import('../train/evaluate');
  const { buildModel } = require('../models/families') as typeof import('../models/families');
  const { compileInference } = require('../infer/compile') as typeof import('../infer/compile');
  const { state, config, form } = d.model;
  const model = buildModel({ ...config, deploy: form === 'deploy' }, { device, onWarning: warn });
  try {
    model.loadStateDict(state);
    const compiled = compileInference(model, { onWarning: warn });
    const ev = await evaluate(model, d.loader, device, { forward: (x) => compiled.run(x) }).finally(() => compiled.dispose());
    return {
      weights, form, accuracy: ev.accuracy, correct: ev.correct, total: ev.total, top5Accuracy: ev.top5Accuracy,
      top5Correct: ev.top5Correct, topK: ev.topK, dataSource: d.source, skippedImages: d.skipped(),
    };
  } finally {
    await d.loader.close();
    model.dispose();
  }
}

export const command: Command = {
  name: 'eval',
  usage,
  options: { ...WEIGHTS_OPTIONS, ...valued('weights', 'data', 'data-dir', 'batch-size', 'limit-test', 'device', 'input-size', 'crop-pct', 'workers'), ...flags('json', 'skip-bad-images') },
  async run(cl, io) {
    const v = cl.values;
    const a = evalArgs(v);
    const deviceOption = choiceOption('eval', v, 'device', DEVICE_CHOICES) ?? 'auto';
    checkExists('eval', a.weights);
    const device = deviceOption === 'auto' ? backend().device : deviceOption;
    const d = typeof a.data === 'object' ? folderEvalData(a, a.data.folder) : namedEval(a, a.data);
    const r = await evaluateOn(d, a.weights, device, (m) => io.err(warningLine(m)));
    report(io, r, d, v.json === true, deviceOption === 'auto' ? `backend ${backend().reason}\n` : '');
    return 0;
  },
};
