// Public API of repmlp.
export { Tensor, type Device, type DType, type TensorOptions } from './tensor';
export { tensor, zeros, ones, full, empty, randn, rand } from './creation';
export { scope, keep } from './scope';
export { noGrad, isGradEnabled } from './autograd';
export { liveStorages } from './storage';
export { Rng } from './rng';
export { RepmlpError } from './errors';
export { info, setTf32, setNumThreads, type Info, type CudaBackendInfo } from './info';
export * from './ops/index';
export * from './optim/index';
export * from './nn/index';
export * from './models/index';
export * from './data/index';
export * from './train/index';
export { readSafetensors, writeSafetensors, parseSafetensors, serializeSafetensors, type HostTensor, type WriteOptions } from './safetensors';
export { readPth, readStateDict } from './pth';
export * from './onnx/index';
