// What the ONNX tests share: random BN statistics (so that folding and BatchNormalization
// nodes matter), onnxruntime-node (CPU) as the third-party runtime, and the comparison with
// repmlp's own eval-mode forward.
import { onnx } from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { randn, scope, type FamilyModel, type Rng } from '../../lib/index';
import { diff } from '../helpers';

/** Ops of the default ONNX domain the exporter may use. */
export const STANDARD_OPS = new Set([
  'Conv', 'BatchNormalization', 'Relu', 'Sigmoid', 'Erf', 'Div', 'Add', 'Mul', 'Reshape', 'Transpose',
  'MatMul', 'Gemm', 'GlobalAveragePool', 'Flatten', 'MaxPool', 'AveragePool',
]);

export interface DecodedNode { name: string; opType: string; domain: string; input: string[]; output: string[] }
export interface DecodedTensor { name: string; dims: number[]; dataType: number; rawData: Uint8Array }
export interface DecodedValue { name: string; dims: (number | string)[] }
/** The parts of a ModelProto the tests look at, every optional field filled in. */
export interface DecodedModel {
  irVersion: number;
  opsets: [string, number][];
  producerName: string;
  producerVersion: string;
  nodes: DecodedNode[];
  initializers: DecodedTensor[];
  inputs: DecodedValue[];
  outputs: DecodedValue[];
}

export const FLOAT = onnx.TensorProto.DataType.FLOAT;
export const INT64 = onnx.TensorProto.DataType.INT64;

/** Exported bytes decoded by onnx-proto (independently of the exporter's own objects). */
export function decodeOnnx(bytes: Uint8Array): DecodedModel {
  const m = onnx.ModelProto.decode(bytes);
  const g = m.graph ?? {};
  const value = (v: onnx.IValueInfoProto): DecodedValue => ({
    name: v.name ?? '',
    dims: (v.type?.tensorType?.shape?.dim ?? []).map((d) => d.dimParam || Number(d.dimValue)),
  });
  return {
    irVersion: Number(m.irVersion),
    opsets: m.opsetImport.map((o) => [o.domain ?? '', Number(o.version)]),
    producerName: m.producerName,
    producerVersion: m.producerVersion,
    nodes: (g.node ?? []).map((n) => ({
      name: n.name ?? '', opType: n.opType ?? '', domain: n.domain ?? '', input: n.input ?? [], output: n.output ?? [],
    })),
    initializers: (g.initializer ?? []).map((t) => ({
      name: t.name ?? '', dims: (t.dims ?? []).map(Number), dataType: t.dataType ?? 0, rawData: t.rawData ?? new Uint8Array(0),
    })),
    inputs: (g.input ?? []).map(value),
    outputs: (g.output ?? []).map(value),
  };
}

/** The logits onnxruntime gives for x (N, C, H, W) in row-major order. */
export async function ortLogits(session: ort.InferenceSession, x: Float32Array, dims: number[]): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const out = await session.run({ input: new ort.Tensor('float32', x, dims) });
  return { data: out.logits.data as Float32Array, dims: out.logits.dims };
}

export function openSession(model: Uint8Array | string): Promise<ort.InferenceSession> {
  return typeof model === 'string' ? ort.InferenceSession.create(model) : ort.InferenceSession.create(model);
}

/**
 * The worst relative difference (max |ort - repmlp| / max |repmlp|) over random batches of
 * each size, run through one session (the batch dimension is symbolic).
 */
export async function compareWithOrt(
  session: ort.InferenceSession, model: FamilyModel, input: [number, number, number], batches: number[], rng: Rng,
): Promise<number> {
  let worst = 0;
  for (const N of batches) {
    const dims = [N, ...input];
    const x = randn(dims, rng, { device: model.parameters()[0].device });
    const host = x.toFloat32Array();
    const expected = scope(() => model.forward(x).toFloat32Array());
    x.dispose();
    const got = await ortLogits(session, host, dims);
    if (got.dims.join() !== [N, model.config.numClasses].join()) throw new Error(`onnxruntime gave logits of dims [${got.dims}] for batch ${N}`);
    worst = Math.max(worst, diff(got.data, expected).rel);
  }
  return worst;
}
