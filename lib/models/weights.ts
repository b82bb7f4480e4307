// What a state dict says about the model it belongs to: its form (training or deploy, told by
// the keys its family's deploy form folds) and, for a preset, the input channels and classes
// (told by the stem's and the head's shapes).
import type { HostTensor } from '../io/safetensors';
import { familyOf, type ModelConfig } from './families';

/**
 * 'train' when the state dict holds what the deploy form of its family folds (RepMLPNet:
 * fc3_bn, repconv*; the 2021 models: any BN too), else 'deploy'. The family is the config's
 * (default RepMLPNet's).
 */
export function weightsForm(state: Map<string, HostTensor>, config: ModelConfig | null = null): 'train' | 'deploy' {
  return familyOf(config ?? {}).weightsForm(state);
}

/** A preset's config with the input channels and classes of the weights (its family's stem and head shapes). */
export function fitPresetToWeights(config: ModelConfig, state: Map<string, HostTensor>): ModelConfig {
  const family = familyOf(config);
  const [inChannels, numClasses] = family.dataOf(state);
  const [ownChannels] = family.inputShape(config);
  return family.withData(config, inChannels ?? ownChannels, numClasses ?? config.numClasses);
}
