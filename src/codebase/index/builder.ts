// Building and updating the index from the files on disk, in slices of a few milliseconds with a
// yield to the event loop between them, so the extension host stays responsive throughout.
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
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
  /** A full garbage collection, run after every `collectEvery` files indexed (see worker.ts). */
  collect?: () => void;
  collectEvery?: number;
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
          if (++indexed % (options.collectEvery ?? 500) === 0) options.collect?.();
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
  // The pieces are small: gathered in one reused buffer, written a megabyte at a time.
  const buffer = Buffer.allocUnsafe(1 << 20);
  let used = 0;
  try {
    for (const piece of index.jsonPieces()) {
      if (used + piece.length * 3 > buffer.length) {
        writeSync(fd, buffer, 0, used);
        used = 0;
      }
      if (piece.length * 3 > buffer.length) writeSync(fd, piece);
      else used += buffer.write(piece, used);
    }
    writeSync(fd, buffer, 0, used);
  } finally {
    closeSync(fd);
  }
  await rename(temp, file);
}

/**
 * The stored index, undefined when there is none; CorruptIndexError when it cannot be used.
 * `collect` (a full garbage collection) runs every 20 lines: what MiniSearch's maps outgrow as
 * they are filled goes before the next lines are parsed.
 */
export async function loadIndex(file: string, collect?: () => void): Promise<SearchIndex | undefined> {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    return SearchIndex.fromLines(linesOf(fd, collect));
  } catch (err) {
    if (err instanceof CorruptIndexError) throw err;
    return undefined; // unreadable (a folder, an I/O error): as if there were none
  } finally {
    closeSync(fd);
  }
}

/** A file's lines of UTF-8 text, read a megabyte at a time: the whole file is never in memory. */
function* linesOf(fd: number, collect?: () => void): Generator<string> {
  const buffer = Buffer.allocUnsafe(1 << 20);
  let parts: Buffer[] = [];
  let lines = 0;
  for (let read = readSync(fd, buffer); read > 0; read = readSync(fd, buffer)) {
    const bytes = buffer.subarray(0, read);
    let start = 0;
    for (let newline = bytes.indexOf(10); newline !== -1; newline = bytes.indexOf(10, start)) {
      parts.push(bytes.subarray(start, newline));
      yield Buffer.concat(parts).toString('utf8');
      parts = [];
      start = newline + 1;
      if (++lines % 20 === 0) collect?.();
    }
    if (start < read) parts.push(Buffer.from(bytes.subarray(start)));
  }
  if (parts.length) yield Buffer.concat(parts).toString('utf8');
}

export { CorruptIndexError };
export { readHit } from './hits';
