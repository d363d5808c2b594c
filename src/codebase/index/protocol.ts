// The messages between the extension host and the index worker (worker.ts): requests with an id,
// answered once (a value or an error), and progress reports for a build on the way.
import type { BuildResult } from './builder';
import type { Hit } from './hits';

/** One workspace folder's index: where its files are and where it is stored. */
export interface FolderSpec {
  key: string;
  root: string;
  /** The stored index (JSON). */
  file: string;
  exclude: string[];
  maxFiles: number;
  /** How files are cut into chunks: at syntax boundaries where a grammar ships (the default), or by lines only. */
  chunking?: 'syntax' | 'lines';
}

export type Request =
  /** Loads the stored index (or starts empty); answers whether one was loaded, or why it was unusable. */
  | { op: 'open'; folder: FolderSpec; rebuild: boolean }
  /** Brings the index up to date with the disk and saves it when anything changed; progress on the way. */
  | { op: 'build'; key: string; fresh: boolean }
  /** Stops the folder's build on the way (it answers with an error). */
  | { op: 'cancel'; key: string }
  /** A file event: the file is re-indexed, removed, or left out by the walk's rules. */
  | { op: 'change'; key: string; path: string }
  /** `vector`: the question's embedding, fused with the lexical ranking where the folder has vectors. */
  | { op: 'query'; text: string; limit: number; perFile: number; vector?: number[] }
  /** Loads the folder's chunk vectors made by `model` (another model's are dropped); '' = none. */
  | { op: 'vectorsOpen'; key: string; model: string }
  /** Chunks without a vector yet, with their text, at most `limit`. */
  | { op: 'vectorsPending'; key: string; limit: number }
  | { op: 'vectorsPut'; key: string; model: string; ids: number[]; vectors: number[][] }
  /** Writes the indexes changed since they were last written. */
  | { op: 'save' }
  /** Drops the folders not named. */
  | { op: 'retain'; keys: string[] }
  | { op: 'stats' };

export interface OpenResult {
  loaded: boolean;
  /** Why the stored index could not be used (it starts empty and is rebuilt). */
  corrupt?: string;
}

export interface BuildSummary extends BuildResult {
  chunks: number;
  /** Files of this build cut at syntax boundaries, and those whose parse failed (cut by lines). */
  parsed: number;
  parseFailed: number;
  /** False when syntax chunking is on but tree-sitter did not load: every file was cut by lines. */
  parser: boolean;
}

export interface FolderHit {
  key: string;
  hit: Hit;
}

export interface WorkerStats {
  heapUsed: number;
  /** The worker's heap (bytes): committed, outside it, and per V8 space; the process's VmRSS. */
  memory: {
    heapTotal: number;
    external: number;
    arrayBuffers: number;
    processRss: number;
    spaces: Record<string, { used: number; committed: number }>;
  };
  /** Files cut into chunks by their syntax tree, and by lines (no grammar, too large or small, or `failed`: parse failed). */
  chunkedFiles: { syntax: number; lines: number; failed: number };
  folders: Array<{ key: string; files: number; chunks: number; ready: boolean }>;
}

export type Reply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: string }
  | { id: number; progress: { done: number; total: number } };
