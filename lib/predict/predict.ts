// predict(model, inputs, options): classifies image files or encoded images in memory, in
// batches, with the evaluation transform of the model's card (the shorter side resized to
// size / crop_pct, the centre crop, the card's mean and std), and yields for each input, in
// order, its top classes with their softmax probabilities (ties as topkCorrect orders them).
// One batch is rendered ahead while the model runs on the current one; each batch's tensors
// are freed with its scope, so memory stays flat over any number of inputs.
import { noGrad } from '../autograd';
import { tensor } from '../creation';
import type { SampleResult } from '../data/images/sample-task';
import type { ModelCard } from '../data/model-card';
import { describe, fail, RepmlpError } from '../errors';
import type { RepMLPNet } from '../models/repmlpnet';
import { scope } from '../scope';
import type { Device } from '../tensor';
import { rankedClasses } from '../train/topk';
import { cardSpec, defaultCard } from './card';
import { InputRenderer, inputName, type PredictInput } from './render';

export interface ClassScore {
  label: string;
  /** the class index (the logit's) */
  index: number;
  probability: number;
}

export interface Prediction {
  /** the input's path, or `buffer <i>` */
  file: string;
  /** its position among the inputs */
  index: number;
  /** the top classes, most probable first; empty when the input was skipped */
  top: ClassScore[];
  /** why the input was skipped (skipBadImages): the decoder's message, which names it */
  error?: string;
}

export interface PredictOptions {
  /** the class names and preprocessing (default: defaultCard of the model's config) */
  card?: ModelCard;
  /** classes per input (default 5, at most the number of classes) */
  top?: number;
  /** images per forward pass (default 32) */
  batchSize?: number;
  /** threads decoding files (default 0: the calling thread; libvips decodes on libuv's pool either way) */
  workers?: number;
  /** yield an input that cannot be decoded with its error instead of throwing it (default false) */
  skipBadImages?: boolean;
  /** called after each batch with the inputs done and their count */
  onProgress?: (done: number, total: number) => void;
}

const OP = 'predict';

function count(name: string, v: unknown, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) fail(OP, name, `an integer >= ${min}`, describe(v));
  return v as number;
}

/** Softmax of one row of logits, in float64. */
export function softmax(row: Float32Array): Float64Array {
  let max = -Infinity;
  for (const z of row) max = Math.max(max, z);
  const out = Float64Array.from(row, (z) => Math.exp(z - max));
  const sum = out.reduce((a, b) => a + b, 0);
  return out.map((p) => p / sum);
}

/** The logits (rows, K) of the decoded samples, on the model's device, in one scope. */
function logitsOf(model: RepMLPNet, samples: Float32Array[], side: number, device: Device): Float32Array {
  const per = samples[0].length, x = new Float32Array(samples.length * per);
  samples.forEach((s, i) => x.set(s, i * per));
  const c = per / (side * side);
  return scope(() => noGrad(() => model.forward(tensor(x, [samples.length, c, side, side], { device })).toFloat32Array()));
}

/** One batch's predictions, in input order (`first` is the batch's first input). */
function classifyBatch(model: RepMLPNet, card: ModelCard, results: SampleResult[], first: number, names: string[], top: number, skip: boolean, device: Device): Prediction[] {
  const bad = results.findIndex((r) => r.error !== undefined);
  if (bad >= 0 && !skip) throw new RepmlpError(results[bad].error!);
  const kept = results.flatMap((r) => (r.x ? [r.x] : []));
  const logits = kept.length ? logitsOf(model, kept, card.inputSize, device) : new Float32Array(0);
  const K = card.classes.length;
  let row = 0;
  return results.map((r, i) => {
    const file = names[first + i];
    if (r.error !== undefined) return { file, index: first + i, top: [], error: r.error };
    const z = logits.subarray(row * K, ++row * K), p = softmax(z);
    return { file, index: first + i, top: rankedClasses(z, top).map((j) => ({ label: card.classes[j], index: j, probability: p[j] })) };
  });
}

/**
 * Classifies `inputs` (image paths or encoded images) with `model`, switched to eval mode;
 * yields one Prediction per input, in order. An input that cannot be decoded throws its error
 * (which names it), or with skipBadImages is yielded with `error` and no classes.
 */
export async function* predict(model: RepMLPNet, inputs: readonly PredictInput[], opts: PredictOptions = {}): AsyncGenerator<Prediction> {
  if (!Array.isArray(inputs)) fail(OP, 'inputs', 'an array of file paths or Buffers', describe(inputs));
  const card = opts.card ?? defaultCard(model.config);
  if (card.classes.length !== model.config.numClasses) fail(OP, 'card.classes', `${model.config.numClasses} class names (the model's classes)`, `${card.classes.length}`);
  const top = Math.min(count('top', opts.top, 5, 1), card.classes.length);
  const batchSize = count('batchSize', opts.batchSize, 32, 1), skip = opts.skipBadImages ?? false;
  const device = model.parameters()[0]?.device ?? 'cpu';
  const renderer = new InputRenderer(inputs, cardSpec(card), count('workers', opts.workers, 0, 0));
  const names = inputs.map(inputName);
  const batchAt = (start: number) => Promise.all(names.slice(start, start + batchSize).map((_, i) => renderer.render(start + i)));
  model.eval();
  let next = inputs.length ? batchAt(0) : null;
  try {
    for (let start = 0; next; start += batchSize) {
      const results = await next;
      next = start + batchSize < inputs.length ? batchAt(start + batchSize) : null;
      next?.catch(() => undefined); // awaited at the next batch; one dropped by an early end must not be unhandled
      yield* classifyBatch(model, card, results, start, names, top, skip, device);
      opts.onProgress?.(Math.min(start + batchSize, inputs.length), inputs.length);
    }
  } finally {
    await renderer.close();
  }
}
