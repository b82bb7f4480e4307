// Top-k accuracy from logits on the host: a row counts when its label is among its k
// largest logits, with torch.argmax's order for ties (the lower class first) and NaN (the
// largest), so that k = 1 counts exactly what correctCount counts on the device.
import { describe, fail } from '../errors';

/** True when class j comes before class y in a row: a larger logit, NaN first, ties by index. */
function before(row: Float32Array, j: number, y: number): boolean {
  const a = row[j], b = row[y];
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && (!Number.isNaN(b) || j < y);
  return a > b || (a === b && j < y);
}

/** The label's place (0 = first) among the classes of one row. */
function rankOf(row: Float32Array, y: number): number {
  let rank = 0;
  for (let j = 0; j < row.length; j++) if (j !== y && before(row, j, y)) rank++;
  return rank;
}

/**
 * Rows of `logits` (N, K), row-major, whose label is among their k largest logits; k is
 * capped at K (with fewer classes every row counts).
 */
export function topkCorrect(logits: Float32Array, labels: ArrayLike<bigint | number>, numClasses: number, k: number): number {
  const op = 'topkCorrect';
  const n = labels.length;
  if (!Number.isInteger(numClasses) || numClasses < 1 || logits.length !== n * numClasses)
    fail(op, 'logits', `${n} rows of ${numClasses} classes (${n * numClasses} values)`, `${logits.length} values`);
  if (!Number.isInteger(k) || k < 1) fail(op, 'k', 'a positive integer', describe(k));
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const y = Number(labels[i]);
    if (!Number.isInteger(y) || y < 0 || y >= numClasses) fail(op, `labels[${i}]`, `a class in [0, ${numClasses})`, String(labels[i]));
    const row = logits.subarray(i * numClasses, (i + 1) * numClasses);
    if (rankOf(row, y) < k) correct++;
  }
  return correct;
}

/** The k of a top-5 accuracy over `numClasses` classes: 5, or the classes when fewer. */
export function top5K(numClasses: number): number {
  if (!Number.isInteger(numClasses) || numClasses < 1) fail('top5K', 'numClasses', 'a positive integer', describe(numClasses));
  return Math.min(5, numClasses);
}

/** The k first classes of one row of logits, in the order topkCorrect counts them (larger first, NaN first, ties by index). */
export function rankedClasses(row: Float32Array, k: number): number[] {
  if (!Number.isInteger(k) || k < 1) fail('rankedClasses', 'k', 'a positive integer', describe(k));
  const order = Array.from({ length: row.length }, (_, j) => j);
  order.sort((a, b) => (a === b ? 0 : before(row, a, b) ? -1 : 1));
  return order.slice(0, k);
}
