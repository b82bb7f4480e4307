// Training: the schedule, checkpoints and the trainer.
export { cosineSchedule, type CosineScheduleOptions } from './schedule';
export {
  writeCheckpoint, readCheckpoint, isCheckpoint, modelState, checkOptimizerState,
  type Checkpoint, type CheckpointMeta, type ParamSlot, type StateLayout,
} from './checkpoint';
export { train, evaluate, loadData, clipGradNorm, limitDataset, type TrainOptions, type TrainSummary, type DataName } from './trainer';
