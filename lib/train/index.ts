// Training: the schedule, checkpoints and the trainer.
export { cosineSchedule, type CosineScheduleOptions } from './schedule';
export { writeCheckpoint, readCheckpoint, isCheckpoint, modelState, type Checkpoint, type CheckpointMeta } from './checkpoint';
export { train, evaluate, loadData, clipGradNorm, limitDataset, type TrainOptions, type TrainSummary, type DataName } from './trainer';
