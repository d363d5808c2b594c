// The lexical index: chunks of the workspace's files in a BM25 index (MiniSearch), searched by
// identifier parts. Only positions are stored, not text: a hit is read back from its file.
import MiniSearch, { type Options } from 'minisearch';

import { chunkLines, type Chunk, type ChunkOptions } from './chunk';
import type { Hit } from './hits';
import { termsOf, words } from './terms';

export type { Hit };

/** How a question is cut down before the search (see SearchIndex.queryTerms). */
export interface QueryPruning {
  /** At most this many terms, the rarest. */
  maxTerms: number;
  /** Terms in more than this share of the chunks are dropped, unless nothing rarer is left. */
  maxDocShare: number;
  /** When every term is that common, this many of the rarest are kept anyway. */
  keepCommon: number;
  /** The kept terms together occur in at most this many chunks per chunk of the index (what a search costs). */
  maxPostingsShare: number;
}

// Tuned on the bench's 10,000 files (32,000 chunks): recall@5 0.95 → 0.935, query p95 180 → 17 ms.
export const DEFAULT_PRUNING: QueryPruning = { maxTerms: 12, maxDocShare: 0.08, keepCommon: 2, maxPostingsShare: 0.12 };

/** Below these counts a search is cheap whatever the terms: small workspaces keep all of them. */
const MIN_DF_LIMIT = 50;
const MIN_POSTINGS_BUDGET = 500;

/**
 * MiniSearch's term table: term → field id → chunk id → count. Not public API (read only: document
 * frequencies for queries, and a save in pieces); the unit tests fail if a MiniSearch update changes it.
 */
interface TermTable extends Iterable<[string, Map<number, Map<number, number>>]> {
  get(term: string): Map<number, Map<number, number>> | undefined;
}

/** Bumped whenever what is stored changes meaning (tokenizer, chunking, layout): older files are rebuilt. */
export const INDEX_FORMAT = 4;

interface ChunkDoc {
  id: number;
  path: string;
  text: string;
  startLine: number;
  endLine: number;
}

export interface FileState {
  mtimeMs: number;
  size: number;
  ids: number[];
}

const options: Options<ChunkDoc> = {
  fields: ['text', 'path'],
  storeFields: ['path', 'startLine', 'endLine'],
  tokenize: (text) => words(text),
  processTerm: (term) => termsOf(term),
  searchOptions: { boost: { path: 2 }, combineWith: 'OR' },
  autoVacuum: { minDirtCount: 2000, minDirtFactor: 0.2, batchSize: 2000, batchWait: 5 },
};

export interface SerializedIndex {
  format: number;
  nextId: number;
  files: Record<string, FileState>;
  search: unknown;
}

export class CorruptIndexError extends Error {}

export class SearchIndex {
  private search: MiniSearch<ChunkDoc>;
  private readonly files = new Map<string, FileState>();
  private nextId = 0;

  constructor(private readonly chunking: ChunkOptions = {}) {
    this.search = new MiniSearch(options);
  }

  /** Indexes (or re-indexes) one file's text, as `chunks` when given (syntaxChunk.ts), else cut by lines. */
  setFile(path: string, text: string, stat: { mtimeMs: number; size: number }, chunks?: Chunk[]): void {
    this.removeFile(path);
    const ids: number[] = [];
    for (const chunk of chunks ?? chunkLines(text, this.chunking)) {
      const id = this.nextId++;
      ids.push(id);
      this.search.add({ id, path, text: chunk.text, startLine: chunk.startLine, endLine: chunk.endLine });
    }
    this.files.set(path, { mtimeMs: stat.mtimeMs, size: stat.size, ids });
  }

  removeFile(path: string): boolean {
    const known = this.files.get(path);
    if (!known) return false;
    for (const id of known.ids) this.search.discard(id);
    this.files.delete(path);
    return true;
  }

  /** Whether the file is indexed as it is on disk now (same size and modification time). */
  isCurrent(path: string, stat: { mtimeMs: number; size: number }): boolean {
    const known = this.files.get(path);
    return !!known && known.mtimeMs === stat.mtimeMs && known.size === stat.size;
  }

  has(path: string): boolean {
    return this.files.has(path);
  }

  paths(): string[] {
    return [...this.files.keys()];
  }

  get fileCount(): number {
    return this.files.size;
  }

  get chunkCount(): number {
    return this.search.documentCount;
  }

  /** A chunk's place by its id (undefined once its file was re-indexed or removed). */
  chunk(id: number): Omit<Hit, 'score'> | undefined {
    const stored = this.search.getStoredFields(id);
    return stored && { path: stored.path as string, startLine: stored.startLine as number, endLine: stored.endLine as number };
  }

  /** Every chunk's id, file by file (the embedding vectors are keyed by chunk id). */
  *chunkIds(): Generator<number> {
    for (const state of this.files.values()) yield* state.ids;
  }

  private termTable(): TermTable {
    return (this.search as unknown as { _index: TermTable })._index;
  }

