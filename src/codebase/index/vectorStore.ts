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
  /** Chunk id → slot; slot i's vector is data[i·dims, (i+1)·dims) and its id ids[i]. One block, scanned in order. */
  private readonly slots = new Map<number, number>();
  private ids: number[] = [];
  private data = new Float32Array(0);
  private dims = 0;

  /** `model` names what made the vectors (the embedding model's path): vectors of another are not mixed in. */
  constructor(readonly model: string) {}

  get size(): number {
    return this.ids.length;
  }

  get dimensions(): number {
    return this.dims;
  }

  has(id: number): boolean {
    return this.slots.has(id);
  }

  /** Stores a chunk's vector (normalized); every vector of a store has the same length. */
  set(id: number, vector: ArrayLike<number>): void {
    if (!vector.length) throw new Error('an empty vector');
    if (this.dims && vector.length !== this.dims) throw new Error(`a vector of ${vector.length} dimensions in a store of ${this.dims}`);
    this.dims = vector.length;
    let slot = this.slots.get(id);
    if (slot === undefined) {
      slot = this.ids.length;
      this.reserve(slot + 1);
      this.ids.push(id);
      this.slots.set(id, slot);
    }
    this.data.set(normalized(vector), slot * this.dims);
  }

  delete(id: number): boolean {
    const slot = this.slots.get(id);
    if (slot === undefined) return false;
    // The last vector moves into the freed slot: the block stays without holes.
    const last = this.ids.length - 1;
    if (slot !== last) {
      this.data.copyWithin(slot * this.dims, last * this.dims, (last + 1) * this.dims);
      this.ids[slot] = this.ids[last];
      this.slots.set(this.ids[slot], slot);
    }
    this.ids.pop();
    this.slots.delete(id);
    return true;
  }

  /** Drops the vectors of chunks no longer in the index; answers how many went. */
  retain(live: ReadonlySet<number>): number {
    const gone = this.ids.filter((id) => !live.has(id));
    for (const id of gone) this.delete(id);
    return gone.length;
  }

  /** The `limit` chunks most similar to `query` by cosine similarity, best first. */
  nearest(query: ArrayLike<number>, limit: number): VectorHit[] {
    const dims = this.dims;
    if (!dims || query.length !== dims || limit < 1) return [];
    const q = normalized(query);
    const data = this.data;
    // A small sorted list of the best so far: limit is a handful, the store tens of thousands.
    const best: VectorHit[] = [];
    for (let slot = 0, offset = 0; slot < this.ids.length; slot++, offset += dims) {
      // Four running sums: independent additions the CPU overlaps (~2× over one sum).
      let d0 = 0;
      let d1 = 0;
      let d2 = 0;
      let d3 = 0;
      let i = 0;
      for (; i + 3 < dims; i += 4) {
        d0 += data[offset + i] * q[i];
        d1 += data[offset + i + 1] * q[i + 1];
        d2 += data[offset + i + 2] * q[i + 2];
        d3 += data[offset + i + 3] * q[i + 3];
      }
      for (; i < dims; i++) d0 += data[offset + i] * q[i];
      const dot = d0 + d1 + d2 + d3;
      if (best.length === limit && dot <= best[best.length - 1].score) continue;
      let at = best.length;
      while (at > 0 && best[at - 1].score < dot) at--;
      best.splice(at, 0, { id: this.ids[slot], score: dot });
      if (best.length > limit) best.pop();
    }
    return best;
  }

  private reserve(count: number): void {
    if (count * this.dims <= this.data.length) return;
    const grown = new Float32Array(Math.max(count, Math.ceil(this.ids.length * 1.5), 256) * this.dims);
    grown.set(this.data.subarray(0, this.ids.length * this.dims));
    this.data = grown;
  }

  /** The store as bytes: header (magic, format, dims, count, model name), ids (u32), vectors (f32). */
  serialize(): Buffer {
    const model = Buffer.from(this.model, 'utf8');
    const count = this.ids.length;
    const idsOffset = align4(20 + model.length);
    const vectorsOffset = idsOffset + 4 * count;
    const out = Buffer.alloc(vectorsOffset + 4 * count * this.dims);
    out.writeUInt32LE(MAGIC, 0);
    out.writeUInt32LE(FORMAT, 4);
    out.writeUInt32LE(this.dims, 8);
    out.writeUInt32LE(count, 12);
    out.writeUInt32LE(model.length, 16);
    model.copy(out, 20);
    for (const [i, id] of this.ids.entries()) out.writeUInt32LE(id, idsOffset + 4 * i);
    Buffer.from(this.data.buffer, this.data.byteOffset, 4 * count * this.dims).copy(out, vectorsOffset);
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
    // One copy of the vector block, aligned for Float32Array.
    store.data = new Float32Array(count * dims);
    new Uint8Array(store.data.buffer).set(bytes.subarray(vectorsOffset));
    for (let i = 0; i < store.data.length; i++)
      if (!Number.isFinite(store.data[i])) throw new CorruptVectorsError(`vector ${Math.floor(i / dims)} is not finite`);
    for (let i = 0; i < count; i++) {
      const id = bytes.readUInt32LE(idsOffset + 4 * i);
      if (store.slots.has(id)) throw new CorruptVectorsError(`chunk ${id} twice`);
      store.slots.set(id, i);
      store.ids.push(id);
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
