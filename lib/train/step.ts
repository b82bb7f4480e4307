// One optimizer step of the trainer: the forward and backward of each of its micro-batches
// (gradients summed in the parameters' .grad), then clipping and the optimizer's update;
// and the global-norm gradient clipping it may use.
import { noGrad } from '../autograd';
import { batchToTensors, type Batch } from '../data/loader';
import { add, mul } from '../ops/arithmetic';
import { correctCount } from '../ops/correct_count';
import { crossEntropy } from '../ops/cross_entropy';
import { mulScalar } from '../ops/scalar';
import { sum } from '../ops/sum';
import { keep, scope } from '../scope';
import type { FamilyModel } from '../models/families';
import type { Tensor } from '../tensor';
import type { DeviceSum } from './device-sum';
import { labelsOf } from './evaluate';
import type { TrainOptimizer } from './optimizer';
import type { Settings } from './options';
import type { TrainParallel } from './parallel';

/** What a step works on: the run's model, optimizer, the epoch's sums and its ranks (a TrainingRun is one). */
export interface StepContext {
  model: FamilyModel;
  opt: TrainOptimizer;
  lossSum: DeviceSum;
  correctSum: DeviceSum;
  s: Pick<Settings, 'device' | 'labelSmoothing' | 'clipGrad'>;
  par: TrainParallel;
}

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
 * The forward and backward of one micro-batch: label-smoothed cross-entropy, its gradient
 * times `lossScale` (1 / the micro-batches of the step) added to every parameter's .grad;
 * after the step's last micro-batch the gradients are averaged over the ranks. A rank's
 * mean loss weighs its share of the global batch (times the ranks, as the average divides
 * by them), so the ranks' gradients average to that of the global batch's mean loss. The
 * loss (its part of the global batch's mean) and the count of correct predictions are added
 * to the epoch's sums on the device, so the step queues its kernels without waiting.
 */
export function microStep(ctx: StepContext, batch: Batch, lossScale: number, last = true, globalSize = ctx.par.globalSize(batch)): void {
  const { model, s, par } = ctx;
  scope(() => {
    const { x, y } = batchToTensors(batch, s.device);
    const z = model.forward(x);
    const loss = crossEntropy(z, y, { labelSmoothing: s.labelSmoothing });
    const share = batch.labels.length / globalSize, scale = lossScale * share * par.size;
    par.backward(scale === 1 ? loss : mulScalar(loss, scale), last);
    ctx.lossSum.add(share === 1 ? loss : mulScalar(loss, share));
    // Mixed batches carry soft targets: the hard labels count the correct predictions.
    ctx.correctSum.add(correctCount(z, y.dtype === 'int64' ? y : labelsOf(batch, s.device)));
  });
}

/** The update from the summed gradients at learning rate `lr`: optional clipping, the optimizer, then the gradients freed. */
export function optimizerStep(ctx: StepContext, lr: number): void {
  const { model, opt, s } = ctx;
  opt.lr = lr;
  scope(() => {
    if (s.clipGrad > 0) clipGradNorm(model.parameters(), s.clipGrad);
    opt.step();
  });
  // The gradients go now, not at the next step: they would hold memory through evaluation and saving.
  opt.zeroGrad();
}

/**
 * One optimizer step at learning rate `lr` over `count` micro-batches taken from `next`,
 * each weighted 1 / count (so their gradients sum to that of their mean loss); returns the
 * number of images trained (by every rank).
 */
export async function trainStep(ctx: StepContext, next: () => Promise<Batch>, count: number, lr: number): Promise<number> {
  ctx.opt.zeroGrad();
  let images = 0;
  for (let i = 0; i < count; i++) {
    const batch = await next(), globalSize = ctx.par.globalSize(batch);
    microStep(ctx, batch, 1 / count, i === count - 1, globalSize);
    images += globalSize;
  }
  optimizerStep(ctx, lr);
  ctx.par.afterStep();
  return images;
}
