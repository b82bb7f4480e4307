// Distributed data-parallel training: the world, its collectives and DataParallel (the
// sampler that shards each epoch over the ranks is DistributedSampler, in lib/data).
export {
  initDistributed, world, isRank0, finalizeDistributed, abortDistributed, distributedEngines, launcherVariable,
  LAUNCHER_VARIABLES, type World, type DistributedOptions,
} from './world';
export { allReduce, broadcast, barrier, broadcastObject, sumCounts, type ReduceOp } from './collectives';
export { DataParallel, broadcastCoalesced, lossScale, type DataParallelOptions } from './data-parallel';
