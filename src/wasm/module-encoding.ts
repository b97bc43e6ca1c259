/**
 * Just enough of the WebAssembly binary format to write small modules in code: one exported
 * function over one exported memory of fixed size. Runnel generates its SIMD kernels this way
 * (kinesis/md5-lanes.ts, client/simd-mask.ts), so no binary is shipped or built. Imports nothing
 * of Node's: the browser client uses it too.
 */
import { varintBytes, writeVarint } from '../storage/batch-layout.js';

export const OP = {
  block: 0x02,
  loop: 0x03,
  br: 0x0c,
  brIf: 0x0d,
  end: 0x0b,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Const: 0x41,
  i32GeU: 0x4f,
  i32Add: 0x6a,
  i32Shl: 0x74,
  simd: 0xfd,
  void: 0x40,
} as const;

/** SIMD instructions (after the 0xfd prefix, as LEB128). */
export const SIMD = {
  load: 0x00,
  store: 0x0b,
  const: 0x0c,
  shuffle: 0x0d,
  i32x4Splat: 0x11,
  not: 0x4d,
  or: 0x50,
  xor: 0x51,
  bitselect: 0x52,
  i32x4Shl: 0xab,
  i32x4ShrU: 0xad,
  i32x4Add: 0xae,
} as const;

export const TYPE = { i32: 0x7f, v128: 0x7b, func: 0x60 } as const;
/** log2 of a v128's natural alignment, for memargs. */
const V128_ALIGN = 4;
export const WASM_PAGE_BYTES = 65536;

/** Unsigned LEB128: the record batch's varint (batch-layout.ts), as WebAssembly encodes indexes and sizes. */
function unsigned(value: number): number[] {
  const bytes = new Uint8Array(varintBytes(value));
  writeVarint(bytes, 0, value);
  return [...bytes];
}

/** Signed LEB128, as `i32.const` takes its operand. */
function signed(value: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    if ((value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

/**
 * A function body's instructions, written one at a time. Locals are numbered with the
 * parameters first, as WebAssembly numbers them.
 */
export class CodeWriter {
  readonly code: number[] = [];

  op(...bytes: number[]): void {
    this.code.push(...bytes);
  }

  get(local: number): void {
    this.code.push(OP.localGet, ...unsigned(local));
  }

  set(local: number): void {
    this.code.push(OP.localSet, ...unsigned(local));
  }

  tee(local: number): void {
    this.code.push(OP.localTee, ...unsigned(local));
  }

  i32(value: number): void {
    this.code.push(OP.i32Const, ...signed(value | 0));
  }

  simd(op: number): void {
    this.code.push(OP.simd, ...unsigned(op));
  }

  /** A v128 from the address on the stack plus `offset`. */
  load(offset: number): void {
    this.simd(SIMD.load);
    this.code.push(V128_ALIGN, ...unsigned(offset));
  }

  /** Stores the v128 on the stack at the address below it plus `offset`. */
  store(offset: number): void {
    this.simd(SIMD.store);
    this.code.push(V128_ALIGN, ...unsigned(offset));
  }

  /** A v128 constant with `value` in each of its four 32-bit lanes. */
  splat(value: number): void {
    this.simd(SIMD.const);
    for (let lane = 0; lane < 4; lane++) {
      this.code.push(value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, value >>> 24);
    }
  }

  /**
   * `while (counter < limit) { body; counter += step }`, unsigned. `counter` starts where its
   * local stands (a declared local starts at 0).
   */
  loopBelow(counter: number, limit: number, step: number, body: () => void): void {
    this.code.push(OP.block, OP.void, OP.loop, OP.void);
    this.get(counter);
    this.get(limit);
    this.code.push(OP.i32GeU, OP.brIf, 1);
    body();
    this.get(counter);
    this.i32(step);
    this.code.push(OP.i32Add);
    this.set(counter);
    this.code.push(OP.br, 0, OP.end, OP.end);
  }
}

function section(id: number, content: number[]): number[] {
  return [id, ...unsigned(content.length), ...content];
}

function name(text: string): number[] {
  const bytes = [...new TextEncoder().encode(text)];
  return [...unsigned(bytes.length), ...bytes];
}

/**
 * A module of one function, exported as `exportName`, taking `params` i32 parameters and
 * returning nothing, and a memory of `memoryPages` pages exported as `memory`. `locals` are the
 * function's declared locals as (count, type) pairs; `code` its instructions up to, not
 * including, the function's final `end`.
 */
export function oneFunctionModule(spec: {
  exportName: string;
  params: number;
  memoryPages: number;
  locals: Array<[count: number, type: number]>;
  code: number[];
}): Uint8Array {
  const locals = [
    ...unsigned(spec.locals.length),
    ...spec.locals.flatMap(([count, type]) => [...unsigned(count), type]),
  ];
  const body = [...locals, ...spec.code, OP.end];
  const bytes = [
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, [
      1,
      TYPE.func,
      ...unsigned(spec.params),
      ...Array<number>(spec.params).fill(TYPE.i32),
      0,
    ]),
    ...section(3, [1, 0]),
    ...section(5, [1, 0x00, ...unsigned(spec.memoryPages)]),
    ...section(7, [2, ...name(spec.exportName), 0x00, 0, ...name('memory'), 0x02, 0]),
    ...section(10, [1, ...unsigned(body.length), ...body]),
  ];
  return new Uint8Array(bytes);
}

/**
 * The part of the WebAssembly JavaScript API used here. TypeScript types it in its DOM library
 * only, which a Node program does not load.
 */
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
};

export interface OneFunctionInstance<F> {
  run: F;
  memory: ArrayBuffer;
}

/**
 * Compiles a module, or returns undefined where it cannot be compiled here (a runtime or CPU
 * without WebAssembly SIMD): callers then do the same work in JavaScript.
 */
export function compileModule(bytes: Uint8Array): object | undefined {
  try {
    return new WebAssembly.Module(bytes);
  } catch {
    return undefined;
  }
}

/** An instance, with a memory of its own, of a module from oneFunctionModule. */
export function instantiate<F>(compiled: object, exportName: string): OneFunctionInstance<F> {
  const { exports } = new WebAssembly.Instance(compiled);
  return {
    run: exports[exportName] as F,
    memory: (exports.memory as { buffer: ArrayBuffer }).buffer,
  };
}
