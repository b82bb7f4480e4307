// Every differentiable op, one file each.
export { reshape, permute, slice, contiguous } from './views';
export { relu } from './relu';
export { matmul, bmm } from './matmul';
export { linear } from './linear';
export { conv1x1 } from './conv1x1';
export { setSharingFc } from './setsharing_fc';
