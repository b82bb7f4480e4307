// Training: the schedule, checkpoints, the trainer, its evaluation and the EMA of the weights.
export { cosineSchedule, type CosineScheduleOptions } from './schedule';
export {
  writeCheckpoint, readCheckpoint, isCheckpoint, modelState, checkOptimizerState,
  type Checkpoint, type CheckpointMeta, type ReadCheckpoint, type RunMeta, type ParamSlot, type StateLayout,
} from './checkpoint';
export { train } from './trainer';
export { evaluate, type Evaluation } from './evaluate';
export { topkCorrect, rankedClasses } from './topk';
export { WeightEma, emaDecayAt, type EmaSchedule } from './ema';
export { clipGradNorm } from './step';
export { type TrainOptions, type TrainSummary, type DataName, type ImageFolderOptions, type OptimizerName } from './options';
// Kept here too: the trainer's data sets came with it before they moved to lib/data.
export { loadData, limitDataset } from '../data/datasets';
