// The one check of a RepMLPNet config, field by field, used by the model's constructor and
// by the command line's `--arch config.json` (which names the file where the model names
// itself). It needs nothing of the model, so the command line loads it without the native
// addon.
//
// A config may use repmlp's names (camelCase) or the reference code's, as its RepMLPNet
// constructor takes them (in_channels, num_class, patch_size, num_blocks, channels, hs, ws,
// sharesets_nums, reparam_conv_k, globalperceptron_reduce, deploy; reparam_conv_k None for
// no conv branches), mixed field by field; one field given in both spellings is an error
// naming both. The checked config always has repmlp's names.
import { describe, RepmlpError } from '../errors';
import type { PartitionOrder, RepMLPNetConfig } from './repmlpnet';

const INT_FIELDS = ['inChannels', 'numClasses'] as const;
const ARRAY_FIELDS = ['numBlocks', 'channels', 'hs', 'ws', 'sharesetsNums', 'reparamConvK'] as const;
const OPTIONAL_INT = ['globalPerceptronReduce'] as const;
/** Every field of RepMLPNetConfig, in the order the errors list them. */
export const CONFIG_FIELDS: readonly string[] = ['inChannels', 'numClasses', 'patchSize', ...ARRAY_FIELDS, ...OPTIONAL_INT, 'deploy', 'partitionOrder'];
/** The per-stage fields, each with one entry per stage like numBlocks. */
const STAGE_FIELDS = ['channels', 'hs', 'ws', 'sharesetsNums'] as const;
/** The orders of a block's partitions and channel groups (docs/MODELS.md, Partition order). */
export const PARTITION_ORDERS: readonly PartitionOrder[] = ['paper', 'reference'];

/** The reference code's names of the fields whose names differ (channels, hs, ws and deploy are the same in both). */
export const REFERENCE_NAMES: Readonly<Record<string, string>> = {
  in_channels: 'inChannels', num_class: 'numClasses', patch_size: 'patchSize', num_blocks: 'numBlocks',
  sharesets_nums: 'sharesetsNums', reparam_conv_k: 'reparamConvK', globalperceptron_reduce: 'globalPerceptronReduce',
};

/** A config as the reference code's RepMLPNet(...) takes it (tuples as arrays). */
export interface ReferenceRepMLPNetConfig {
  in_channels: number;
  num_class: number;
  patch_size: number | readonly [number, number];
  num_blocks: readonly number[];
  channels: readonly number[];
  hs: readonly number[];
  ws: readonly number[];
  sharesets_nums: readonly number[];
  reparam_conv_k: readonly number[] | null;
  globalperceptron_reduce?: number;
  deploy?: boolean;
}

/** The config as RepMLPNet keeps it: repmlp's names, the optional fields filled in (partitionOrder stays as given). */
export type CheckedConfig = Required<Omit<RepMLPNetConfig, 'partitionOrder'>> & Pick<RepMLPNetConfig, 'partitionOrder'>;

const isPosInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 1;
// JSON, as a config file writes the value; String() for what JSON cannot show (undefined, functions).
const shown = (v: unknown) => JSON.stringify(v) ?? String(v);

/** The fields under repmlp's names (undefined values dropped); both spellings of one field are an error. */
function toRepmlpNames(o: Record<string, unknown>, bad: (what: string) => never): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined) continue;
    const name = REFERENCE_NAMES[k] ?? k;
    if (name !== k && o[name] !== undefined) bad(`'${name}' and '${k}' are one field in two spellings (repmlp's and the reference code's); give one of them`);
    out[name] = k === 'reparam_conv_k' && v === null ? [] : v;
  }
  return out;
}

function checkFields(o: Record<string, unknown>, bad: (what: string) => never): void {
  const unknown = Object.keys(o).filter((k) => !CONFIG_FIELDS.includes(k));
  if (unknown.length)
    bad(`unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')} (fields: ${CONFIG_FIELDS.join(', ')}; or the reference code's ${Object.keys(REFERENCE_NAMES).join(', ')})`);
  for (const k of [...INT_FIELDS, 'patchSize', ...ARRAY_FIELDS]) if (o[k] === undefined) bad(`missing field '${k}'`);
  for (const k of [...INT_FIELDS, ...OPTIONAL_INT])
    if (o[k] !== undefined && !isPosInt(o[k])) bad(`expected a positive integer for '${k}' but received ${shown(o[k])}`);
  const p = o.patchSize;
  if (!isPosInt(p) && !(Array.isArray(p) && p.length === 2 && p.every(isPosInt)))
    bad(`expected a positive integer or [height, width] of positive integers for 'patchSize' but received ${shown(p)}`);
  for (const k of ARRAY_FIELDS)
    if (!Array.isArray(o[k]) || !(o[k] as unknown[]).every(isPosInt)) bad(`expected an array of positive integers for '${k}' but received ${shown(o[k])}`);
  if (o.deploy !== undefined && typeof o.deploy !== 'boolean') bad(`expected a boolean for 'deploy' but received ${shown(o.deploy)}`);
  if (o.partitionOrder !== undefined && !PARTITION_ORDERS.includes(o.partitionOrder as PartitionOrder))
    bad(`expected ${PARTITION_ORDERS.map((v) => `'${v}'`).join(' or ')} for 'partitionOrder' but received ${shown(o.partitionOrder)}`);
}

/**
 * Checks a config: only RepMLPNetConfig's fields, under repmlp's or the reference code's
 * names (an undefined value counts as absent), every required one, positive integers where
 * the model needs them, one entry per stage in the per-stage arrays. Returns it under
 * repmlp's names, as given otherwise (no defaults added). Errors start with `where` (the
 * model, or the config file the value came from) and name the field.
 */
export function checkConfig(cfg: RepMLPNetConfig | ReferenceRepMLPNetConfig, where = 'RepMLPNet'): RepMLPNetConfig {
  const bad = (what: string): never => {
    throw new RepmlpError(`${where}: ${what}`);
  };
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) bad(`expected an object for config but received ${describe(cfg)}`);
  const o = toRepmlpNames(cfg as unknown as Record<string, unknown>, bad);
  checkFields(o, bad);
  const c = o as unknown as RepMLPNetConfig;
  const n = c.numBlocks.length;
  if (n === 0) bad("expected at least one stage for 'numBlocks' but received []");
  for (const k of STAGE_FIELDS)
    if (c[k].length !== n) bad(`expected ${n} entries (one per stage, like numBlocks) in '${k}' but received ${c[k].length}`);
  return c;
}

/** checkConfig, with the defaults of the optional fields (globalPerceptronReduce 4, deploy false): the config as RepMLPNet keeps it. */
export function validateConfig(cfg: RepMLPNetConfig | ReferenceRepMLPNetConfig, where = 'RepMLPNet'): CheckedConfig {
  // The defaults first, so that the keys keep the order a config written out has always had.
  return { globalPerceptronReduce: 4, deploy: false, ...checkConfig(cfg, where) } as CheckedConfig;
}
