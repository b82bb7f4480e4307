// The public ONNX export: bytes in memory or an atomically written file with a summary of the
// graph. onnx-proto (and protobufjs) load on the first export, not with the package.
import { describe, fail } from '../errors';
import type { FamilyModel } from '../models/families';
import { writeFileAtomic } from '../io/atomic';
import type { OnnxExportOptions } from './options';

/** What an exported model holds. */
export interface OnnxSummary {
  /** the file's size in bytes */
  bytes: number;
  opset: number;
  irVersion: number;
  /** graph input and output with their dimensions ('batch' is symbolic) */
  input: { name: string; dims: (number | string)[] };
  output: { name: string; dims: (number | string)[] };
  nodes: number;
  /** node count per op type, most frequent first */
  ops: [string, number][];
  /** initializers (weights and shape constants) and their float32 values */
  initializers: number;
  parameters: number;
}

function load(): typeof import('./model') & { proto: typeof import('onnx-proto') } {
  return { ...(require('./model') as typeof import('./model')), proto: require('onnx-proto') as typeof import('onnx-proto') };
}

function encode(model: FamilyModel, opts: OnnxExportOptions): { bytes: Uint8Array; summary: OnnxSummary } {
  const { onnxModel, proto } = load();
  const m = onnxModel(model, opts);
  const bytes = proto.onnx.ModelProto.encode(m).finish();
  const g = m.graph!;
  const counts = new Map<string, number>();
  for (const n of g.node!) counts.set(n.opType!, (counts.get(n.opType!) ?? 0) + 1);
  const io = (v: NonNullable<typeof g.input>[number]) => ({
    name: v.name!,
    dims: v.type!.tensorType!.shape!.dim!.map((d) => d.dimParam ?? Number(d.dimValue)),
  });
  let parameters = 0;
  for (const t of g.initializer!) if (t.dataType === proto.onnx.TensorProto.DataType.FLOAT) parameters += t.rawData!.byteLength / 4;
  const summary: OnnxSummary = {
    bytes: bytes.byteLength,
    opset: Number(m.opsetImport![0].version),
    irVersion: Number(m.irVersion),
    input: io(g.input![0]),
    output: io(g.output![0]),
    nodes: g.node!.length,
    ops: [...counts].sort((a, b) => b[1] - a[1]),
    initializers: g.initializer!.length,
    parameters,
  };
  return { bytes, summary };
}

/**
 * The ONNX model (a serialized ModelProto, opset 17) of a model's deploy form (RepMLPNet,
 * RepMLPResNet or RepMLPCifarNet) in eval
 * mode. A training-form model is converted by Locality Injection on a copy (the model is
 * left as it is). Input 'input' [batch, C, H, W], output 'logits' [batch, numClasses].
 */
export function exportOnnx(model: FamilyModel, opts: OnnxExportOptions = {}): Uint8Array {
  return encode(model, opts).bytes;
}

/** Exports to `file` atomically (lib/io/atomic.ts: temporary file, fsync, rename); returns what it holds. */
export function writeOnnx(file: string, model: FamilyModel, opts: OnnxExportOptions = {}): OnnxSummary {
  if (typeof file !== 'string' || file === '') fail('writeOnnx', 'file', 'a file path', describe(file));
  const { bytes, summary } = encode(model, opts);
  writeFileAtomic(file, bytes, 'writeOnnx');
  return summary;
}
