// `--arch <preset | config.json>` and `--partition-order`: a preset name of any model family,
// or a JSON file of config fields checked field by field by its family's own validator
// (lib/models/families.ts: the config's `arch` names the family, RepMLPNet when it has none;
// RepMLPNet's fields in repmlp's names or the reference code's), with the order of partitions
// and channel groups the command line asks for (RepMLPNet's alone).
import * as fs from 'node:fs';
import { RepmlpError } from '../errors';
import { PARTITION_ORDERS } from '../models/config';
import { allPresetNames, familyOf, familyOfPreset, isRepMLPNetConfig, type ModelConfig, type ModelFamily } from '../models/families';
import type { PartitionOrder } from '../models/repmlpnet';
import { valued, type OptionSpecs, type Values } from './args';
import { helpEntry, UsageError } from './command';
import { choiceOption, stringOption } from './options';

export interface Arch {
  /** the preset name or the config file */
  name: string;
  config: ModelConfig;
  family: ModelFamily;
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

export function isPresetName(value: string): boolean {
  return familyOfPreset(value) !== null;
}

/** Checks a parsed config JSON: an object of its family's config fields (RepMLPNet's in either spelling), nothing else; returned as its family records it. */
export function configFromJson(json: unknown, file: string): ModelConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new RepmlpError(`config ${file}: expected a JSON object but received ${Array.isArray(json) ? 'an array' : String(json)}`);
  // Without the defaults the validator adds: those are the model's to add.
  return familyOf(json, `config ${file}`).check(json as ModelConfig, `config ${file}`);
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

/**
 * `config` with the partition order `order` (unchanged when undefined); a config file that
 * says otherwise is an error naming both, and so is an order for another family's config
 * (partition orders are RepMLPNet's).
 */
export function withPartitionOrder(command: string, config: ModelConfig, order: PartitionOrder | undefined, source: string): ModelConfig {
  if (order === undefined) return config;
  if (!isRepMLPNetConfig(config))
    throw new UsageError(`${command}: --partition-order is for RepMLPNet configs (the order of their partitions and channel groups) but ${source} is a ${familyOf(config).arch}`);
  if (config.partitionOrder !== undefined && config.partitionOrder !== order)
    throw new UsageError(`${command}: --partition-order ${order} contradicts partitionOrder '${config.partitionOrder}' in ${source}`);
  return { ...config, partitionOrder: order };
}

/** `--arch`: a preset name of any family, or a JSON file of config fields; `--partition-order` applied to it. */
export function resolveArch(command: string, value: string | undefined, order?: PartitionOrder): Arch {
  if (value === undefined) throw new UsageError(`${command}: --arch <preset | config.json> is required`);
  const preset = familyOfPreset(value);
  if (preset) return { name: value, config: withPartitionOrder(command, preset.preset(value), order, value), family: preset, isPreset: true };
  if (!value.endsWith('.json') && !fs.existsSync(value))
    throw new UsageError(`${command}: --arch '${value}' is neither a preset (${allPresetNames.join(', ')}) nor a config file`);
  const config = withPartitionOrder(command, configFromJson(readConfigFile(value), value), order, value);
  return { name: value, config, family: familyOf(config), isPreset: false };
}

/** `--arch` and `--partition-order` of a parsed command line. */
export function archOption(command: string, values: Values): Arch {
  return resolveArch(command, stringOption(values, 'arch'), partitionOrderOption(command, values));
}
