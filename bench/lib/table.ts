// Aligned text tables for the terminal: a header, a rule, and one line per row. Text
// columns are left-aligned, numeric ones right-aligned; missing values print as '-'.

export interface Column<R> {
  header: string;
  /** the cell's text; null or undefined prints '-' */
  cell: (row: R) => string | null | undefined;
  align?: 'left' | 'right';
}

export function formatTable<R>(columns: readonly Column<R>[], rows: readonly R[]): string {
  const cells = rows.map((r) => columns.map((c) => c.cell(r) ?? '-'));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i].length)));
  const line = (vals: string[]) =>
    vals.map((v, i) => ((columns[i].align ?? 'right') === 'left' ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ').trimEnd();
  return [line(columns.map((c) => c.header)), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

/** A number with `digits` decimals, or null (printed '-') when it is null or not finite. */
export function fixed(x: number | null | undefined, digits: number): string | null {
  return x === null || x === undefined || !Number.isFinite(x) ? null : x.toFixed(digits);
}

/** A number with about three significant digits (1234, 123, 12.3, 1.23, 0.123). */
export function sig3(x: number | null | undefined): string | null {
  if (x === null || x === undefined || !Number.isFinite(x)) return null;
  const a = Math.abs(x);
  return x.toFixed(a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3);
}

/** A speed ratio as '1.23x'. */
export function times(x: number | null | undefined): string | null {
  const s = fixed(x, 2);
  return s === null ? null : `${s}x`;
}
