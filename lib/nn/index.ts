export { Module, ModuleList, type LoadStateDictOptions, type LoadStateDictResult } from './module';
export { Conv2d, Linear, BatchNorm2d, ConvBN, MaxPool2d, AvgPool2d, type InitOptions, type Size2, type Conv2dLayerOptions, type ConvBNOptions } from './layers';
export { fuseBn, bnAffine, padKernel, sumBranches, convToFc, repeatEach, type Fused } from './reparam';
