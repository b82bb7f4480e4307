// `--arch <preset | config.json>`: a preset name, or a JSON file of RepMLPNetConfig fields
// checked field by field by the model's own validator (lib/models/config.ts).
import * as fs from 'node:fs';
import { RepmlpError } from '../errors';
import { validateConfig } from '../models/config';
import { preset, presetInputSize, presetNames, type PresetName } from '../models/presets';
import type { RepMLPNetConfig } from '../models/repmlpnet';
import { UsageError } from './command';

export interface Arch {
  /** the preset name or the config file */
  name: string;
  config: RepMLPNetConfig;
  /** the input height and width the config was designed for (hs[0] * patchSize) */
  inputSize: number;
  /** true for a preset (whose channels and classes a command may fit to its data or weights) */
  isPreset: boolean;
}

export function isPresetName(value: string): value is PresetName {
  return (presetNames as string[]).includes(value);
}

/** Checks a parsed config JSON: an object of RepMLPNetConfig fields, nothing else. */
export function configFromJson(json: unknown, file: string): RepMLPNetConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new RepmlpError(`config ${file}: expected a JSON object but received ${Array.isArray(json) ? 'an array' : String(json)}`);
  // Returned as written: the defaults validateConfig adds are the model's to add.
  validateConfig(json as RepMLPNetConfig, `config ${file}`);
  return json as RepMLPNetConfig;
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
  if (isPresetName(value)) return { name: value, config: preset(value), inputSize: presetInputSize(value), isPreset: true };
  if (!value.endsWith('.json') && !fs.existsSync(value))
    throw new UsageError(`${command}: --arch '${value}' is neither a preset (${presetNames.join(', ')}) nor a config file`);
  const config = configFromJson(readConfigFile(value), value);
  return { name: value, config, inputSize: config.hs[0] * config.patchSize, isPreset: false };
}
