// What every subcommand of the `repmlp` command provides, and the small helpers they share.
// A subcommand lives in lib/cli/<name>.ts and exports `command`; lib/cli.ts lists them
// (with a one-line summary, so that the list needs no command loaded).

/** Where a command writes (process.stdout/stderr in the CLI, buffers in tests). */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** true when `out` is a terminal (progress bars redraw one line) */
  isTty?: boolean;
}

export interface Command {
  name: string;
  /** the full usage text of the command */
  usage: string;
  /** runs with the arguments after the command name; returns the exit code */
  run(args: string[], io: Io): number | Promise<number>;
}

/** A bad command line: the CLI prints the message and the usage, and exits with code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface ParsedArgs {
  /** flags seen, by name without the dashes (boolean flags only) */
  flags: Set<string>;
  positional: string[];
}

/**
 * Splits arguments into the allowed boolean flags and positional arguments. `--help` and
 * `-h` are always allowed (as "help"); anything else starting with "-" is a UsageError.
 */
export function parseArgs(command: string, args: string[], allowed: readonly string[], maxPositional = 0): ParsedArgs {
  const flags = new Set<string>();
  const positional: string[] = [];
  for (const a of args) {
    if (a === '--help' || a === '-h') flags.add('help');
    else if (a.startsWith('--') && allowed.includes(a.slice(2))) flags.add(a.slice(2));
    else if (a.startsWith('-') && a !== '-') throw new UsageError(`${command}: unknown option '${a}'`);
    else positional.push(a);
  }
  if (!flags.has('help') && positional.length > maxPositional)
    throw new UsageError(`${command}: unexpected argument '${positional[maxPositional]}'`);
  return { flags, positional };
}

/** Left-aligned columns separated by two spaces. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n');
}
