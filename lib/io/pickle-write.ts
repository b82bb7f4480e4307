// The few pickle opcodes (protocol 2) a state dict needs, written as torch.save's pickler
// writes them: GLOBAL by module and name, BINUNICODE strings, the shortest integer opcode
// (LONG1 beyond 32 bits), tuples, MARK / SETITEMS, REDUCE, BINPERSID. No memo is used, so
// every global is named where it is called.

export class PickleWriter {
  private readonly parts: Buffer[] = [];

  private op(...bytes: number[]): this {
    this.parts.push(Buffer.from(bytes));
    return this;
  }

  proto(version: number): this {
    return this.op(0x80, version);
  }

  global(module: string, name: string): this {
    this.parts.push(Buffer.from(`c${module}\n${name}\n`, 'utf8'));
    return this;
  }

  str(s: string): this {
    const b = Buffer.from(s, 'utf8');
    const head = Buffer.alloc(5);
    head[0] = 0x58; // BINUNICODE
    head.writeUInt32LE(b.length, 1);
    this.parts.push(head, b);
    return this;
  }

  /** A non-negative integer: BININT1, BININT2, BININT, or LONG1 from 2^31 on. */
  int(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`PickleWriter.int: expected a non-negative safe integer but received ${v}`);
    if (v < 0x100) return this.op(0x4b, v);
    if (v < 0x10000) return this.op(0x4d, v & 0xff, v >> 8);
    if (v < 2 ** 31) {
      const b = Buffer.alloc(5);
      b[0] = 0x4a;
      b.writeInt32LE(v, 1);
      this.parts.push(b);
      return this;
    }
    const bytes: number[] = [];
    for (let x = BigInt(v); x > 0n; x >>= 8n) bytes.push(Number(x & 0xffn));
    if (bytes[bytes.length - 1] & 0x80) bytes.push(0); // keep it positive
    return this.op(0x8a, bytes.length, ...bytes);
  }

  /** A tuple of integers (EMPTY_TUPLE, TUPLE1-3 or MARK ... TUPLE, as pickle chooses). */
  intTuple(values: readonly number[]): this {
    if (values.length === 0) return this.op(0x29);
    if (values.length > 3) this.mark();
    for (const v of values) this.int(v);
    return values.length > 3 ? this.op(0x74) : this.op(0x84 + values.length);
  }

  mark(): this {
    return this.op(0x28);
  }

  tuple(): this {
    return this.op(0x74);
  }

  emptyTuple(): this {
    return this.op(0x29);
  }

  newFalse(): this {
    return this.op(0x89);
  }

  reduce(): this {
    return this.op(0x52);
  }

  persistentId(): this {
    return this.op(0x51);
  }

  setItems(): this {
    return this.op(0x75);
  }

  stop(): this {
    return this.op(0x2e);
  }

  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}
