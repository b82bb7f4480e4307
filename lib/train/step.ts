// One optimizer step of the trainer, and the global-norm gradient clipping it may use.
import { noGrad } from '../autograd';
import { batchToTensors, type Batch } from '../data/loader';
import { add, mul } from '../ops/arithmetic';
import { correctCount } from '../ops/correct_count';
import { crossEntropy } from '../ops/cross_entropy';
import { mulScalar } from '../ops/scalar';
import { sum } from '../ops/sum';
import { keep, scope } from '../scope';
import type { Tensor } from '../tensor';
import { labelsOf } from './evaluate';
import type { TrainingRun } from './run';

/** Scales the gradients in place so that their global L2 norm is at most maxNorm; returns the norm before. */
export function clipGradNorm(params: Tensor[], maxNorm: number): number {
  return noGrad(() => {
    const withGrad = params.filter((p) => p.grad);
    const norm = Math.sqrt(scope(() => {
      let acc: Tensor | null = null;
      for (const p of withGrad) {
        const s = sum(mul(p.grad!, p.grad!));
        acc = acc ? add(acc, s) : s;
      }
      return acc ? acc.item() : 0;
    }));
    if (norm > maxNorm) {
      const scale = maxNorm / (norm + 1e-6);
      for (const p of withGrad) {
        const g = keep(mulScalar(p.grad!, scale));
        p.grad!.dispose();
        p.grad = g;
      }
    }
    return norm;
  });
}

/**
 * One step on `batch` at learning rate `lr`: forward, label-smoothed cross-entropy,
 * backward, optional clipping, AdamW. The loss and the count of correct predictions are
 * added to the epoch's sums on the device, so the step queues its kernels without waiting.
 */
export function trainStep(run: TrainingRun, batch: Batch, lr: number): void {
  const { model, opt, s } = run;
  opt.lr = lr;
  scope(() => {
    opt.zeroGrad();
    const { x, y } = batchToTensors(batch, s.device);
    const z = model.forward(x);
    const loss = crossEntropy(z, y, { labelSmoothing: s.labelSmoothing });
    loss.backward();
    if (s.clipGrad > 0) clipGradNorm(model.parameters(), s.clipGrad);
    opt.step();
    run.lossSum.add(loss);
    // Mixed batches carry soft targets: the hard labels count the correct predictions.
    run.correctSum.add(correctCount(z, y.dtype === 'int64' ? y : labelsOf(batch, s.device)));
  });
  // The gradients go now, not at the next step: they would hold memory through evaluation and saving.
  opt.zeroGrad();
}
