// Building and updating the index from the files on disk, in slices of a few milliseconds with a
// yield to the event loop between them, so the extension host stays responsive throughout.
import { closeSync, openSync, writeSync } from 'node:fs';
import { lstat, mkdir, readFile, rename } from 'node:fs/promises';
import { threadId } from 'node:worker_threads';
import { dirname, join, relative, sep } from 'node:path';

import type { Chunk } from './chunk';
import { looksBinary, walkWorkspace, type WalkOptions } from './walk';
import { CorruptIndexError, SearchIndex } from './searchIndex';

export interface BuildProgress {
  done: number;
  total: number;
}

export interface BuildResult {
  files: number;
  indexed: number;
  removed: number;
  capped: boolean;
  ms: number;
}

export interface BuildOptions extends WalkOptions {
  onProgress?: (progress: BuildProgress) => void;
  /** Work this long between yields (ms). */
  sliceMs?: number;
  /** Cuts a file into chunks (SyntaxChunker); by lines when absent. */
  chunk?: ChunkFile;
}

export type ChunkFile = (path: string, text: string) => Promise<Chunk[]>;

const yieldToEventLoop = () => new Promise((resolve) => setImmediate(resolve));

/** The file's text when it is indexable: inside the size limit and not binary. */
async function readText(absolute: string, maxBytes: number): Promise<{ text: string; mtimeMs: number; size: number } | undefined> {
  const stat = await lstat(absolute);
  if (!stat.isFile() || stat.size > maxBytes) return undefined;
  const bytes = await readFile(absolute);
  if (looksBinary(bytes)) return undefined;
  return { text: bytes.toString('utf8'), mtimeMs: stat.mtimeMs, size: stat.size };
}

/** Brings `index` up to date with the workspace: new and changed files indexed, vanished ones removed. */
export async function buildIndex(index: SearchIndex, options: BuildOptions): Promise<BuildResult> {
  const started = performance.now();
  const walked = await walkWorkspace(options);
  const maxBytes = options.maxFileBytes ?? 1_000_000;
  const seen = new Set<string>();
  let indexed = 0;
  let slice = performance.now();
  for (let i = 0; i < walked.files.length; i++) {
    if (options.signal?.aborted) throw new Error('cancelled');
    const file = walked.files[i];
    seen.add(file.path);
    if (!index.isCurrent(file.path, file)) {
      try {
        const read = await readText(join(options.root, file.path), maxBytes);
        if (read) {
          index.setFile(file.path, read.text, read, await options.chunk?.(file.path, read.text));
          indexed++;
        } else index.removeFile(file.path);
      } catch {
        index.removeFile(file.path); // deleted or unreadable since the walk
      }
    }
    if (performance.now() - slice > (options.sliceMs ?? 12)) {
      options.onProgress?.({ done: i + 1, total: walked.files.length });
      await yieldToEventLoop();
      slice = performance.now();
    }
  }
  let removed = 0;
  for (const path of index.paths()) if (!seen.has(path) && index.removeFile(path)) removed++;
  options.onProgress?.({ done: walked.files.length, total: walked.files.length });
  return { files: walked.files.length, indexed, removed, capped: walked.capped, ms: performance.now() - started };
}

/** Re-indexes one file after it changed (or removes it); false when it is outside `root`. */
export async function updateFile(
  index: SearchIndex,
  root: string,
  absolute: string,
  maxBytes = 1_000_000,
  chunk?: ChunkFile,
): Promise<boolean> {
  const path = relative(root, absolute);
  if (!path || path.startsWith('..') || path.startsWith(sep) || /^[a-zA-Z]:/.test(path)) return false;
  const key = path.split(sep).join('/');
  try {
    const read = await readText(absolute, maxBytes);
    if (read) index.setFile(key, read.text, read, await chunk?.(key, read.text));
    else index.removeFile(key);
  } catch {
    index.removeFile(key);
  }
  return true;
}

/**
 * Writes the index atomically (a temp file renamed over the old one), piece by piece. Synchronous
 * writes: the index must not change while it is written, and this runs in the index worker, where
 * nothing else waits than the next request.
 */
export async function saveIndex(file: string, index: SearchIndex): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.${threadId}.tmp`;
  const fd = openSync(temp, 'w');
  try {
    for (const piece of index.jsonPieces()) writeSync(fd, piece);
  } finally {
    closeSync(fd);
  }
  await rename(temp, file);
}

/** The stored index, undefined when there is none; CorruptIndexError when it cannot be used. */
export async function loadIndex(file: string): Promise<SearchIndex | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  return SearchIndex.fromJSON(text);
}

export { CorruptIndexError };
export { readHit } from './hits';
