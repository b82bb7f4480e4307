// The trainer's optimizer, as the reference's build_optimizer (DingXiaoH/RepMLP,
// optimizer.py) makes it: two parameter groups as its set_weight_decay splits them (weight
// decay on weights, none on 1-d tensors: biases and BatchNorm scales and shifts; for
// RepMLPNet, whose every bias is 1-d and which names no other exceptions, that is
// splitWeightDecay's split), then AdamW, or SGD with momentum and Nesterov momentum.
import { AdamW } from '../optim/adamw';
import { splitWeightDecay, type BaseHyper, type Optimizer } from '../optim/optimizer';
import { SGD } from '../optim/sgd';
import type { Tensor } from '../tensor';
import type { StateLayout } from './checkpoint';
import type { Settings } from './options';

export type TrainOptimizer = AdamW | SGD;

/** The optimizer as the base class both share (for what handles either alike: state dicts, groups). */
export const baseOptimizer = (opt: TrainOptimizer): Optimizer<BaseHyper> => opt;

type OptimizerSettings = Pick<Settings, 'optimizer' | 'lr' | 'weightDecay' | 'momentum' | 'nesterov'>;

/** The optimizer of `params` (the model's, in its order) for the settings. */
export function makeOptimizer(params: Tensor[], s: OptimizerSettings): TrainOptimizer {
  const groups = splitWeightDecay(params, s.weightDecay);
  if (s.optimizer === 'sgd') return new SGD(groups, { lr: s.lr, momentum: s.momentum, nesterov: s.nesterov, weightDecay: s.weightDecay });
  return new AdamW(groups, { lr: s.lr, weightDecay: s.weightDecay });
}

/** AdamW's per-parameter state: a step count and two moments of the parameter's shape. */
const ADAMW_STATE: StateLayout = { step: 'count', exp_avg: 'param', exp_avg_sq: 'param' };
/** SGD's: the momentum buffer; none without momentum. */
const SGD_STATE: StateLayout = { momentum_buffer: 'param' };

/** What every parameter's optimizer state holds after the first step. */
export function optimizerStateLayout(s: OptimizerSettings): StateLayout {
  if (s.optimizer === 'adamw') return ADAMW_STATE;
  return s.momentum > 0 ? SGD_STATE : {};
}

/** The optimizer in a line: its name and hyperparameters. */
export function describeOptimizer(s: OptimizerSettings): string {
  const decay = `weight decay ${s.weightDecay} on >= 2-d tensors`;
  if (s.optimizer === 'adamw') return `AdamW, ${decay}`;
  return `SGD, momentum ${s.momentum}${s.nesterov ? ' (Nesterov)' : ''}, ${decay}`;
}
