// `repmlp predict --weights <file> [--arch <a>] <file | dir> ... [--top K] [--json]`: classifies
// image files with lib/predict, a line (or a JSON object) per image on stdout, progress and
// skipped files on stderr.
import { IMAGE_EXTENSIONS } from '../data/images/folder';
import { RepmlpError } from '../errors';
import type { Prediction } from '../predict/predict';
import { flags, valued } from './args';
import { UsageError, type Command, type Io } from './command';
import { FileProgress } from './file-progress';
import { cropPctOption, workersOption } from './image-options';
import { INTERRUPTED, withInterrupt } from './interrupt';
import { checkExists, choiceOption, COUNT, DEVICE_CHOICES, intOption, pathOption, stringOption } from './options';
import { resolveModel } from './weights';

const usage = `Usage: repmlp predict --weights <file> [--arch <preset | config.json>] <image | folder> ...
                      [--top 5] [--json] [--batch-size 32] [--skip-bad-images] [--device auto]

Classifies image files (JPEG, PNG, WebP, GIF, AVIF, TIFF; folders are walked for them, sorted)
with trained weights: a file written by \`repmlp train\` (deploy.safetensors, best.safetensors,
last.safetensors, best-ema.safetensors), whose model card gives the config, the class names and
the preprocessing, or weights written elsewhere with --arch (classes '0', '1', ...). Weights in
the training form are converted by Locality Injection first. Each image is resized as the run's
evaluation did (the shorter side to size / crop_pct, the centre crop, the run's mean and std)
and printed as \`file: label (probability), ...\`, most probable first. A file that cannot be
decoded stops the command with exit code 1 and a message naming it, unless --skip-bad-images.

Options:
  --weights <f>        the weights (required)
  --arch <a>           a preset (fitted to the weights' channels and classes) or a config JSON
                       file, for weights that record no config
  --top <K>            classes per image (default 5, at most the model's classes)
  --json               one JSON object per line: {"file", "top": [{"label", "index", "probability"}]}
  --batch-size <B>     images per forward pass (default 32)
  --workers <N>        decoding threads (default: the CPU cores for more than one batch, else 0)
  --input-size <N>     the model's input for this run (default the card's)
  --crop-pct <x>       the evaluation centre crop for this run (default the card's)
  --skip-bad-images    skip files that cannot be decoded (each named on stderr, counted at the end)
  --progress-every <N> without a terminal on stderr, a progress line every N files (default 1000)
  --device <d>         auto (default: cuda when a GPU and cuBLAS are usable, else cpu), cpu or cuda
  -h, --help           show this help`;

const pct = (p: number) => p.toFixed(4);

/** `file: label (0.9123), label (0.0412)`, or the JSON line. */
function format(p: Prediction, json: boolean): string {
  if (json) return JSON.stringify({ file: p.file, top: p.top });
  return `${p.file}: ${p.top.map((c) => `${c.label} (${pct(c.probability)})`).join(', ')}`;
}

/** Prints the predictions as they come; returns how many files were skipped, and whether Ctrl-C stopped it. */
async function printAll(io: Io, r: { json: boolean; progress: FileProgress }, predictions: AsyncGenerator<Prediction>, interrupted: () => boolean): Promise<{ skipped: number; stopped: boolean }> {
  let skipped = 0;
  for await (const p of predictions) {
    if (p.error !== undefined) {
      skipped++;
      r.progress.end();
      io.err(`predict: skipped ${p.file} (${p.error})\n`);
    } else io.out(format(p, r.json) + '\n');
    if (interrupted()) return { skipped, stopped: true };
  }
  return { skipped, stopped: false };
}

export const command: Command = {
  name: 'predict',
  usage,
  options: { ...valued('weights', 'arch', 'top', 'batch-size', 'workers', 'input-size', 'crop-pct', 'progress-every', 'device'), ...flags('json', 'skip-bad-images') },
  maxPositional: Number.MAX_SAFE_INTEGER,
  async run(cl, io) {
    const v = cl.values;
    const weights = pathOption('predict', v, 'weights', { required: 'file' });
    if (cl.positional.length === 0) throw new UsageError('predict: expected image files or folders to classify');
    const device = choiceOption('predict', v, 'device', DEVICE_CHOICES) ?? 'auto';
    const top = intOption('predict', v, 'top', COUNT) ?? 5, batchSize = intOption('predict', v, 'batch-size', COUNT) ?? 32;
    const overrides = { inputSize: intOption('predict', v, 'input-size', COUNT), cropPct: cropPctOption('predict', v) };
    const workers = workersOption('predict', v), every = intOption('predict', v, 'progress-every', COUNT) ?? 1000;
    checkExists('predict', weights);

    const { cardFor, withOverrides } = require('../predict/card') as typeof import('../predict/card');
    const { deployModel, deviceOf } = require('../predict/load') as typeof import('../predict/load');
    const { imageFiles } = require('../predict/files') as typeof import('../predict/files');
    const { predict } = require('../predict/predict') as typeof import('../predict/predict');
    const { defaultWorkers } = require('../data/images/folder-loader') as typeof import('../data/images/folder-loader');

    const files = imageFiles(cl.positional);
    if (files.length === 0) throw new RepmlpError(`predict: expected image files (${IMAGE_EXTENSIONS.join(' ')}) but received none in ${cl.positional.join(', ')}`);
    const m = resolveModel('predict', { weights, arch: stringOption(v, 'arch') });
    const card = withOverrides(cardFor(m.config, m.archName, m.card), overrides, 'predict');
    const model = deployModel(m.state, m.config, m.form, deviceOf('predict', device), weights);
    const r = { json: v.json === true, progress: new FileProgress(io, 'predict', files.length, every) };
    try {
      const opts = { card, top, batchSize, skipBadImages: v['skip-bad-images'] === true, workers: workers ?? (files.length > batchSize ? defaultWorkers() : 0), onProgress: (done: number) => r.progress.update(done) };
      const { skipped, stopped } = await withInterrupt(io, 'stopping after this batch', (interrupted) => printAll(io, r, predict(model, files, opts), interrupted));
      r.progress.end();
      if (skipped > 0) io.err(`predict: skipped ${skipped} of ${files.length} files that could not be decoded\n`);
      return stopped ? INTERRUPTED : 0;
    } finally {
      r.progress.end();
      model.dispose();
    }
  },
};
