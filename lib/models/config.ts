// The one check of a RepMLPNet config, field by field, used by the model's constructor and
// by the command line's `--arch config.json` (which names the file where the model names
// itself). It needs nothing of the model, so the command line loads it without the native
// addon.
import { describe, RepmlpError } from '../errors';
import type { RepMLPNetConfig } from './repmlpnet';

const INT_FIELDS = ['inChannels', 'numClasses', 'patchSize'] as const;
const ARRAY_FIELDS = ['numBlocks', 'channels', 'hs', 'ws', 'sharesetsNums', 'reparamConvK'] as const;
const OPTIONAL_INT = ['globalPerceptronReduce'] as const;
/** Every field of RepMLPNetConfig, in the order the errors list them. */
export const CONFIG_FIELDS: readonly string[] = [...INT_FIELDS, ...ARRAY_FIELDS, ...OPTIONAL_INT, 'deploy'];
/** The per-stage fields, each with one entry per stage like numBlocks. */
const STAGE_FIELDS = ['channels', 'hs', 'ws', 'sharesetsNums'] as const;

const isPosInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 1;
// JSON, as a config file writes the value; String() for what JSON cannot show (undefined, functions).
const shown = (v: unknown) => JSON.stringify(v) ?? String(v);

/**
 * Checks a config: only RepMLPNetConfig's fields (an undefined value counts as absent),
 * every required one, positive integers where the model needs them, one entry per stage in
 * the per-stage arrays. Returns it with the defaults of the optional fields
 * (globalPerceptronReduce 4, deploy false). Errors start with `where` (the model, or the
 * config file the value came from) and name the field.
 */
export function validateConfig(cfg: RepMLPNetConfig, where = 'RepMLPNet'): Required<RepMLPNetConfig> {
  const bad = (what: string): never => {
    throw new RepmlpError(`${where}: ${what}`);
  };
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) bad(`expected an object for config but received ${describe(cfg)}`);
  const o = cfg as unknown as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !CONFIG_FIELDS.includes(k) && o[k] !== undefined);
  if (unknown.length) bad(`unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')} (fields: ${CONFIG_FIELDS.join(', ')})`);
  for (const k of [...INT_FIELDS, ...ARRAY_FIELDS]) if (o[k] === undefined) bad(`missing field '${k}'`);
  for (const k of [...INT_FIELDS, ...OPTIONAL_INT])
    if (o[k] !== undefined && !isPosInt(o[k])) bad(`expected a positive integer for '${k}' but received ${shown(o[k])}`);
  for (const k of ARRAY_FIELDS)
    if (!Array.isArray(o[k]) || !(o[k] as unknown[]).every(isPosInt)) bad(`expected an array of positive integers for '${k}' but received ${shown(o[k])}`);
  if (o.deploy !== undefined && typeof o.deploy !== 'boolean') bad(`expected a boolean for 'deploy' but received ${shown(o.deploy)}`);
  const n = cfg.numBlocks.length;
  if (n === 0) bad("expected at least one stage for 'numBlocks' but received []");
  for (const k of STAGE_FIELDS)
    if (cfg[k].length !== n) bad(`expected ${n} entries (one per stage, like numBlocks) in '${k}' but received ${cfg[k].length}`);
  // The defaults first, so that the keys keep the order a config written out has always had.
  const out = { globalPerceptronReduce: 4, deploy: false, ...cfg };
  out.globalPerceptronReduce ??= 4;
  out.deploy ??= false;
  return out as Required<RepMLPNetConfig>;
}
