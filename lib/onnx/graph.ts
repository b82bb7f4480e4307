// A small builder of ONNX graphs over the message types of onnx-proto (generated from the
// official onnx.proto): nodes of the default domain, float32 and int64 initializers stored
// as little-endian raw_data, and value infos with symbolic dimensions. The exporter in
// export.ts describes RepMLPNet with it; protobufjs does the encoding.
import * as os from 'node:os';
import { onnx } from 'onnx-proto';
import { fail } from '../errors';

/** An attribute value: an int, a float or a list of ints. */
export type AttrValue = { int: number } | { float: number } | { ints: readonly number[] };

/** A dimension of a value info: a fixed size or a symbolic name (e.g. 'batch'). */
export type Dim = number | string;

// Typed arrays as the little-endian bytes of raw_data (a view on little-endian hosts).
function rawBytes(data: Float32Array | BigInt64Array): Uint8Array {
  if (os.endianness() === 'LE') return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.byteLength);
  const view = new DataView(out.buffer);
  if (data instanceof Float32Array) data.forEach((v, i) => view.setFloat32(4 * i, v, true));
  else data.forEach((v, i) => view.setBigInt64(8 * i, v, true));
  return out;
}

function attribute(name: string, v: AttrValue): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if ('int' in v) return { name, type: T.INT, i: v.int };
  if ('float' in v) return { name, type: T.FLOAT, f: v.float };
  return { name, type: T.INTS, ints: [...v.ints] };
}

function valueInfo(name: string, dims: readonly Dim[]): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

export class GraphBuilder {
  readonly nodes: onnx.INodeProto[] = [];
  readonly initializers: onnx.ITensorProto[] = [];
  private readonly names = new Set<string>();
  // int64 shape constants and float scalars, shared by every node that uses the same value
  private readonly constants = new Map<string, string>();

  /** A name not used yet: `base`, else `base_1`, `base_2`, ... */
  private fresh(base: string): string {
    let name = base;
    for (let i = 1; this.names.has(name); i++) name = `${base}_${i}`;
    this.names.add(name);
    return name;
  }

  /** A float32 initializer; returns its name. `data` is referenced, not copied, until encoding. */
  float(name: string, dims: readonly number[], data: Float32Array): string {
    const count = dims.reduce((a, d) => a * d, 1);
    if (count !== data.length) fail('onnx graph', `initializer '${name}'`, `${count} values for dims [${dims.join(', ')}]`, `${data.length}`);
    const n = this.fresh(name);
    this.initializers.push({ name: n, dims: [...dims], dataType: onnx.TensorProto.DataType.FLOAT, rawData: rawBytes(data) });
    return n;
  }

  /** A float32 scalar constant (one initializer per value). */
  scalar(value: number): string {
    const key = `f:${value}`;
    let n = this.constants.get(key);
    if (n === undefined) {
      n = this.float(`const_${value}`, [], Float32Array.of(value));
      this.constants.set(key, n);
    }
    return n;
  }

  /** An int64 1-d constant (the shape input of Reshape); one initializer per value. */
  shape(values: readonly number[]): string {
    const key = `i:${values.join(',')}`;
    let n = this.constants.get(key);
    if (n === undefined) {
      n = this.fresh(`shape_${values.map((v) => (v < 0 ? `m${-v}` : String(v))).join('x')}`);
      const data = BigInt64Array.from(values, (v) => BigInt(v));
      this.initializers.push({ name: n, dims: [values.length], dataType: onnx.TensorProto.DataType.INT64, rawData: rawBytes(data) });
      this.constants.set(key, n);
    }
    return n;
  }

  /**
   * Adds a node of the default domain; its output is named after the node (`name`, made
   * unique) unless `output` names it (a graph output, reserved first). Returns the output.
   */
  node(opType: string, inputs: readonly string[], name: string, attrs: Record<string, AttrValue> = {}, output?: string): string {
    const nodeName = this.fresh(name);
    if (output === undefined) output = nodeName;
    this.nodes.push({
      opType,
      name: nodeName,
      input: [...inputs],
      output: [output],
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return output;
  }

  /** Registers a graph input or output name (so that no node output takes it). */
  reserve(name: string): string {
    if (this.names.has(name)) fail('onnx graph', 'a graph input or output', 'a name not used yet', `'${name}', which is taken`);
    this.names.add(name);
    return name;
  }

  graph(name: string, input: { name: string; dims: readonly Dim[] }, output: { name: string; dims: readonly Dim[] }): onnx.IGraphProto {
    return {
      name,
      node: this.nodes,
      initializer: this.initializers,
      input: [valueInfo(input.name, input.dims)],
      output: [valueInfo(output.name, output.dims)],
    };
  }
}
