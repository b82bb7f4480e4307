// Every differentiable op, one file each.
export { reshape, permute, slice, contiguous } from './views';
export * from './unary';
export { partition, unpartition } from './partition';
export { unpartitionGate, type UnpartitionGateOptions } from './unpartition_gate';
export { conv2d, type Conv2dOptions } from './conv2d';
export { batchNorm2d, type BatchNormActivation, type BatchNormOptions } from './batchnorm';
export { add, sub, mul } from './arithmetic';
export { mulScalar, addScalar } from './scalar';
export { sum, mean } from './sum';
export { expand } from './expand';
export { globalAvgPool } from './avgpool';
export { crossEntropy, type CrossEntropyOptions } from './cross_entropy';
export { correctCount } from './correct_count';
export { matmul, bmm } from './matmul';
export { linear } from './linear';
export { conv1x1 } from './conv1x1';
export { setSharingFc } from './setsharing_fc';
