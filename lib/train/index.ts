// Training: the schedule, checkpoints, the trainer and its evaluation.
export { cosineSchedule, type CosineScheduleOptions } from './schedule';
export {
  writeCheckpoint, readCheckpoint, isCheckpoint, modelState, checkOptimizerState,
  type Checkpoint, type CheckpointMeta, type ParamSlot, type StateLayout,
} from './checkpoint';
export { train } from './trainer';
export { evaluate, type Evaluation } from './evaluate';
export { clipGradNorm } from './step';
export { type TrainOptions, type TrainSummary, type DataName } from './options';
// Kept here too: the trainer's data sets came with it before they moved to lib/data.
export { loadData, limitDataset } from '../data/datasets';
