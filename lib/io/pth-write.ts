// State dicts as PyTorch checkpoints: the zip layout of torch.save since PyTorch 1.6, which
// `torch.load(path, weights_only=True)` reads: `archive/data.pkl`, a protocol-2 pickle of an
// OrderedDict whose values are torch._utils._rebuild_tensor_v2 calls on persistent ids
// ('storage', torch.FloatStorage | torch.LongStorage, key, 'cpu', numel); one storage per
// tensor, raw little-endian, at `archive/data/<key>`; `archive/version` holding "3". Entries
// are stored, 64-byte aligned (zip-write.ts), and the file is written atomically (atomic.ts).
import { describe, fail } from '../errors';
import { writeFileAtomic } from './atomic';
import { PickleWriter } from './pickle-write';
import type { HostTensor } from './safetensors';
import { storedZip, type ZipInput } from './zip-write';

/** The archive's folder inside the zip (torch.save names it after the file; torch.load accepts any). */
const ARCHIVE = 'archive';

/** Row-major strides of a shape. */
function contiguousStrides(shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  for (let d = shape.length - 1, s = 1; d >= 0; s *= shape[d], d--) out[d] = s;
  return out;
}

function checkTensor(name: string, t: HostTensor): void {
  const what = `tensor '${name}'`;
  if (t.dtype !== 'float32' && t.dtype !== 'int64') fail('writePth', what, "dtype 'float32' or 'int64'", describe(t.dtype));
  if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail('writePth', what, 'a shape of non-negative integers', describe(t.shape));
  const numel = t.shape.reduce((a, d) => a * d, 1);
  const typed = t.dtype === 'float32' ? t.data instanceof Float32Array : t.data instanceof BigInt64Array;
  if (!typed || t.data.length !== numel)
    fail('writePth', what, `${numel} ${t.dtype} elements (shape [${t.shape}])`, `${t.data.length} in a ${describe(t.data)}`);
}

/** _rebuild_tensor_v2(storage, 0, shape, stride, False, OrderedDict()) for tensor `key`. */
function tensorCall(p: PickleWriter, key: string, t: HostTensor): void {
  p.global('torch._utils', '_rebuild_tensor_v2').mark();
  p.mark().str('storage').global('torch', t.dtype === 'int64' ? 'LongStorage' : 'FloatStorage').str(key).str('cpu').int(t.data.length).tuple().persistentId();
  p.int(0).intTuple(t.shape).intTuple(contiguousStrides(t.shape)).newFalse();
  p.global('collections', 'OrderedDict').emptyTuple().reduce();
  p.tuple().reduce();
}

/** data.pkl: an OrderedDict of the tensors in the state dict's order, storage keys '0', '1', ... */
export function statePickle(stateDict: Map<string, HostTensor>): Buffer {
  const p = new PickleWriter().proto(2).global('collections', 'OrderedDict').emptyTuple().reduce().mark();
  [...stateDict].forEach(([name, t], i) => {
    p.str(name);
    tensorCall(p, String(i), t);
  });
  return p.setItems().stop().bytes();
}

/** The archive's pieces (see the top of this file), to write one after the other. */
export function serializePth(stateDict: Map<string, HostTensor>): Uint8Array[] {
  if (!(stateDict instanceof Map)) fail('writePth', 'stateDict', 'a Map of tensors', describe(stateDict));
  for (const [name, t] of stateDict) checkTensor(name, t);
  const entries: ZipInput[] = [{ name: `${ARCHIVE}/data.pkl`, data: statePickle(stateDict) }];
  [...stateDict.values()].forEach((t, i) =>
    entries.push({ name: `${ARCHIVE}/data/${i}`, data: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) }));
  entries.push({ name: `${ARCHIVE}/version`, data: Buffer.from('3\n') });
  return storedZip(entries);
}

/** Writes a state dict as a torch.save zip file, atomically: the file holds its previous content or all of the new one. */
export function writePth(file: string, stateDict: Map<string, HostTensor>): void {
  writeFileAtomic(file, serializePth(stateDict), 'writePth');
}
