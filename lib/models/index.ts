export {
  RepMLPNet, RepMLPBlock, RepMLPNetUnit, FFNBlock, GlobalPerceptron,
  type RepMLPNetConfig, type RepMLPBlockOptions, type BuildOptions,
} from './repmlpnet';
export { validateConfig, CONFIG_FIELDS } from './config';
export { randomizeBatchNorms } from './randomize';
export { preset, presetNames, presetInputSize, parameterCount, type PresetName, type PresetOverrides } from './presets';
export { flops } from './flops';
