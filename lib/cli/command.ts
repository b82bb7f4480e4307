// What every subcommand of the `repmlp` command provides, and the small helpers they share.
// A subcommand lives in lib/cli/<name>.ts and exports `command`; lib/cli.ts lists them
// (with a one-line summary, so that the list needs no command loaded), parses the command
// line against the command's options (lib/cli/args.ts) and answers --help itself.
import * as path from 'node:path';
import { RepmlpError } from '../errors';
import { removeStaleTemps } from '../io/atomic';
import type { CommandLine, OptionSpecs } from './args';

/** Where a command writes (process.stdout/stderr in the CLI, buffers in tests). */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** true when `out` is a terminal (progress bars redraw one line) */
  isTty?: boolean;
  /** true when `err` is a terminal (predict's progress redraws one line there) */
  errIsTty?: boolean;
}

export interface Command {
  name: string;
  /** the full usage text of the command */
  usage: string;
  /** the options it takes (besides --help), and how many positional arguments at most */
  options: OptionSpecs;
  maxPositional?: number;
  /** runs with the parsed command line (never --help); returns the exit code */
  run(cl: CommandLine, io: Io): number | Promise<number>;
}

/** A bad command line: the CLI prints the message and the usage, and exits with code 2. */
export class UsageError extends RepmlpError {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * A usage text's entry for an option: `  <flag>  <first line>` and the other lines under the
 * first, the text starting at `column` (a flag too long for that column gets a line of its own).
 */
export function helpEntry(flag: string, lines: readonly string[], column: number): string {
  const head = `  ${flag}`;
  const text = lines.map((l, i) => (i === 0 && head.length + 2 <= column ? head.padEnd(column) : ' '.repeat(column)) + l);
  return (head.length + 2 <= column ? text : [head, ...text]).join('\n');
}

/** Left-aligned columns separated by two spaces. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n');
}

/**
 * Removes what earlier runs killed while writing `output` left beside it (its temporary
 * files), reporting each on the command's stderr, before the command writes it again.
 */
export function clearStaleTemps(output: string, io: Io): void {
  removeStaleTemps(path.dirname(path.resolve(output)), { base: path.basename(output), report: (t) => io.err(t) });
}
