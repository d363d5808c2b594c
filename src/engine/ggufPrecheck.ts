// A cheap sanity check of a GGUF file's fixed header before node-llama-cpp parses it. Its reader
// believes the tensor and metadata counts it finds and reads past the end of the file as zeros, so
// a damaged or hostile file claiming hundreds of millions of tensors keeps it busy (and allocating)
// for minutes. Found by fuzzing (test/unit/fuzz.test.ts). The counts must fit in the file's size.
import { open } from 'node:fs/promises';

/** Magic, version, tensor count, metadata count. */
const FIXED_HEADER_BYTES = 24;
/** The least one tensor description takes: name length, 1 dimension, type, offset. */
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 8 + 4 + 8;
/** The least one metadata entry takes: key length, value type, a 1-byte value. */
const MIN_METADATA_BYTES = 8 + 4 + 1;

/** Undefined when the header is plausible; otherwise what is wrong, in words. */
export async function ggufHeaderProblem(path: string): Promise<string | undefined> {
  const file = await open(path, 'r');
  try {
    const size = (await file.stat()).size;
    const header = Buffer.alloc(FIXED_HEADER_BYTES);
    const { bytesRead } = await file.read(header, 0, FIXED_HEADER_BYTES, 0);
    if (bytesRead < 4 || header.toString('latin1', 0, 4) !== 'GGUF') return 'it is not a GGUF file (it does not start with "GGUF")';
    if (bytesRead < FIXED_HEADER_BYTES) return `it is truncated (${size} bytes, shorter than a GGUF header)`;
    const version = header.readUInt32LE(4);
    if (version < 2 || version > 3) return `its GGUF version ${version} is not one llama.cpp reads (2 or 3) — the file is damaged or too new`;
    const tensors = header.readBigUInt64LE(8);
    const entries = header.readBigUInt64LE(16);
    const least = BigInt(FIXED_HEADER_BYTES) + tensors * BigInt(MIN_TENSOR_INFO_BYTES) + entries * BigInt(MIN_METADATA_BYTES);
    if (least > BigInt(size)) return `its header claims ${tensors} tensors and ${entries} metadata entries, more than its ${size} bytes can hold — the file is damaged or truncated`;
    return undefined;
  } finally {
    await file.close();
  }
}
