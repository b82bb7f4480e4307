// Top-1 and top-5 accuracy of a model over one pass of a loader. Top-1 is counted on the
// device (correctCount) and read back once at the end; top-5 from each batch's logits,
// read back to the host once per batch (topkCorrect, whose k = 1 counts as correctCount).
import { noGrad } from '../autograd';
import { tensor } from '../creation';
import type { BatchSource } from '../data/batch-source';
import { batchToTensors, type Batch } from '../data/loader';
import type { FamilyModel } from '../models/families';
import { correctCount } from '../ops/correct_count';
import { scope } from '../scope';
import type { Device, Tensor } from '../tensor';
import { DeviceSum } from './device-sum';
import { top5K, topkCorrect } from './topk';

export interface Evaluation {
  correct: number;
  total: number;
  /** correct / total (0 for an empty loader) */
  accuracy: number;
  /** rows whose label is among the topK largest logits, and that over total */
  top5Correct: number;
  top5Accuracy: number;
  /** the k of the top-5 fields: 5, or the number of classes when fewer (every row counts then) */
  topK: number;
}

/** The batch's hard labels (int64) on the device. */
export function labelsOf(batch: Batch, device: Device): Tensor {
  return tensor(batch.labels, [batch.labels.length], { device, dtype: 'int64' });
}

export interface EvaluateOptions {
  /**
   * With a loader of one rank's shares, adds up the counts over the ranks (sumCounts), so
   * that every rank gets the accuracy over the whole test set.
   */
  sum?: (counts: number[]) => number[];
  /** gives the logits instead of model.forward (a compiled form of the model: lib/infer) */
  forward?: (x: Tensor) => Tensor;
}

/**
 * Top-1 and top-5 accuracy of `model` (switched to eval mode) over one pass of `loader`,
 * with the batches on `device` (default: where the model's parameters are).
 */
export async function evaluate(model: FamilyModel, loader: BatchSource, device?: Device, opts: EvaluateOptions = {}): Promise<Evaluation> {
  const sum = opts.sum ?? ((c: number[]) => c), forward = opts.forward;
  const on = device ?? model.parameters()[0]?.device ?? 'cpu';
  const topK = top5K(model.config.numClasses);
  model.eval();
  const correctSum = new DeviceSum(on);
  let total = 0, top5Correct = 0, correct = 0;
  try {
    for await (const batch of loader.batches()) {
      if (batch.labels.length === 0) continue;  // a rank's empty share of the last batch
      scope(() => noGrad(() => {
        const x = batchToTensors(batch, on).x;
        const logits = forward ? forward(x) : model.forward(x);
        correctSum.add(correctCount(logits, labelsOf(batch, on)));
        top5Correct += topkCorrect(logits.toFloat32Array(), batch.labels, logits.shape[1], topK);
      }));
      total += batch.labels.length;
    }
    [total, top5Correct, correct] = sum([total, top5Correct, correctSum.read()]);
    const of = (n: number) => (total ? n / total : 0);
    return { correct, total, accuracy: of(correct), top5Correct, top5Accuracy: of(top5Correct), topK };
  } finally {
    correctSum.dispose();
  }
}
