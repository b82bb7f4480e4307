// Top-1 accuracy of a model over one pass of a loader, summed on the device and read back
// once at the end.
import { noGrad } from '../autograd';
import { tensor } from '../creation';
import { batchToTensors, type Batch, type DataLoader } from '../data/loader';
import type { RepMLPNet } from '../models/repmlpnet';
import { correctCount } from '../ops/correct_count';
import { scope } from '../scope';
import type { Device, Tensor } from '../tensor';
import { DeviceSum } from './device-sum';

export interface Evaluation {
  correct: number;
  total: number;
  /** correct / total (0 for an empty loader) */
  accuracy: number;
}

/** The batch's hard labels (int64) on the device. */
export function labelsOf(batch: Batch, device: Device): Tensor {
  return tensor(batch.labels, [batch.labels.length], { device, dtype: 'int64' });
}

/**
 * Top-1 accuracy of `model` (switched to eval mode) over one pass of `loader`, with the
 * batches on `device` (default: where the model's parameters are); reads back once.
 */
export async function evaluate(model: RepMLPNet, loader: DataLoader, device?: Device): Promise<Evaluation> {
  device ??= model.parameters()[0]?.device ?? 'cpu';
  model.eval();
  const correctSum = new DeviceSum(device);
  let total = 0;
  try {
    for await (const batch of loader.batches()) {
      scope(() => noGrad(() => correctSum.add(correctCount(model.forward(batchToTensors(batch, device).x), labelsOf(batch, device)))));
      total += batch.labels.length;
    }
    const correct = correctSum.read();
    return { correct, total, accuracy: total ? correct / total : 0 };
  } finally {
    correctSum.dispose();
  }
}
