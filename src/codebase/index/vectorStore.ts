// The codebase index's embedding vectors: one per chunk, keyed by the lexical index's chunk id
// (ids are never reused, so a re-indexed file's new chunks simply have none yet), normalized so
// that cosine similarity is a dot product, searched by brute force (32k chunks × 768 dims ≈ 25 M
// multiply-adds, tens of ms). Stored as one binary file next to the index, tagged with the model
// that made the vectors: another model's vectors are dropped, a damaged file starts empty.
import { readFile, rename, writeFile } from 'node:fs/promises';

const MAGIC = 0x56434e45; // "ENCV", little-endian
const FORMAT = 1;

export class CorruptVectorsError extends Error {}

export interface VectorHit {
  id: number;
  score: number;
}

export class VectorStore {
  private readonly vectors = new Map<number, Float32Array>();
  private dims = 0;

  /** `model` names what made the vectors (the embedding model's path): vectors of another are not mixed in. */
  constructor(readonly model: string) {}

  get size(): number {
    return this.vectors.size;
  }

  get dimensions(): number {
    return this.dims;
  }

  has(id: number): boolean {
    return this.vectors.has(id);
  }

  /** Stores a chunk's vector (normalized); every vector of a store has the same length. */
  set(id: number, vector: ArrayLike<number>): void {
    if (!vector.length) throw new Error('an empty vector');
    if (this.dims && vector.length !== this.dims) throw new Error(`a vector of ${vector.length} dimensions in a store of ${this.dims}`);
    this.dims = vector.length;
    this.vectors.set(id, normalized(vector));
  }

  delete(id: number): boolean {
    return this.vectors.delete(id);
  }

  /** Drops the vectors of chunks no longer in the index; answers how many went. */
  retain(live: ReadonlySet<number>): number {
    let dropped = 0;
    for (const id of this.vectors.keys())
      if (!live.has(id)) {
        this.vectors.delete(id);
        dropped++;
      }
    return dropped;
  }

  /** The `limit` chunks most similar to `query` by cosine similarity, best first. */
  nearest(query: ArrayLike<number>, limit: number): VectorHit[] {
    if (!this.dims || query.length !== this.dims || limit < 1) return [];
    const q = normalized(query);
    // A small sorted list of the best so far: limit is a handful, the store tens of thousands.
    const best: VectorHit[] = [];
    for (const [id, v] of this.vectors) {
      let dot = 0;
      for (let i = 0; i < v.length; i++) dot += v[i] * q[i];
      if (best.length === limit && dot <= best[best.length - 1].score) continue;
      let at = best.length;
      while (at > 0 && best[at - 1].score < dot) at--;
      best.splice(at, 0, { id, score: dot });
      if (best.length > limit) best.pop();
    }
    return best;
  }

  /** The store as bytes: header (magic, format, dims, count, model name), ids (u32), vectors (f32). */
  serialize(): Buffer {
    const model = Buffer.from(this.model, 'utf8');
    const count = this.vectors.size;
    const headerBytes = 20 + model.length;
    const idsOffset = align4(headerBytes);
    const vectorsOffset = idsOffset + 4 * count;
    const out = Buffer.alloc(vectorsOffset + 4 * count * this.dims);
    out.writeUInt32LE(MAGIC, 0);
    out.writeUInt32LE(FORMAT, 4);
    out.writeUInt32LE(this.dims, 8);
    out.writeUInt32LE(count, 12);
    out.writeUInt32LE(model.length, 16);
    model.copy(out, 20);
    let i = 0;
    for (const [id, vector] of this.vectors) {
      out.writeUInt32LE(id, idsOffset + 4 * i);
      Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).copy(out, vectorsOffset + 4 * i * this.dims);
      i++;
    }
    return out;
  }

  /** A store from its bytes; CorruptVectorsError when they are not a whole store of this format. */
  static deserialize(bytes: Buffer): VectorStore {
    if (bytes.length < 20 || bytes.readUInt32LE(0) !== MAGIC) throw new CorruptVectorsError('not a vector file');
    if (bytes.readUInt32LE(4) !== FORMAT) throw new CorruptVectorsError(`format ${bytes.readUInt32LE(4)}, expected ${FORMAT}`);
    const dims = bytes.readUInt32LE(8);
    const count = bytes.readUInt32LE(12);
    const modelLength = bytes.readUInt32LE(16);
    const idsOffset = align4(20 + modelLength);
    const vectorsOffset = idsOffset + 4 * count;
    if ((count > 0 && dims === 0) || bytes.length !== vectorsOffset + 4 * count * dims)
      throw new CorruptVectorsError(`${bytes.length} bytes for ${count} vectors of ${dims} dimensions`);
    const store = new VectorStore(bytes.toString('utf8', 20, 20 + modelLength));
    store.dims = dims;
    // One copy of the vector block, aligned for Float32Array; each vector is a view into it.
    const block = new Float32Array(count * dims);
    new Uint8Array(block.buffer).set(bytes.subarray(vectorsOffset));
    for (let i = 0; i < count; i++) {
      const vector = block.subarray(i * dims, (i + 1) * dims);
      if (!vector.every(Number.isFinite)) throw new CorruptVectorsError(`vector ${i} is not finite`);
      store.vectors.set(bytes.readUInt32LE(idsOffset + 4 * i), vector);
    }
    return store;
  }

  /** Writes the store (through a temporary file: a crash mid-write leaves the previous one). */
  async save(file: string): Promise<void> {
    await writeFile(`${file}.tmp`, this.serialize());
    await rename(`${file}.tmp`, file);
  }

  /**
   * The stored vectors of `model`, or an empty store: when there is no file, when it holds another
   * model's vectors (`dropped`), or when it is damaged (`corrupt` says why; it is rebuilt).
   */
  static async load(file: string, model: string): Promise<{ store: VectorStore; corrupt?: string; dropped?: boolean }> {
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { store: new VectorStore(model) };
      throw err;
    }
    try {
      const store = VectorStore.deserialize(bytes);
      if (store.model !== model) return { store: new VectorStore(model), dropped: true };
      return { store };
    } catch (err) {
      if (!(err instanceof CorruptVectorsError)) throw err;
      return { store: new VectorStore(model), corrupt: err.message };
    }
  }
}

function normalized(vector: ArrayLike<number>): Float32Array {
  const out = Float32Array.from(vector);
  let norm = 0;
  for (let i = 0; i < out.length; i++) norm += out[i] * out[i];
  norm = Math.sqrt(norm);
  if (norm > 0) for (let i = 0; i < out.length; i++) out[i] /= norm;
  return out;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}
