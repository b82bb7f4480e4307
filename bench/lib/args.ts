// Command-line options shared by the benchmarks: parsed by the command line's own parser
// (lib/cli/args.ts) and checked with its option helpers (lib/cli/options.ts), so that a
// benchmark's errors read as the CLI's: `<command>: expected X for --opt but received 'Z'`.
import { flags, parseCommandLine, valued, type OptionSpecs, type Values } from '../../lib/cli/args';
import { UsageError } from '../../lib/cli/command';

export { choiceOption, intOption, listOption } from '../../lib/cli/options';
export type { Values } from '../../lib/cli/args';

/** Options every benchmark takes. */
export const COMMON_OPTIONS: OptionSpecs = {
  ...valued('device', 'threads', 'batch', 'warmup', 'repeats', 'python'),
  ...flags('quick', 'json', 'charts', 'no-charts', 'no-peer'),
};

/** Parses argv against the common options plus `extra` (`help` set by --help / -h); unknown options and positionals are errors. */
export function parseOptions(command: string, argv: readonly string[], extra: OptionSpecs): Values {
  return parseCommandLine(command, argv, { ...COMMON_OPTIONS, ...extra }).values;
}

/** Should charts be written: --charts always, --no-charts never, else on full (not --quick) runs. */
export function chartsWanted(v: Values): boolean {
  if (v.charts && v['no-charts']) throw new UsageError('bench: expected at most one of --charts and --no-charts but received both');
  if (v.charts) return true;
  if (v['no-charts']) return false;
  return !v.quick;
}
