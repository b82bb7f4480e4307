// From a weights file and an optional `--arch` to the state dict and the model config that
// fits it, for every command that loads weights (eval, predict, viz, export-onnx, convert).
// The weights may be a state dict in either form (.safetensors or PyTorch .pth) or a training
// checkpoint; the config recorded by repmlp train (a model card, or a checkpoint's) serves
// when --arch is not given.
import type { ModelCard } from '../data/model-card';
import type { PartitionOrder, RepMLPNetConfig } from '../models/repmlpnet';
import type { HostTensor } from '../io/safetensors';
import { flags, type CommandLine, type OptionSpecs, type Values } from './args';
import { ARCH_OPTIONS, isPresetName, partitionOrderOption, resolveArch, withPartitionOrder } from './arch';
import { helpEntry, UsageError } from './command';
import { fitPresetToWeights, weightsForm } from '../models/weights';
import { preset } from '../models/presets';
import { pathOption, stringOption } from './options';

/** The options of every command that loads weights: --weights' companions --arch, --partition-order and --ema. */
export const WEIGHTS_OPTIONS: OptionSpecs = { ...ARCH_OPTIONS, ...flags('ema') };

/** The usage entry of --ema, its text at `column`. */
export function emaHelp(column: number): string {
  return helpEntry('--ema', [
    "the EMA's weights of a training checkpoint instead of the model's:",
    "repmlp's ema.* tensors, the reference code's 'ema' ('state_dict_ema',",
    "'model_ema' too)",
  ], column);
}

export { fitPresetToWeights, weightsForm };

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
  /** --partition-order, when given */
  order?: PartitionOrder;
  /** --ema: the EMA's weights of a training checkpoint */
  ema?: boolean;
  /** where a preset takes its channels and classes from (default the weights) */
  fit?: PresetFit;
  /** --arch is needed even for a training checkpoint (its recorded config is not used) */
  archRequired?: boolean;
}

export interface ResolvedModel {
  state: Map<string, HostTensor>;
  config: RepMLPNetConfig;
  form: 'train' | 'deploy';
  /** the --arch value, or the arch a checkpoint recorded, or null for a checkpoint without one */
  archName: string | null;
  /** the config is the one the file recorded */
  fromCheckpoint: boolean;
  /** the file's model card (class names, preprocessing); null for weights written elsewhere */
  card: ModelCard | null;
}

/** The ModelSource fields of a command line: --arch, --partition-order and --ema. */
export function modelSource(command: string, values: Values, weights: string): ModelSource {
  return { weights, arch: stringOption(values, 'arch'), order: partitionOrderOption(command, values), ema: values.ema === true };
}

/** The config of weights given without --arch: the one a checkpoint recorded, or the preset it names. */
function savedConfig(command: string, saved: RepMLPNetConfig | null, savedArch: string | null, state: Map<string, HostTensor>): RepMLPNetConfig {
  if (saved) return saved;
  if (savedArch !== null && isPresetName(savedArch)) return fitPresetToWeights(preset(savedArch), state);
  const named = savedArch === null ? '' : `: the checkpoint's config names arch '${savedArch}', which is not a preset`;
  throw new UsageError(`${command}: --arch <preset | config.json> is required for weights that record no config (written elsewhere, or not by repmlp train)${named}`);
}

/**
 * The weights of `src.weights` and their config: from --arch when given (checked before the
 * weights are read, so that a bad --arch is a usage error however large the file), else
 * from the training checkpoint (the config repmlp recorded, or the preset the reference
 * code's config names); weights that are neither need --arch.
 */
export function resolveModel(command: string, src: ModelSource): ResolvedModel {
  const arch = src.arch !== undefined || src.archRequired ? resolveArch(command, src.arch, src.order) : null;
  // Loaded when a command runs, so that `repmlp --help` needs no native addon.
  const { readModelWeights } = require('../train/checkpoint') as typeof import('../train/checkpoint');
  const { state, config: saved, arch: savedArch, card } = readModelWeights(src.weights, { ema: src.ema });
  const form = weightsForm(state);
  if (arch === null) {
    const config = withPartitionOrder(command, savedConfig(command, saved, savedArch, state), src.order, src.weights);
    return { state, config, form, archName: savedArch, fromCheckpoint: true, card };
  }
  const fit = src.fit ?? 'weights';
  let config = arch.config;
  if (arch.isPreset && fit === 'weights') config = fitPresetToWeights(config, state);
  else if (arch.isPreset && typeof fit === 'object') config = { ...config, inChannels: fit.inChannels, numClasses: fit.numClasses };
  return { state, config, form, archName: arch.name, fromCheckpoint: false, card };
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
