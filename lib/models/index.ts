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
export { RepMLP, convertToDeploy, isDeployForm, type RepMLPOptions } from './repmlp-block';
export { BaseBlock, RepMLPLightBlock, RepMLPBottleneckBlock } from './repmlp-blocks';
export { RepMLPResNet } from './repmlp-resnet';
export {
  validateResNetConfig, resnetPreset, resnetCost, RESNET_PRESETS, type RepMLPResNetConfig, type ResNetPresetName, type ResNetBlockType,
} from './repmlp-resnet-config';
export { RepMLPCifarNet } from './repmlp-cifar';
export {
  validateCifarConfig, cifarPreset, cifarCost, CIFAR_PRESETS, type RepMLPCifarConfig, type CifarPresetName, type CifarModelVariant, type CifarAblation,
} from './repmlp-cifar-config';
export {
  familyOf, familyOfPreset, presetConfig, buildModel, isRepMLPNetConfig, modelInputSize, checkModelInputSize, allPresetNames,
  type ModelFamily, type ModelConfig, type FamilyModel, type FamilyBuildOptions, type InputSize,
} from './families';
