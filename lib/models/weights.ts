// What a state dict says about the model it belongs to: its form (training or deploy, told by
// the keys) and, for a preset, the input channels and classes (told by the stem's and the
// head's shapes).
import type { HostTensor } from '../io/safetensors';
import { stateDictForm } from './infer';
import type { RepMLPNetConfig } from './repmlpnet';

/** 'train' when the state dict has Local Perceptron branches (fc3_bn, repconv*), else 'deploy'. */
export function weightsForm(state: Map<string, HostTensor>): 'train' | 'deploy' {
  return stateDictForm(state.keys());
}

/** A preset's config with the input channels and classes of the weights (the conv_embedding and head shapes). */
export function fitPresetToWeights(config: RepMLPNetConfig, state: Map<string, HostTensor>): RepMLPNetConfig {
  const stem = state.get('conv_embedding.conv.weight'), head = state.get('head.weight');
  return {
    ...config,
    ...(stem?.shape.length === 4 ? { inChannels: stem.shape[1] } : {}),
    ...(head?.shape.length === 2 ? { numClasses: head.shape[0] } : {}),
  };
}
