// From a weights file and an optional `--arch` to the state dict and the model config that
// fits it, for every command that loads weights (eval, viz, export-onnx, convert). The
// weights may be a state dict in either form (.safetensors or PyTorch .pth) or a training
// checkpoint, whose recorded config serves when --arch is not given.
import { familyOf, type ModelConfig, type ModelFamily } from '../models/families';
import type { HostTensor } from '../io/safetensors';
import type { CommandLine } from './args';
import { resolveArch } from './arch';
import { UsageError } from './command';
import { pathOption } from './options';

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
  const family: ModelFamily = familyOf(config);
  const [inChannels, numClasses] = family.dataOf(state);
  const [ownChannels] = family.inputShape(config);
  return family.withData(config, inChannels ?? ownChannels, numClasses ?? config.numClasses);
}

/**
 * Where a preset's input channels and classes come from: the weights' shapes, a data set's
 * (eval), or the preset itself (convert, whose error then shows every key that differs).
 */
export type PresetFit = 'weights' | 'preset' | { inChannels: number; numClasses: number };

export interface ModelSource {
  /** the weights file, already known to exist */
  weights: string;
  /** the --arch value, when given */
  arch: string | undefined;
  /** where a preset takes its channels and classes from (default the weights) */
  fit?: PresetFit;
  /** --arch is needed even for a training checkpoint (its recorded config is not used) */
  archRequired?: boolean;
}

export interface ResolvedModel {
  state: Map<string, HostTensor>;
  config: ModelConfig;
  form: 'train' | 'deploy';
  /** the --arch value, or the arch a checkpoint recorded, or null for a checkpoint without one */
  archName: string | null;
  /** the config is the one a training checkpoint recorded */
  fromCheckpoint: boolean;
}

/**
 * The weights of `src.weights` and their config: from --arch when given (checked before the
 * weights are read, so that a bad --arch is a usage error however large the file), else
 * from the training checkpoint; weights that are neither need --arch.
 */
export function resolveModel(command: string, src: ModelSource): ResolvedModel {
  const arch = src.arch !== undefined || src.archRequired ? resolveArch(command, src.arch) : null;
  // Loaded when a command runs, so that `repmlp --help` needs no native addon.
  const { readModelWeights } = require('../train/checkpoint') as typeof import('../train/checkpoint');
  const { state, config: saved, arch: savedArch } = readModelWeights(src.weights);
  if (arch === null) {
    if (!saved) throw new UsageError(`${command}: --arch <preset | config.json> is required for weights that are not a training checkpoint`);
    return { state, config: saved, form: weightsForm(state, saved), archName: savedArch, fromCheckpoint: true };
  }
  const form = weightsForm(state, arch.config);
  const fit = src.fit ?? 'weights';
  let config = arch.config;
  if (arch.isPreset && fit === 'weights') config = fitPresetToWeights(config, state);
  else if (arch.isPreset && typeof fit === 'object') config = arch.family.withData(config, fit.inChannels, fit.numClasses);
  return { state, config, form, archName: arch.name, fromCheckpoint: false };
}

/**
 * `--weights <file>` (required) and the one positional argument, the file the command
 * writes; `expected` says what that is (`an output .onnx file`).
 */
export function weightsAndOutput(command: string, cl: CommandLine, expected: string): { weights: string; output: string } {
  const weights = pathOption(command, cl.values, 'weights', { required: 'file' });
  if (cl.positional.length < 1) throw new UsageError(`${command}: expected ${expected}`);
  return { weights, output: cl.positional[0] };
}
