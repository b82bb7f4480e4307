// The torchvision / PIL goldens of test/fixtures/gen_transforms.py: transforms.json lists the
// cases, transforms.bin holds their arrays.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Image8 } from '../../../lib/data/images/image';

export interface GoldenCase {
  key: string;
  op: string;
  input: string;
  dtype: 'u8' | 'f32';
  shape: number[];
  offset: number;
  params: Record<string, unknown>;
}

export interface Goldens {
  cases: GoldenCase[];
  fallback: { width: number; height: number; ratio: [number, number]; crop: [number, number, number, number] }[];
  centre: { width: number; height: number; size: number; resized: [number, number]; offsets: [number, number] }[];
  /** a case's array: uint8 (h, w[, c]) images, or float32 */
  array(c: GoldenCase): Uint8Array | Float32Array;
  /** a uint8 case as an image */
  image(c: GoldenCase): Image8;
  /** the input image of that name */
  input(name: string): Image8;
}

const dir = path.join(__dirname, '..', '..', 'fixtures');

export function loadGoldens(): Goldens {
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'transforms.json'), 'utf8'));
  const bin = fs.readFileSync(path.join(dir, 'transforms.bin'));
  const array = (c: GoldenCase) => {
    const n = c.shape.reduce((a, b) => a * b, 1);
    return c.dtype === 'u8' ? new Uint8Array(bin.buffer, bin.byteOffset + c.offset, n) : new Float32Array(bin.buffer.slice(bin.byteOffset + c.offset, bin.byteOffset + c.offset + 4 * n));
  };
  const image = (c: GoldenCase): Image8 => ({ data: array(c) as Uint8Array, height: c.shape[0], width: c.shape[1], channels: c.shape[2] ?? 1 });
  const cases = meta.cases as GoldenCase[];
  const input = (name: string) => image(cases.find((c) => c.key === `input/${name}`)!);
  return { cases, fallback: meta.fallback, centre: meta.centre, array, image, input };
}

/** Max and mean absolute difference of two equally long arrays. */
export function absDiff(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; mean: number } {
  if (a.length !== b.length) throw new Error(`absDiff: expected arrays of the same length but received ${a.length} and ${b.length}`);
  let max = 0, sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= max)) max = Number.isNaN(d) ? Infinity : d;
    sum += d;
  }
  return { max, mean: sum / Math.max(a.length, 1) };
}
