// Reads the header of a GGUF file (llama.cpp's model and adapter format: ggml/docs/gguf.md) in plain
// JavaScript: metadata, tensor names, shapes, types and offsets, and whether the file holds all the
// tensor data its header declares. The extension host checks models and adapters with it without
// loading node-llama-cpp's native binding (that stays in the engine process), and the engine checks
// a file with it before handing it to llama.cpp, whose own error for a bad file says little.
// @huggingface/gguf was measured for this job and not taken: it cannot skip the 150k-entry
// vocabulary (6–11 s for a Qwen-vocabulary header here) and never settles on a truncated local file.
import { open, stat, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';

export type GgufValue = number | boolean | string | GgufValue[];

export interface GgufTensorInfo {
  name: string;
  /** ggml order: innermost dimension first, e.g. a matrix mapping n_in → n_out is [n_in, n_out]. */
  dims: number[];
  /** ggml type id (ggml.h: 0 F32, 1 F16, 8 Q8_0, …). */
  ggmlType: number;
  /** Absolute offset of the tensor's data in the file. */
  fileOffset: number;
  /** Bytes of tensor data, or undefined for a ggml type this reader does not know. */
  bytes?: number;
}

export interface GgufHeader {
  version: number;
  /** Flat keys as in the file: `general.architecture`, `adapter.lora.alpha`, … */
  metadata: Record<string, GgufValue>;
  tensors: GgufTensorInfo[];
  /** Where the tensor data starts (after the header, aligned). */
  dataOffset: number;
  fileBytes: number;
}

export type GgufProblem = 'missing' | 'not-a-file' | 'not-gguf' | 'truncated' | 'malformed';

/** Why a file cannot be used as GGUF; `problem` lets callers word it for their setting. */
export class GgufError extends Error {
  constructor(
    readonly problem: GgufProblem,
    message: string,
  ) {
    super(message);
    this.name = 'GgufError';
  }
}

/** Keys holding the vocabulary (150k entries for Qwen): not needed to check a file, slow to decode. */
export const vocabularyKeys: readonly string[] = [
  'tokenizer.ggml.tokens',
  'tokenizer.ggml.token_type',
  'tokenizer.ggml.merges',
  'tokenizer.ggml.scores',
];

export interface ReadGgufOptions {
  /** Metadata keys whose values are skipped (default: the vocabulary). */
  skipKeys?: readonly string[];
}

/** Elements per block and bytes per block of the ggml types (ggml.c's type traits). */
const ggmlTypeLayout: Record<number, [blockElements: number, blockBytes: number]> = {
  0: [1, 4], // F32
  1: [1, 2], // F16
  2: [32, 18], // Q4_0
  3: [32, 20], // Q4_1
  6: [32, 22], // Q5_0
  7: [32, 24], // Q5_1
  8: [32, 34], // Q8_0
  10: [256, 84], // Q2_K
  11: [256, 110], // Q3_K
  12: [256, 144], // Q4_K
  13: [256, 176], // Q5_K
  14: [256, 210], // Q6_K
  15: [256, 292], // Q8_K
  24: [1, 1], // I8
  25: [1, 2], // I16
  26: [1, 4], // I32
  27: [1, 8], // I64
  28: [1, 8], // F64
  30: [1, 2], // BF16
};

const MAX_DIMS = 4; // GGML_MAX_DIMS
const DEFAULT_ALIGNMENT = 32;
/** No key, name or chat template comes near this; a larger length is damage. */
const MAX_STRING_BYTES = 16 << 20;

/** Reads a GGUF header and checks that the file holds all the tensor data it declares. */
export async function readGgufHeader(path: string, options: ReadGgufOptions = {}): Promise<GgufHeader> {
  const name = basename(path);
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new GgufError('missing', `${name} does not exist (${path}).`);
  if (!info.isFile()) throw new GgufError('not-a-file', `${path} is not a file.`);
  const handle = await open(path, 'r');
  let header: GgufHeader;
  try {
    header = await parse(new HeaderReader(handle, info.size, name), info.size, new Set(options.skipKeys ?? vocabularyKeys));
  } finally {
    await handle.close();
  }
  let needed = header.dataOffset;
  for (const tensor of header.tensors) needed = Math.max(needed, tensor.fileOffset + (tensor.bytes ?? 0));
  if (header.fileBytes < needed) {
    throw new GgufError(
      'truncated',
      `${name} is truncated: the file has ${header.fileBytes} bytes but its tensors need ${needed}. Copy or download it again.`,
    );
  }
  return header;
}

/** Whether a file starts with the GGUF magic (a cheap check before reading a whole header). */
export async function hasGgufMagic(path: string): Promise<boolean> {
  const handle = await open(path, 'r').catch(() => undefined);
  if (!handle) return false;
  try {
    const magic = Buffer.alloc(4);
    const { bytesRead } = await handle.read(magic, 0, 4, 0);
    return bytesRead === 4 && magic.toString('latin1') === 'GGUF';
  } finally {
    await handle.close();
  }
}

async function parse(r: HeaderReader, fileBytes: number, skipKeys: Set<string>): Promise<GgufHeader> {
  if ((await r.bytes(4)).toString('latin1') !== 'GGUF') {
    throw new GgufError(
      'not-gguf',
      `${r.name} is not a readable GGUF file: it does not start with "GGUF". Use a llama.cpp GGUF file (*.gguf).`,
    );
  }
  const version = await r.u32();
  if (version !== 2 && version !== 3) throw r.malformed(`GGUF version ${version} is not supported (2 and 3 are)`);
  const tensorCount = await r.count('tensors');
  const kvCount = await r.count('metadata entries');
  const metadata: Record<string, GgufValue> = {};
  for (let i = 0; i < kvCount; i++) {
    const key = await r.string();
    const type = await r.u32();
    if (skipKeys.has(key)) await r.skipValue(type);
    else metadata[key] = await r.value(type);
  }
  const tensors: GgufTensorInfo[] = [];
  const relative: number[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = await r.string();
    const nDims = await r.u32();
    if (nDims > MAX_DIMS) throw r.malformed(`tensor ${name} has ${nDims} dimensions (at most ${MAX_DIMS})`);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(await r.u64());
    const ggmlType = await r.u32();
    relative.push(await r.u64());
    const layout = ggmlTypeLayout[ggmlType];
    const elements = dims.reduce((a, b) => a * b, 1);
    tensors.push({ name, dims, ggmlType, fileOffset: 0, bytes: layout ? Math.ceil(elements / layout[0]) * layout[1] : undefined });
  }
  const alignment = metadata['general.alignment'];
  const align = typeof alignment === 'number' && alignment > 0 ? alignment : DEFAULT_ALIGNMENT;
  const dataOffset = Math.ceil(r.position / align) * align;
  tensors.forEach((t, i) => (t.fileOffset = dataOffset + relative[i]));
  return { version, metadata, tensors, dataOffset, fileBytes };
}

/** Sequential reads through a buffer refilled from the file; every length is checked against the file size. */
class HeaderReader {
  position = 0;
  private buffer = Buffer.alloc(0);
  private bufferStart = 0;

  constructor(
    private readonly handle: FileHandle,
    private readonly fileBytes: number,
    readonly name: string,
  ) {}

  malformed(what: string): GgufError {
    return new GgufError(
      'malformed',
      `${this.name} is not a readable GGUF file (${this.fileBytes} bytes): ${what}. It may be damaged; copy or download it again.`,
    );
  }

  private async ensure(n: number): Promise<void> {
    if (this.position + n > this.fileBytes) {
      throw new GgufError(
        'truncated',
        `${this.name} is truncated: its header ends before byte ${this.position + n} (the file has ${this.fileBytes}). Copy or download it again.`,
      );
    }
    const offset = this.position - this.bufferStart;
    if (offset + n <= this.buffer.length) return;
    const size = Math.min(Math.max(n, 1 << 20), this.fileBytes - this.position);
    const next = Buffer.allocUnsafe(size);
    const { bytesRead } = await this.handle.read(next, 0, size, this.position);
    if (bytesRead < n)
      throw new GgufError('truncated', `${this.name} changed or is truncated while it was read. Copy or download it again.`);
    this.buffer = next.subarray(0, bytesRead);
    this.bufferStart = this.position;
  }

  private buffered(n: number): boolean {
    return this.position >= this.bufferStart && this.position - this.bufferStart + n <= this.buffer.length;
  }

  private take(n: number): Buffer {
    const at = this.position - this.bufferStart;
    this.position += n;
    return this.buffer.subarray(at, at + n);
  }

  async bytes(n: number): Promise<Buffer> {
    if (!this.buffered(n)) await this.ensure(n);
    return this.take(n);
  }

  async u32(): Promise<number> {
    return (await this.bytes(4)).readUInt32LE(0);
  }

  async u64(): Promise<number> {
    const value = (await this.bytes(8)).readBigUInt64LE(0);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw this.malformed(`a size of ${value} is out of range`);
    return Number(value);
  }

  /** A count of items that each take at least one byte: more than the file holds is damage, not a size. */
  async count(what: string): Promise<number> {
    const n = await this.u64();
    if (n > this.fileBytes - this.position)
      throw this.malformed(`it declares ${n} ${what}, more than the file holds (it may be truncated)`);
    return n;
  }

  async string(): Promise<string> {
    const length = await this.count('string bytes');
    if (length > MAX_STRING_BYTES) throw this.malformed(`a string of ${length} bytes`);
    return (await this.bytes(length)).toString('utf8');
  }

  async value(type: number): Promise<GgufValue> {
    switch (type) {
      case 0:
        return (await this.bytes(1)).readUInt8(0);
      case 1:
        return (await this.bytes(1)).readInt8(0);
      case 2:
        return (await this.bytes(2)).readUInt16LE(0);
      case 3:
        return (await this.bytes(2)).readInt16LE(0);
      case 4:
        return this.u32();
      case 5:
        return (await this.bytes(4)).readInt32LE(0);
      case 6:
        return (await this.bytes(4)).readFloatLE(0);
      case 7:
        return (await this.bytes(1)).readUInt8(0) !== 0;
      case 8:
        return this.string();
      case 9: {
        const itemType = await this.u32();
        if (itemType === 9) throw this.malformed('it nests arrays');
        const n = await this.count('array items');
        const items: GgufValue[] = [];
        for (let i = 0; i < n; i++) items.push(await this.value(itemType));
        return items;
      }
      case 10:
        return Number((await this.bytes(8)).readBigUInt64LE(0));
      case 11:
        return Number((await this.bytes(8)).readBigInt64LE(0));
      case 12:
        return (await this.bytes(8)).readDoubleLE(0);
      default:
        throw this.malformed(`metadata value type ${type} is unknown`);
    }
  }

  /** Moves past a value without decoding it (strings are only measured). */
  async skipValue(type: number): Promise<void> {
    const fixed = fixedSize(type);
    if (fixed !== undefined) {
      await this.bytes(fixed);
      return;
    }
    if (type === 8) {
      await this.bytes(await this.count('string bytes'));
      return;
    }
    if (type !== 9) throw this.malformed(`metadata value type ${type} is unknown`);
    const itemType = await this.u32();
    const n = await this.count('array items');
    const itemSize = fixedSize(itemType);
    if (itemSize !== undefined) {
      if (n * itemSize > this.fileBytes) throw this.malformed(`an array of ${n} items does not fit the file`);
      this.position += n * itemSize;
      return;
    }
    if (itemType !== 8) throw this.malformed(itemType === 9 ? 'it nests arrays' : `metadata value type ${itemType} is unknown`);
    // 150k strings: awaited only when the buffer runs out, the rest is a synchronous walk.
    for (let i = 0; i < n; i++) {
      if (!this.buffered(8)) await this.ensure(8);
      const length = this.take(8).readBigUInt64LE(0);
      if (length > BigInt(this.fileBytes - this.position)) throw this.malformed(`a string of ${length} bytes does not fit the file`);
      if (this.buffered(Number(length))) this.take(Number(length));
      else await this.bytes(Number(length));
    }
  }
}

function fixedSize(type: number): number | undefined {
  return ({ 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 } as Record<number, number>)[type];
}
