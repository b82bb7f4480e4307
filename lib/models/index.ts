export {
  RepMLPNet, RepMLPBlock, RepMLPNetUnit, FFNBlock, GlobalPerceptron, ModuleList,
  type RepMLPNetConfig, type RepMLPBlockOptions, type BuildOptions,
} from './repmlpnet';
export { preset, presetNames, presetInputSize, parameterCount, type PresetName, type PresetOverrides } from './presets';
export { flops } from './flops';
