export { Module, ModuleList, type LoadStateDictOptions, type LoadStateDictResult } from './module';
export { Conv2d, Linear, BatchNorm2d, ConvBN, type InitOptions, type Size2, type Conv2dLayerOptions, type ConvBNOptions } from './layers';
