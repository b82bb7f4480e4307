// One error style for the whole package (as sharp does): "<op>: expected X for Y but received Z".

export class RepmlpError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RepmlpError';
  }
}

/** Throws `<op>: expected <expected> for <arg> but received <received>`. */
export function fail(op: string, arg: string, expected: string, received: string): never {
  throw new RepmlpError(`${op}: expected ${expected} for ${arg} but received ${received}`);
}

/** Describes any value for an error message. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `[${v.map(describe).join(', ')}]`;
  if (typeof v === 'string') return `'${v}'`;
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'an object';
  return String(v);
}

/** Formats a shape as (2, 3, 4). */
export function shapeStr(shape: readonly number[]): string {
  return `(${shape.join(', ')})`;
}

/** A warning as one line: `repmlp: warning: <message>`. */
export function warningLine(message: string): string {
  return `repmlp: warning: ${message}\n`;
}

/** The default of every `onWarning` option: the warning line on stderr. */
export function warnOnStderr(message: string): void {
  process.stderr.write(warningLine(message));
}
