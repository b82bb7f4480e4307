// The one command-line parser of the `repmlp` commands and the benchmarks: node:util's
// parseArgs in strict mode, with the project's messages (`<command>: unknown option '--x'`,
// `option '--x' needs a value`, `unexpected argument 'y'`) thrown as UsageErrors.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './command';

/** The options a command takes, in parseArgs's form: `{ name: { type: 'string' | 'boolean' } }`. */
export type OptionSpecs = NonNullable<ParseArgsConfig['options']>;

/** Parsed option values by name without the dashes: strings for valued options, true for flags. */
export type Values = Readonly<Record<string, string | boolean | undefined>>;

export interface CommandLine {
  values: Values;
  positional: string[];
  /** `--help` or `-h` was given (then the positional count is not checked) */
  help: boolean;
}

/** Specs for options that take a value, one per name. */
export function valued(...names: string[]): OptionSpecs {
  return Object.fromEntries(names.map((n) => [n, { type: 'string' as const }]));
}

/** Specs for boolean flags, one per name. */
export function flags(...names: string[]): OptionSpecs {
  return Object.fromEntries(names.map((n) => [n, { type: 'boolean' as const }]));
}

const HELP: OptionSpecs = { help: { type: 'boolean', short: 'h' } };

/**
 * Parses `args` against `options` (`--help` / `-h` always allowed) and at most
 * `maxPositional` positional arguments.
 */
export function parseCommandLine(command: string, args: readonly string[], options: OptionSpecs, maxPositional = 0): CommandLine {
  const all = { ...options, ...HELP };
  const joined = joinValues(command, args, all);
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: joined, options: all, strict: true, allowPositionals: true });
  } catch (e) {
    throw new UsageError(`${command}: ${parseProblem(joined, all) ?? (e as Error).message}`);
  }
  const help = parsed.values.help === true;
  if (!help && parsed.positionals.length > maxPositional)
    throw new UsageError(`${command}: unexpected argument '${parsed.positionals[maxPositional]}'`);
  return { values: parsed.values as Values, positional: parsed.positionals, help };
}

/**
 * `--name value` as `--name=value` for every option taking a value, so that a value that
 * starts with a dash (`--seed -1`) reaches the option's own check, which names the option
 * and the value, instead of parseArgs's "ambiguous" error.
 */
function joinValues(command: string, args: readonly string[], options: OptionSpecs): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') return [...out, ...args.slice(i)];
    const takesValue = a.startsWith('--') && options[a.slice(2)]?.type === 'string';
    if (!takesValue) out.push(a);
    else if (i + 1 < args.length) out.push(`${a}=${args[++i]}`);
    else throw new UsageError(`${command}: option '${a}' needs a value`);
  }
  return out;
}

/** What strict parsing refused, found again from the non-strict tokens (null when not found). */
function parseProblem(args: string[], options: OptionSpecs): string | null {
  const { tokens } = parseArgs({ args, options, strict: false, allowPositionals: true, tokens: true });
  for (const t of tokens) {
    if (t.kind !== 'option') continue;
    const spec = options[t.name];
    if (spec === undefined || (!t.rawName.startsWith('--') && spec.short === undefined)) return `unknown option '${t.rawName}'`;
    if (spec.type === 'boolean' && t.value !== undefined) return `option '${t.rawName}' takes no value`;
    if (spec.type === 'string' && t.value === undefined) return `option '${t.rawName}' needs a value`;
  }
  return null;
}
