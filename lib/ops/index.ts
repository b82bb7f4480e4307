// Every differentiable op, one file each.
export { reshape, permute, slice, contiguous } from './views';
export { relu } from './relu';
export { batchNorm2d, type BatchNormOptions } from './batchnorm';
