// Command-line options shared by the benchmarks, parsed with node:util's parseArgs and
// checked with the project's error style: `<command>: expected X for --opt but received Z`.
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Options every benchmark takes. */
export const COMMON_OPTIONS = {
  device: { type: 'string' },
  threads: { type: 'string' },
  batch: { type: 'string' },
  warmup: { type: 'string' },
  repeats: { type: 'string' },
  quick: { type: 'boolean' },
  json: { type: 'boolean' },
  charts: { type: 'boolean' },
  'no-charts': { type: 'boolean' },
  'no-peer': { type: 'boolean' },
  python: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

export type Values = Record<string, string | boolean | undefined>;

/** Parses argv against the common options plus `extra`; unknown options and positionals are errors. */
export function parseOptions(command: string, argv: readonly string[], extra: Options): Values {
  try {
    const { values } = parseArgs({ args: [...argv], options: { ...COMMON_OPTIONS, ...extra }, strict: true, allowPositionals: false });
    return values as Values;
  } catch (e) {
    throw new Error(`${command}: ${(e as Error).message}`);
  }
}

/** An integer option in [min, max], or `fallback` when absent. */
export function intOption(command: string, v: Values, name: string, fallback: number, min = 1, max = 1 << 30): number {
  const raw = v[name];
  if (raw === undefined) return fallback;
  const n = typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < min || n > max)
    throw new Error(`${command}: expected an integer in ${min}..${max} for --${name} but received ${JSON.stringify(raw)}`);
  return n;
}

/** A comma-separated list option, each item checked by `parse` (which returns null for a bad item). */
export function listOption<T>(command: string, v: Values, name: string, what: string, parse: (s: string) => T | null): T[] | null {
  const raw = v[name];
  if (raw === undefined) return null;
  const items = String(raw).split(',').map((s) => s.trim()).filter(Boolean);
  const parsed = items.map(parse);
  const bad = items.filter((_, i) => parsed[i] === null);
  if (items.length === 0 || bad.length)
    throw new Error(`${command}: expected a comma-separated list of ${what} for --${name} but received ${JSON.stringify(raw)}`);
  return parsed as T[];
}

/** Should charts be written: --charts always, --no-charts never, else on full (not --quick) runs. */
export function chartsWanted(v: Values): boolean {
  if (v.charts && v['no-charts']) throw new Error('bench: expected at most one of --charts and --no-charts but received both');
  if (v.charts) return true;
  if (v['no-charts']) return false;
  return !v.quick;
}
