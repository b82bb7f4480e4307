// The value checks of the trainer's options, each naming the option, what it expects and
// what came (`train: expected a positive integer for epochs but received 0`); an absent
// option takes its default.
import { describe, fail } from '../errors';

export const OP = 'train';

/** An integer >= min (default 1), or `dflt` when absent. */
export function posInt(name: string, v: unknown, dflt: number, min = 1): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) fail(OP, name, min === 1 ? 'a positive integer' : `an integer >= ${min}`, describe(v));
  return v as number;
}

/** A finite number in [0, max], or `dflt` when absent. */
export function nonNeg(name: string, v: unknown, dflt: number, max = Infinity): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > max) fail(OP, name, max === Infinity ? 'a finite number >= 0' : `a number in [0, ${max}]`, describe(v));
  return v as number;
}

/** A positive integer, or undefined when absent. */
export const optionalPosInt = (name: string, v: unknown): number | undefined => (v === undefined ? undefined : posInt(name, v, 1));

/** A boolean, or `dflt` when absent. */
export function bool(name: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') fail(OP, name, 'true or false', describe(v));
  return v;
}

/** Refuses an option that only means something when `when` holds (`needs` says what that is). */
export function onlyWith(name: string, v: unknown, when: boolean, needs: string): void {
  if (v !== undefined && !when) fail(OP, name, `no value (it applies only when ${needs})`, describe(v));
}
