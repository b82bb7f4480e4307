export {
  RepMLPNet, RepMLPBlock, RepMLPNetUnit, FFNBlock, GlobalPerceptron,
  type RepMLPNetConfig, type RepMLPBlockOptions, type BuildOptions,
} from './repmlpnet';
export { validateConfig, CONFIG_FIELDS } from './config';
export { randomizeBatchNorms } from './randomize';
export { preset, presetNames, presetInputSize, parameterCount, type PresetName, type PresetOverrides } from './presets';
export { flops } from './flops';
export { RepMLP, type RepMLPOptions } from './repmlp-block';
export { BaseBlock, RepMLPLightBlock, RepMLPBottleneckBlock } from './repmlp-blocks';
export { RepMLPResNet, type ResNetBuildOptions } from './repmlp-resnet';
export {
  validateResNetConfig, resnetPreset, resnetCost, RESNET_PRESETS, type RepMLPResNetConfig, type ResNetPresetName, type ResNetBlockType,
} from './repmlp-resnet-config';
