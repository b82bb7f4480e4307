// `--arch <preset | config.json>` and `--partition-order`: a preset name, or a JSON file of
// RepMLPNetConfig fields (repmlp's names or the reference code's) checked field by field by
// the model's own validator (lib/models/config.ts), with the order of partitions and channel
// groups the command line asks for.
import * as fs from 'node:fs';
import { RepmlpError } from '../errors';
import { checkConfig, PARTITION_ORDERS } from '../models/config';
import { configInputSize } from '../models/geometry';
import { preset, presetNames, type PresetName } from '../models/presets';
import type { PartitionOrder, RepMLPNetConfig } from '../models/repmlpnet';
import { valued, type OptionSpecs, type Values } from './args';
import { helpEntry, UsageError } from './command';
import { choiceOption, stringOption } from './options';

export interface Arch {
  /** the preset name or the config file */
  name: string;
  config: RepMLPNetConfig;
  /** the input [height, width] the config was designed for (hs[0] x ws[0] times the patch) */
  inputSize: [number, number];
  /** true for a preset (whose channels and classes a command may fit to its data or weights) */
  isPreset: boolean;
}

/** The options of every command that builds a config from --arch. */
export const ARCH_OPTIONS: OptionSpecs = valued('arch', 'partition-order');

/** The usage entry of --partition-order, its text at `column`. */
export function partitionOrderHelp(column: number): string {
  return helpEntry('--partition-order <o>', [
    'paper (default) or reference: the order of partitions and channel',
    'groups at more than one partition per map; reference for weights',
    'trained with the reference code (docs/MODELS.md, Partition order)',
  ], column);
}

export function isPresetName(value: string): value is PresetName {
  return (presetNames as string[]).includes(value);
}

/** Checks a parsed config JSON: an object of RepMLPNetConfig fields (either spelling), nothing else; returned under repmlp's names. */
export function configFromJson(json: unknown, file: string): RepMLPNetConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new RepmlpError(`config ${file}: expected a JSON object but received ${Array.isArray(json) ? 'an array' : String(json)}`);
  // Without the defaults validateConfig adds: those are the model's to add.
  return checkConfig(json as RepMLPNetConfig, `config ${file}`);
}

/** The text of a config file, with the file in the error. */
function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new RepmlpError(`config ${file}: could not read it: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new RepmlpError(`config ${file}: not valid JSON (${(e as Error).message})`);
  }
}

/** --partition-order, when given. */
export function partitionOrderOption(command: string, values: Values): PartitionOrder | undefined {
  return choiceOption(command, values, 'partition-order', PARTITION_ORDERS);
}

/** `config` with the partition order `order` (unchanged when undefined); a config file that says otherwise is an error naming both. */
export function withPartitionOrder(command: string, config: RepMLPNetConfig, order: PartitionOrder | undefined, source: string): RepMLPNetConfig {
  if (order === undefined) return config;
  if (config.partitionOrder !== undefined && config.partitionOrder !== order)
    throw new UsageError(`${command}: --partition-order ${order} contradicts partitionOrder '${config.partitionOrder}' in ${source}`);
  return { ...config, partitionOrder: order };
}

/** `--arch`: a preset name, or a JSON file of config fields; `--partition-order` applied to it. */
export function resolveArch(command: string, value: string | undefined, order?: PartitionOrder): Arch {
  if (value === undefined) throw new UsageError(`${command}: --arch <preset | config.json> is required`);
  if (isPresetName(value)) {
    const config = withPartitionOrder(command, preset(value), order, value);
    return { name: value, config, inputSize: configInputSize(config), isPreset: true };
  }
  if (!value.endsWith('.json') && !fs.existsSync(value))
    throw new UsageError(`${command}: --arch '${value}' is neither a preset (${presetNames.join(', ')}) nor a config file`);
  const config = withPartitionOrder(command, configFromJson(readConfigFile(value), value), order, value);
  return { name: value, config, inputSize: configInputSize(config), isPreset: false };
}

/** `--arch` and `--partition-order` of a parsed command line. */
export function archOption(command: string, values: Values): Arch {
  return resolveArch(command, stringOption(values, 'arch'), partitionOrderOption(command, values));
}
