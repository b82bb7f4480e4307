// The option checks every command and benchmark shares, on the values parseCommandLine
// returns: a string, an integer with bounds, a number with bounds, one of a few choices, a
// path, a comma-separated list. Each returns undefined for an absent option (the caller
// supplies the default with `??`) and throws a UsageError
// `<command>: expected X for --name but received 'value'` for a bad one.
import * as fs from 'node:fs';
import { RepmlpError } from '../errors';
import type { Values } from './args';
import { UsageError } from './command';

/** The option's text, or undefined when it was not given. */
export function stringOption(values: Values, name: string): string | undefined {
  const v = values[name];
  return v === undefined ? undefined : String(v);
}

function bad(command: string, name: string, expected: string, received: string): never {
  throw new UsageError(`${command}: expected ${expected} for --${name} but received '${received}'`);
}

export interface IntSpec {
  /** the smallest value accepted (default 0) */
  min?: number;
  /** the largest value accepted (default: no limit) */
  max?: number;
  /** what the error says is expected (default `an integer >= min` or `an integer in [min, max]`) */
  what?: string;
}

/** Counts (epochs, images, steps), in the words the trainer's own checks use. */
export const COUNT: IntSpec = { min: 1, what: 'a positive integer' };

/** --device's choices: auto (the backend chosen at first use, see lib/backend.ts), cpu or cuda. */
export const DEVICE_CHOICES = ['auto', 'cpu', 'cuda'] as const;

/** A whole number written in digits, within [min, max]. */
export function intOption(command: string, values: Values, name: string, spec: IntSpec = {}): number | undefined {
  const v = stringOption(values, name);
  if (v === undefined) return undefined;
  const { min = 0, max = Infinity } = spec;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max)
    bad(command, name, spec.what ?? (max === Infinity ? `an integer >= ${min}` : `an integer in [${min}, ${max}]`), v);
  return n;
}

/** A finite number within [min, max] (default [0, no limit]). */
export function numberOption(command: string, values: Values, name: string, { min = 0, max = Infinity } = {}): number | undefined {
  const v = stringOption(values, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max)
    bad(command, name, max === Infinity ? `a number >= ${min}` : `a number in [${min}, ${max}]`, v);
  return n;
}

/** `a`, `a or b`, `a, b or c`. */
export function alternatives(words: readonly string[]): string {
  return words.length < 2 ? words.join('') : `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`;
}

/** One of `choices`. */
export function choiceOption<T extends string>(command: string, values: Values, name: string, choices: readonly T[]): T | undefined {
  const v = stringOption(values, name);
  if (v === undefined) return undefined;
  if (!(choices as readonly string[]).includes(v)) bad(command, name, alternatives(choices), v);
  return v as T;
}

export interface PathSpec {
  /** the placeholder of a required option's usage (`--weights <file> is required`); absent: optional */
  required?: string;
}

/** A file or directory name. */
export function pathOption(command: string, values: Values, name: string, spec: PathSpec & { required: string }): string;
export function pathOption(command: string, values: Values, name: string, spec?: PathSpec): string | undefined;
export function pathOption(command: string, values: Values, name: string, spec: PathSpec = {}): string | undefined {
  const v = stringOption(values, name);
  if (v === undefined) {
    if (spec.required !== undefined) throw new UsageError(`${command}: --${name} <${spec.required}> is required`);
    return undefined;
  }
  return v;
}

/**
 * Checks that a named file exists. Called once the command line is checked, so that its
 * mistakes (exit code 2) are reported first; a missing file is a failure (exit code 1).
 */
export function checkExists(command: string, file: string): void {
  if (!fs.existsSync(file)) throw new RepmlpError(`${command}: ${file} does not exist`);
}

/** A comma-separated list, each item checked by `parse` (which returns null for a bad item). */
export function listOption<T>(command: string, values: Values, name: string, what: string, parse: (s: string) => T | null): T[] | undefined {
  const v = stringOption(values, name);
  if (v === undefined) return undefined;
  const items = v.split(',').map((s) => s.trim()).filter(Boolean);
  const parsed = items.map(parse);
  if (items.length === 0 || parsed.some((p) => p === null)) bad(command, name, `a comma-separated list of ${what}`, v);
  return parsed as T[];
}

/** `N` or `HxW` (an input size) as [H, W]. */
export function inputSizeOption(command: string, values: Values, name = 'input-size'): [number, number] | undefined {
  const v = stringOption(values, name);
  if (v === undefined) return undefined;
  const m = /^(\d+)(?:x(\d+))?$/.exec(v);
  if (!m) throw new UsageError(`${command}: expected N or HxW (e.g. 224 or 64x96) for --${name} but received '${v}'`);
  return [Number(m[1]), Number(m[2] ?? m[1])];
}