  /** In how many chunks `term` occurs (text or path); 0 when unknown. */
  documentFrequency(term: string): number {
    const fields = this.termTable().get(term);
    if (!fields) return 0;
    let df = 0;
    for (const chunks of fields.values()) df = Math.max(df, chunks.size);
    return df;
  }

  /**
   * The terms of a question worth searching for. A term found in a large share of the chunks
   * ("value", "node", "get") ranks almost nothing but costs a pass over every chunk that has it,
   * so those go, and of the rest only the rarest few: a question's distinctive words decide it.
   */
  queryTerms(text: string, pruning: QueryPruning = DEFAULT_PRUNING): string[] {
    const unique = new Set<string>();
    for (const word of words(text)) for (const term of termsOf(word)) unique.add(term);
    const known = [...unique].map((term) => ({ term, df: this.documentFrequency(term) })).filter((t) => t.df > 0);
    known.sort((a, b) => a.df - b.df);
    const limit = Math.max(MIN_DF_LIMIT, pruning.maxDocShare * this.search.documentCount);
    const rare = known.filter((t) => t.df <= limit);
    if (!rare.length) return known.slice(0, pruning.keepCommon).map((t) => t.term);
    const budget = Math.max(MIN_POSTINGS_BUDGET, pruning.maxPostingsShare * this.search.documentCount);
    const kept: string[] = [];
    let postings = 0;
    for (const { term, df } of rare) {
      if (kept.length >= pruning.maxTerms || (kept.length && postings + df > budget)) break;
      kept.push(term);
      postings += df;
    }
    return kept;
  }

  /** The best chunks for a question or a set of identifiers, at most `limit`, at most `perFile` from one file. */
  query(text: string, limit = 5, perFile = 2, pruning: QueryPruning = DEFAULT_PRUNING): Hit[] {
    const terms = this.queryTerms(text, pruning);
    if (!terms.length) return [];
    const hits: Hit[] = [];
    const fromFile = new Map<string, number>();
    for (const result of this.search.search({ queries: terms, combineWith: 'OR' })) {
      const path = result.path as string;
      const count = fromFile.get(path) ?? 0;
      if (count >= perFile) continue;
      fromFile.set(path, count + 1);
      hits.push({ path, startLine: result.startLine as number, endLine: result.endLine as number, score: result.score });
      if (hits.length >= limit) break;
    }
    return hits;
  }

  /**
   * The serialized index as pieces of JSON text (together what fromJSON reads), a few thousand terms
   * at a time: MiniSearch's toJSON builds the whole term table as objects and JSON.stringify then
   * one string of it, 270 MB at the peak for 10,000 files; pieces written as they come need ~1 MB.
   */
  *jsonPieces(termsPerPiece = 4000): Generator<string> {
    // Everything but the term table, by MiniSearch itself: its toJSON on a view with an empty table.
    const view = Object.create(this.search, { _index: { value: [] } }) as MiniSearch<ChunkDoc>;
    const { index: _empty, ...rest } = view.toJSON();
    const files = JSON.stringify(Object.fromEntries(this.files));
    yield `{"format":${INDEX_FORMAT},"nextId":${this.nextId},"files":${files},"search":${JSON.stringify(rest).slice(0, -1)},"index":[`;
    let batch: string[] = [];
    let first = true;
    const flush = () => {
      const text = (first ? '' : ',') + batch.join(',');
      first = false;
      batch = [];
      return text;
    };
    for (const [term, fields] of this.termTable()) {
      const data: Record<number, Record<number, number>> = {};
      for (const [fieldId, counts] of fields) data[fieldId] = Object.fromEntries(counts);
      batch.push(JSON.stringify([term, data]));
      if (batch.length >= termsPerPiece) yield flush();
    }
    if (batch.length) yield flush();
    yield ']}}';
  }

  /** An index from its serialized form; CorruptIndexError when the text is not one of this format. */
  static fromJSON(text: string, chunking: ChunkOptions = {}): SearchIndex {
    let data: SerializedIndex;
    try {
      data = JSON.parse(text) as SerializedIndex;
    } catch (err) {
      throw new CorruptIndexError(`not JSON: ${(err as Error).message}`);
    }
    if (!data || typeof data !== 'object' || data.format !== INDEX_FORMAT)
      throw new CorruptIndexError(`format ${String(data?.format)}, expected ${INDEX_FORMAT}`);
    const index = new SearchIndex(chunking);
    try {
      index.search = MiniSearch.loadJS(data.search as Parameters<typeof MiniSearch.loadJS>[0], options);
    } catch (err) {
      throw new CorruptIndexError(`search data: ${(err as Error).message}`);
    }
    if (typeof data.nextId !== 'number' || !data.files || typeof data.files !== 'object') throw new CorruptIndexError('file table missing');
    index.nextId = data.nextId;
    for (const [path, state] of Object.entries(data.files)) {
      if (!Array.isArray(state?.ids) || typeof state.mtimeMs !== 'number') throw new CorruptIndexError(`file entry ${path}`);
      index.files.set(path, state);
    }
    return index;
  }
}
