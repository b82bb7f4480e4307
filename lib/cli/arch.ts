// What `convert` and `verify` share: options with values, and `--arch <preset | config.json>`.
import * as fs from 'node:fs';
import { preset, presetInputSize, presetNames, type PresetName } from '../models/presets';
import type { RepMLPNetConfig } from '../models/repmlpnet';
import type { HostTensor } from '../safetensors';
import { RepmlpError } from '../errors';
import { UsageError } from './command';

export interface Options {
  /** `--name value` options, by name without the dashes */
  values: Map<string, string>;
  /** boolean flags seen (`--help` / `-h` as "help") */
  flags: Set<string>;
  positional: string[];
}

/** Splits arguments into options taking a value, boolean flags and positional arguments. */
export function parseOptions(command: string, args: string[], valued: readonly string[], flags: readonly string[], maxPositional: number): Options {
  const out: Options = { values: new Map(), flags: new Set(), positional: [] };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--help' || a === '-h') out.flags.add('help');
    else if (a.startsWith('--') && flags.includes(a.slice(2))) out.flags.add(a.slice(2));
    else if (a.startsWith('--') && valued.includes(a.slice(2))) {
      if (i + 1 >= args.length) throw new UsageError(`${command}: option '${a}' needs a value`);
      out.values.set(a.slice(2), args[++i]);
    } else if (a.startsWith('-') && a !== '-') throw new UsageError(`${command}: unknown option '${a}'`);
    else out.positional.push(a);
  }
  if (!out.flags.has('help') && out.positional.length > maxPositional)
    throw new UsageError(`${command}: unexpected argument '${out.positional[maxPositional]}'`);
  return out;
}

/** A non-negative integer option, or the default. */
export function intOption(command: string, opts: Options, name: string, dflt: number, min = 0): number {
  const v = opts.values.get(name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min)
    throw new UsageError(`${command}: expected an integer >= ${min} for --${name} but received '${v}'`);
  return n;
}

export interface Arch {
  /** the preset name or the config file */
  name: string;
  config: RepMLPNetConfig;
  /** the input height and width the config was designed for (hs[0] * patchSize) */
  inputSize: number;
}

const INT_FIELDS = ['inChannels', 'numClasses', 'patchSize'] as const;
const ARRAY_FIELDS = ['numBlocks', 'channels', 'hs', 'ws', 'sharesetsNums', 'reparamConvK'] as const;
const OPTIONAL_INT = ['globalPerceptronReduce'] as const;
const FIELDS: readonly string[] = [...INT_FIELDS, ...ARRAY_FIELDS, ...OPTIONAL_INT, 'deploy'];

/** Checks a parsed config JSON: the RepMLPNetConfig field names and types, nothing else. */
export function configFromJson(json: unknown, file: string): RepMLPNetConfig {
  const bad = (what: string): never => {
    throw new RepmlpError(`config ${file}: ${what}`);
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) bad(`expected a JSON object but received ${Array.isArray(json) ? 'an array' : String(json)}`);
  const o = json as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !FIELDS.includes(k));
  if (unknown.length) bad(`unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')} (fields: ${FIELDS.join(', ')})`);
  const isPosInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 1;
  for (const k of [...INT_FIELDS, ...ARRAY_FIELDS]) if (!(k in o)) bad(`missing field '${k}'`);
  for (const k of [...INT_FIELDS, ...OPTIONAL_INT])
    if (k in o && !isPosInt(o[k])) bad(`expected a positive integer for '${k}' but received ${JSON.stringify(o[k])}`);
  for (const k of ARRAY_FIELDS) {
    const v = o[k];
    if (!Array.isArray(v) || !v.every(isPosInt)) bad(`expected an array of positive integers for '${k}' but received ${JSON.stringify(v)}`);
  }
  if ('deploy' in o && typeof o.deploy !== 'boolean') bad(`expected a boolean for 'deploy' but received ${JSON.stringify(o.deploy)}`);
  const n = (o.numBlocks as number[]).length;
  if (n === 0) bad("expected at least one stage in 'numBlocks'");
  for (const k of ['channels', 'hs', 'ws', 'sharesetsNums'] as const)
    if ((o[k] as number[]).length !== n) bad(`expected ${n} entries (one per stage, like numBlocks) in '${k}' but received ${(o[k] as number[]).length}`);
  return o as unknown as RepMLPNetConfig;
}

/** `--arch`: a preset name, or a JSON file of config fields. */
export function resolveArch(command: string, value: string | undefined): Arch {
  if (value === undefined) throw new UsageError(`${command}: --arch <preset | config.json> is required`);
  if ((presetNames as string[]).includes(value)) {
    const name = value as PresetName;
    return { name, config: preset(name), inputSize: presetInputSize(name) };
  }
  if (!value.endsWith('.json') && !fs.existsSync(value))
    throw new UsageError(`${command}: --arch '${value}' is neither a preset (${presetNames.join(', ')}) nor a config file`);
  let text: string;
  try {
    text = fs.readFileSync(value, 'utf8');
  } catch (e) {
    throw new RepmlpError(`config ${value}: could not read it: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new RepmlpError(`config ${value}: not valid JSON (${(e as Error).message})`);
  }
  const config = configFromJson(json, value);
  return { name: value, config, inputSize: config.hs[0] * config.patchSize };
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
