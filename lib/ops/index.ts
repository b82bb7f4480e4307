// Every differentiable op, one file each.
export { reshape, permute, slice, contiguous } from './views';
export { relu } from './relu';
export { crossEntropy, type CrossEntropyOptions } from './cross_entropy';
