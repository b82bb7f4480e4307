// The trainer's options for the optimizer (AdamW or SGD), gradient accumulation, the
// learning rate's scaling by batch size and the EMA of the weights, checked and with their
// defaults, as the reference training code (DingXiaoH/RepMLP) has them:
// - optimizer.py builds torch.optim.SGD with momentum TRAIN.OPTIMIZER.MOMENTUM (0.9) and
//   nesterov=True, or AdamW; both with weight decay on weights only (set_weight_decay).
// - main_repmlp.py scales BASE_LR, WARMUP_LR and MIN_LR by BATCH_SIZE * world size / 256,
//   and by ACCUMULATION_STEPS when accumulating.
// - utils.py's update_model_ema moves an EMA copy every EMA_UPDATE_PERIOD (8) iterations.
import { describe, fail } from '../errors';
import { bool, nonNeg, onlyWith, optionalPosInt, OP, posInt } from './option-checks';

export type OptimizerName = 'adamw' | 'sgd';
export const OPTIMIZER_NAMES: readonly OptimizerName[] = ['adamw', 'sgd'];

/** The options of TrainOptions for the optimizer, accumulation, lr scaling and the EMA. */
export interface RecipeOptions {
  /** 'adamw' (the default) or 'sgd' (torch.optim.SGD with momentum) */
  optimizer?: OptimizerName;
  /** SGD only: momentum (default 0.9) and Nesterov momentum (default true, as the reference recipe) */
  momentum?: number;
  nesterov?: boolean;
  /** micro-batches of batchSize whose gradients are summed into one optimizer step (default 1) */
  accumSteps?: number;
  /**
   * The batch size lr and minLr are given for: both (and so the warm-up's start) are
   * multiplied by batchSize * accumSteps / lrScaleBatch (the reference code uses 256).
   * Default: no scaling.
   */
  lrScaleBatch?: number;
  /**
   * Keep an exponential moving average of the weights and BN statistics (default false),
   * evaluated every epoch; during the warm-up each update copies the model instead.
   */
  ema?: boolean;
  /**
   * The EMA's decay per update: ema = emaDecay * ema + (1 - emaDecay) * model (default
   * 0.99). The reference's TRAIN.EMA_ALPHA a corresponds to 1 - min(1, a * batchSize * emaEvery / epochs).
   */
  emaDecay?: number;
  /** update the EMA every N optimizer steps (default 8) */
  emaEvery?: number;
}

export interface RecipeSettings {
  optimizer: OptimizerName;
  /** SGD's momentum and Nesterov switch (unused by AdamW) */
  momentum: number;
  nesterov: boolean;
  accumSteps: number;
  /** the batch size the learning rates are given for; null: no scaling */
  lrScaleBatch: number | null;
  /** the factor the learning rates were multiplied by: batchSize * accumSteps / lrScaleBatch, or 1 */
  lrScale: number;
  ema: boolean;
  emaDecay: number;
  emaEvery: number;
}

export const SGD_MOMENTUM = 0.9;
export const EMA_DECAY = 0.99;
export const EMA_EVERY = 8;

function optimizerOf(o: RecipeOptions): Pick<RecipeSettings, 'optimizer' | 'momentum' | 'nesterov'> {
  const optimizer = o.optimizer ?? 'adamw';
  if (!OPTIMIZER_NAMES.includes(optimizer)) fail(OP, 'optimizer', "'adamw' or 'sgd'", describe(optimizer));
  onlyWith('momentum', o.momentum, optimizer === 'sgd', "optimizer is 'sgd'");
  onlyWith('nesterov', o.nesterov, optimizer === 'sgd', "optimizer is 'sgd'");
  const momentum = nonNeg('momentum', o.momentum, SGD_MOMENTUM);
  if (momentum >= 1) fail(OP, 'momentum', 'a number in [0, 1)', describe(momentum));
  const nesterov = bool('nesterov', o.nesterov, momentum > 0);
  if (nesterov && momentum === 0) fail(OP, 'nesterov', 'false with momentum 0 (Nesterov needs momentum)', 'true');
  return { optimizer, momentum, nesterov };
}

function emaOf(o: RecipeOptions): Pick<RecipeSettings, 'ema' | 'emaDecay' | 'emaEvery'> {
  const ema = bool('ema', o.ema, false);
  onlyWith('emaDecay', o.emaDecay, ema, 'ema is true');
  onlyWith('emaEvery', o.emaEvery, ema, 'ema is true');
  return { ema, emaDecay: nonNeg('emaDecay', o.emaDecay, EMA_DECAY, 1), emaEvery: posInt('emaEvery', o.emaEvery, EMA_EVERY) };
}

/** The recipe options checked, with the learning-rate factor for a batch of `batchSize`. */
export function recipeSettings(o: RecipeOptions, batchSize: number): RecipeSettings {
  const accumSteps = posInt('accumSteps', o.accumSteps, 1);
  const lrScaleBatch = optionalPosInt('lrScaleBatch', o.lrScaleBatch) ?? null;
  const lrScale = lrScaleBatch === null ? 1 : (batchSize * accumSteps) / lrScaleBatch;
  return { ...optimizerOf(o), accumSteps, lrScaleBatch, lrScale, ...emaOf(o) };
}

/**
 * The recipe options a resumed run must agree on, and what they were before they existed
 * (a checkpoint that does not record one was written with its default).
 */
export function recordedRecipe(r: RecipeSettings): Record<string, unknown> {
  const sgd = r.optimizer === 'sgd';
  return {
    optimizer: r.optimizer, momentum: sgd ? r.momentum : null, nesterov: sgd ? r.nesterov : null, accumSteps: r.accumSteps,
    lrScaleBatch: r.lrScaleBatch, ema: r.ema, emaDecay: r.ema ? r.emaDecay : null, emaEvery: r.ema ? r.emaEvery : null,
  };
}

export const RECORDED_RECIPE_DEFAULTS: Readonly<Record<string, unknown>> = recordedRecipe(recipeSettings({}, 1));
