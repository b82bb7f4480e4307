// Optimizers with fused native steps.
export { Optimizer, splitWeightDecay, type BaseHyper, type OptimizerStateDict, type ParamGroup, type ParamsOrGroups } from './optimizer';
export { AdamW, type AdamWHyper } from './adamw';
export { SGD, type SGDHyper } from './sgd';
