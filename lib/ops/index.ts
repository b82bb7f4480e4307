// Every differentiable op, one file each.
export { reshape, permute, slice, contiguous } from './views';
export { relu } from './relu';
export { partition, unpartition } from './partition';
export { conv2d, type Conv2dOptions } from './conv2d';
export { batchNorm2d, type BatchNormOptions } from './batchnorm';
