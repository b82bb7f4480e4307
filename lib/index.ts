// Public API of repmlp.
// These two install the Tensor methods they implement (the views, backward; see tensor.ts).
// The exports below load them too; importing them here keeps that true whatever the exports.
import './ops/views';
import './autograd';
export { Tensor, type Device, type DType, type TensorOptions, type BackwardOptions } from './tensor';
export { tensor, zeros, ones, full, empty, randn, rand } from './creation';
export { scope, keep } from './scope';
export { noGrad, isGradEnabled } from './autograd';
export { liveStorages } from './storage';
export { Rng } from './rng';
export { RepmlpError } from './errors';
export { info, setTf32, setNumThreads, setCpuIsa, cpuIsas, type Info, type CudaBackendInfo } from './info';
export { backend, defaultDevice, type BackendChoice } from './backend';
export { memoryStats, resetPeakMemoryStats, emptyCache, setPoison, type MemStats } from './memory';
export * from './ops/index';
export * from './optim/index';
export * from './nn/index';
export * from './models/index';
export * from './data/index';
export * from './dist/index';
export * from './train/index';
export {
  readSafetensors, writeSafetensors, parseSafetensors, parseSafetensorsHeader, serializeSafetensors, SAFETENSORS_MAX_HEADER_BYTES,
  type HostTensor, type WriteOptions, type SafetensorsHeader, type SafetensorsEntry,
} from './io/safetensors';
export {
  readPth, readPthCheckpoint, describePth, readStateDict, PTH_MAX_PICKLE_BYTES, PTH_MAX_PICKLE_DEPTH, MAX_DEFLATE_RATIO,
  type PthReadOptions, type PthCheckpoint,
} from './io/pth';
export { PyGlobal, PyObject, TensorRef, StorageRef, type StorageDType } from './io/pickle-values';
export { writePth, serializePth } from './io/pth-write';
export { writeFileAtomic, appendFileChecked, removeStaleTemps, lockDirectory, LOCK_NAME, type DirLock, type LockOptions, type StaleTempOptions } from './io/index';
export * from './viz/index';
export * from './onnx/index';
export * from './infer/index';
export * from './predict/index';
