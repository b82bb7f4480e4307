// `--arch <preset | config.json>`: a preset name of any model family, or a JSON file of config
// fields checked field by field by its family's own validator (lib/models/families.ts: the
// config's `arch` names the family, RepMLPNet when it has none).
import * as fs from 'node:fs';
import { RepmlpError } from '../errors';
import { allPresetNames, familyOf, familyOfPreset, type ModelConfig, type ModelFamily } from '../models/families';
import { UsageError } from './command';

export interface Arch {
  /** the preset name or the config file */
  name: string;
  config: ModelConfig;
  family: ModelFamily;
  /** the input [channels, height, width] the config was designed for */
  inputShape: [number, number, number];
  /** true for a preset (whose channels and classes a command may fit to its data or weights) */
  isPreset: boolean;
}

export function isPresetName(value: string): boolean {
  return familyOfPreset(value) !== null;
}

/** Checks a parsed config JSON: an object of its family's config fields, nothing else. */
export function configFromJson(json: unknown, file: string): ModelConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new RepmlpError(`config ${file}: expected a JSON object but received ${Array.isArray(json) ? 'an array' : String(json)}`);
  // Returned as written: the defaults the validator adds are the model's to add.
  familyOf(json, `config ${file}`).validate(json as ModelConfig, `config ${file}`);
  return json as ModelConfig;
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

/** `--arch`: a preset name, or a JSON file of config fields. */
export function resolveArch(command: string, value: string | undefined): Arch {
  if (value === undefined) throw new UsageError(`${command}: --arch <preset | config.json> is required`);
  const family = familyOfPreset(value);
  if (family) {
    const config = family.preset(value);
    return { name: value, config, family, inputShape: family.inputShape(config), isPreset: true };
  }
  if (!value.endsWith('.json') && !fs.existsSync(value))
    throw new UsageError(`${command}: --arch '${value}' is neither a preset (${allPresetNames.join(', ')}) nor a config file`);
  const config = configFromJson(readConfigFile(value), value);
  const of = familyOf(config);
  return { name: value, config, family: of, inputShape: of.inputShape(config), isPreset: false };
}
