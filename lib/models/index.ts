export {
  RepMLPNet, RepMLPBlock, RepMLPNetUnit, FFNBlock, GlobalPerceptron,
  type RepMLPNetConfig, type PartitionOrder, type RepMLPBlockOptions, type BuildOptions,
} from './repmlpnet';
export { validateConfig, checkConfig, CONFIG_FIELDS, REFERENCE_NAMES, PARTITION_ORDERS, type CheckedConfig, type ReferenceRepMLPNetConfig } from './config';
export { patchPair, configInputSize, checkInputSize, partitionsPerStage, partitionOrderWarning } from './geometry';
export { stateDictShapes, parameterCount, type KeyShape } from './shapes';
export { randomizeBatchNorms } from './randomize';
export { preset, presetNames, presetInputSize, type PresetName, type PresetOverrides } from './presets';
export { flops } from './flops';
