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
 * MiniSearch's term table: term → field id → chunk id → count. Not public API (document frequencies
 * for queries, a save and a load in pieces); the unit tests fail if a MiniSearch update changes it.
 */
interface TermTable extends Iterable<[string, Map<number, Map<number, number>>]> {
  get(term: string): Map<number, Map<number, number>> | undefined;
  set(term: string, fields: Map<number, Map<number, number>>): unknown;
}

/** Bumped whenever what is stored changes meaning (tokenizer, chunking, layout): older files are rebuilt. */
export const INDEX_FORMAT = 4;

/** MiniSearch's document tables (not public API, read only for a save in pieces; see TermTable). */
interface SearchInternals {
  _documentIds: Map<number, unknown>;
  _fieldLength: Map<number, number[]>;
  _storedFields: Map<number, unknown>;
}

/** A map's entries as JSON object members, one piece each. */
function* entries<K, V>(map: Map<K, V>, member: (key: K, value: V) => string): Generator<string> {
  let first = true;
  for (const [key, value] of map) {
    yield first ? member(key, value) : `,${member(key, value)}`;
    first = false;
  }
}

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
   * The stored index as small pieces of text that make JSON lines: first everything but the term
   * table (MiniSearch's toJSON layout, its "index" empty), then the table's terms, about
   * `postingsPerLine` postings to a line, then their count. MiniSearch's toJSON builds every map as
   * objects and JSON.stringify one string of them, and JSON.parse the whole tree back: 270 MB at
   * the peak for 10,000 files. Here a save holds one term at a time, a load one line.
   */
  *jsonPieces(postingsPerLine = 20_000): Generator<string> {
    const search = this.search as unknown as SearchInternals;
    // The scalars by MiniSearch itself: its toJSON on a view whose maps are empty.
    const empty = { value: new Map() };
    const view = Object.create(this.search, {
      _index: { value: [] },
      _documentIds: empty,
      _fieldLength: empty,
      _storedFields: empty,
    }) as MiniSearch<ChunkDoc>;
    const { index: _i, documentIds: _d, fieldLength: _f, storedFields: _s, serializationVersion, ...rest } = view.toJSON();
    yield `{"format":${INDEX_FORMAT},"nextId":${this.nextId},"files":{`;
    yield* entries(this.files, (path, state) => `${JSON.stringify(path)}:${JSON.stringify(state)}`);
    yield `},"search":${JSON.stringify(rest).slice(0, -1)},"documentIds":{`;
    yield* entries(search._documentIds, (shortId, id) => `"${shortId}":${JSON.stringify(id)}`);
    yield '},"fieldLength":{';
    yield* entries(search._fieldLength, (shortId, lengths) => `"${shortId}":${JSON.stringify(lengths)}`);
    yield '},"storedFields":{';
    yield* entries(search._storedFields, (shortId, stored) => `"${shortId}":${JSON.stringify(stored)}`);
    yield `},"index":[],"serializationVersion":${serializationVersion}}}\n`;
    let terms = 0;
    let postings = 0;
    for (const [term, fields] of this.termTable()) {
      let piece = `${postings ? ',' : '['}[${JSON.stringify(term)},{`;
      postings ||= 1;
      let fieldComma = '';
      for (const [fieldId, counts] of fields) {
        piece += `${fieldComma}"${fieldId}":{`;
        fieldComma = ',';
        let n = 0;
        for (const [chunk, count] of counts) {
          piece += `${n++ ? ',' : ''}"${chunk}":${count}`;
          if (piece.length > 60_000) {
            yield piece;
            piece = '';
          }
        }
        piece += '}';
        postings += n;
      }
      yield `${piece}}]`;
      terms++;
      if (postings > postingsPerLine) {
        yield ']\n';
        postings = 0;
      }
    }
    if (postings) yield ']\n';
    yield `{"terms":${terms}}\n`;
  }

  /** An index from its stored lines (jsonPieces); CorruptIndexError when they are not this format's, whole. */
  static fromLines(lines: Iterable<string>, chunking: ChunkOptions = {}): SearchIndex {
    const next = nonEmpty(lines);
    const data = parseLine(next(), 'header') as SerializedIndex;
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
    // The term table as MiniSearch's loadJS builds it, a line at a time.
    const table = index.termTable();
    let terms = 0;
    for (let line = next(); line !== undefined; line = next()) {
      const parsed = parseLine(line, 'term table');
      if (!Array.isArray(parsed)) {
        const count = (parsed as { terms?: unknown } | null)?.terms;
        if (count !== terms || next() !== undefined)
          throw new CorruptIndexError(`term table: ${terms} terms read, ${String(count)} stored`);
        return index;
      }
      for (const entry of parsed as Array<[unknown, unknown]>) {
        const [term, fields] = Array.isArray(entry) ? entry : [];
        if (typeof term !== 'string' || !fields || typeof fields !== 'object') throw new CorruptIndexError(`term entry ${terms}`);
        const byField = new Map<number, Map<number, number>>();
        for (const [fieldId, counts] of Object.entries(fields as Record<string, Record<string, number> | null>)) {
          if (!counts || typeof counts !== 'object') throw new CorruptIndexError(`term entry ${term}`);
          const byChunk = new Map<number, number>();
          for (const chunk of Object.keys(counts)) byChunk.set(parseInt(chunk, 10), counts[chunk]);
          byField.set(parseInt(fieldId, 10), byChunk);
        }
        table.set(term, byField);
        terms++;
      }
    }
    throw new CorruptIndexError(`term table cut short after ${terms} terms`);
  }

  /** fromLines on the whole stored text. */
  static fromText(text: string, chunking: ChunkOptions = {}): SearchIndex {
    return SearchIndex.fromLines(text.split('\n'), chunking);
  }
}

/** The next non-empty line each call; undefined at the end. */
function nonEmpty(lines: Iterable<string>): () => string | undefined {
  const iterator = lines[Symbol.iterator]();
  return () => {
    for (let step = iterator.next(); !step.done; step = iterator.next()) if (step.value) return step.value;
    return undefined;
  };
}

function parseLine(line: string | undefined, what: string): unknown {
  if (line === undefined) throw new CorruptIndexError(`${what} missing`);
  try {
    return JSON.parse(line) as unknown;
  } catch (err) {
    throw new CorruptIndexError(`${what} not JSON: ${(err as Error).message}`);
  }
}
