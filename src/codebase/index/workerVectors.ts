// The embedding side of the index worker: each folder's vector store (vectorStore.ts) next to its
// lexical index, the chunks still without a vector (their text read back from the files) handed
// out in batches to the extension host, which has them embedded by the engine, and queries that
// fuse the lexical ranking with the vectors' by reciprocal rank fusion. Without a store (no
// embedding model set) a query is exactly the lexical one.
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

import { reciprocalRankFusion } from './fusion';
import type { Hit } from './hits';
import type { SearchIndex } from './searchIndex';
import { VectorStore } from './vectorStore';

interface FolderVectors {
  store: VectorStore;
  file: string;
  dirty: boolean;
}

export interface VectorsOpenResult {
  /** Vectors loaded for the folder's current chunks. */
  stored: number;
  /** The stored vectors were another model's and were dropped. */
  dropped?: boolean;
  /** Why the stored vectors were unusable (they are rebuilt). */
  corrupt?: string;
}

export interface PendingChunks {
  ids: number[];
  texts: string[];
  /** Chunks without a vector besides these. */
  remaining: number;
}

/** Characters of a chunk sent to be embedded (the engine cuts to its context anyway). */
const MAX_CHUNK_CHARS = 4000;
/** How many chunks each side of the fusion brings, per result asked for. */
const CANDIDATES_PER_RESULT = 5;

const folders = new Map<string, FolderVectors>();

/** Where a folder's vectors are stored: next to its lexical index. */
export function vectorsFile(indexFile: string): string {
  return `${indexFile.replace(/\.json$/, '')}.vectors`;
}

/** Loads (or starts) the folder's vectors for `model`; an empty model closes them (lexical only). */
export async function openVectors(key: string, indexFile: string, model: string, index: SearchIndex): Promise<VectorsOpenResult> {
  folders.delete(key);
  if (!model) return { stored: 0 };
  const file = vectorsFile(indexFile);
  const { store, corrupt, dropped } = await VectorStore.load(file, model);
  // Vectors of chunks re-indexed or removed while they were not loaded go now.
  const removed = store.retain(new Set(index.chunkIds()));
  folders.set(key, { store, file, dirty: removed > 0 || !!corrupt || !!dropped });
  const result: VectorsOpenResult = { stored: store.size };
  if (dropped) result.dropped = true;
  if (corrupt) result.corrupt = corrupt;
  return result;
}

export function closeVectors(key: string): void {
  folders.delete(key);
}

/**
 * The folder's lexical index starts afresh (rebuilt, damaged, none stored): its chunk ids start
 * again from 0, so stored vectors would fit other chunks. They go, in memory and on disk.
 */
export async function discardVectors(key: string, indexFile: string): Promise<void> {
  folders.delete(key);
  await rm(vectorsFile(indexFile), { force: true });
}

/** Up to `limit` chunks without a vector, with their text as the file has it now. */
export async function pendingChunks(key: string, root: string, index: SearchIndex, limit: number): Promise<PendingChunks> {
  const vectors = folders.get(key);
  const out: PendingChunks = { ids: [], texts: [], remaining: 0 };
  if (!vectors) return out;
  let file: { path: string; lines?: string[] } | undefined;
  let withVector = 0;
  for (const id of index.chunkIds()) {
    if (vectors.store.has(id)) {
      withVector++;
      continue;
    }
    if (out.ids.length >= limit) {
      out.remaining++;
      continue;
    }
    const chunk = index.chunk(id);
    if (!chunk) continue;
    if (file?.path !== chunk.path) file = { path: chunk.path, lines: await readLines(join(root, chunk.path)) };
    // A file gone since it was indexed: its file event removes its chunks; nothing to embed meanwhile.
    if (!file.lines) continue;
    out.ids.push(id);
    out.texts.push(`${chunk.path}\n${file.lines.slice(chunk.startLine, chunk.endLine).join('\n')}`.slice(0, MAX_CHUNK_CHARS));
  }
  // More vectors than live chunks have: those of re-indexed or removed files' old chunks go.
  if (vectors.store.size > withVector && vectors.store.retain(new Set(index.chunkIds())) > 0) vectors.dirty = true;
  return out;
}

async function readLines(path: string): Promise<string[] | undefined> {
  try {
    return (await readFile(path, 'utf8')).split('\n');
  } catch {
    return undefined;
  }
}

/** Stores the vectors the engine made; those of chunks re-indexed meanwhile are not kept. */
export function putVectors(key: string, model: string, index: SearchIndex, ids: number[], vectors: number[][]): number {
  const entry = folders.get(key);
  if (!entry || entry.store.model !== model || ids.length !== vectors.length) return 0;
  let kept = 0;
  for (const [i, id] of ids.entries())
    if (index.chunk(id)) {
      entry.store.set(id, vectors[i]);
      kept++;
    }
  if (kept) entry.dirty = true;
  return kept;
}

/** The folder's best chunks: lexical alone, or fused with the nearest vectors when `vector` is given and the folder has vectors. */
export function fusedQuery(
  key: string,
  index: SearchIndex,
  text: string,
  vector: number[] | undefined,
  limit: number,
  perFile: number,
): Hit[] {
  const vectors = folders.get(key);
  if (!vector || !vectors?.store.size) return index.query(text, limit, perFile);
  const candidates = limit * CANDIDATES_PER_RESULT;
  const lexical = index.query(text, candidates, perFile);
  const semantic: Hit[] = [];
  const fromFile = new Map<string, number>();
  for (const { id, score } of vectors.store.nearest(vector, candidates * 2)) {
    const chunk = index.chunk(id);
    if (!chunk) continue;
    const count = fromFile.get(chunk.path) ?? 0;
    if (count >= perFile) continue;
    fromFile.set(chunk.path, count + 1);
    semantic.push({ ...chunk, score });
    if (semantic.length >= candidates) break;
  }
  const fused = reciprocalRankFusion([lexical, semantic], (h) => `${h.path}:${h.startLine}`);
  const out: Hit[] = [];
  const taken = new Map<string, number>();
  for (const { item, score } of fused) {
    const count = taken.get(item.path) ?? 0;
    if (count >= perFile) continue;
    taken.set(item.path, count + 1);
    out.push({ ...item, score });
    if (out.length >= limit) break;
  }
  return out;
}

/** Writes the vector stores changed since they were last written. */
export async function saveVectors(): Promise<void> {
  for (const entry of folders.values())
    if (entry.dirty) {
      entry.dirty = false;
      await entry.store.save(entry.file);
    }
}

export function vectorCounts(key: string): { vectors: number; dimensions: number } | undefined {
  const entry = folders.get(key);
  return entry && { vectors: entry.store.size, dimensions: entry.store.dimensions };
}
