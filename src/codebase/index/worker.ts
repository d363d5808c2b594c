// The index worker (a worker_threads Worker started by indexShell through client.ts): it owns the
// workspace folders' indexes and does all their work — load, build, updates from file events,
// queries, save — so that no slice of it ever runs on the extension host's thread.
import { parentPort } from 'node:worker_threads';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { buildIndex, CorruptIndexError, loadIndex, saveIndex, updateFile } from './builder';
import type { FolderHit, FolderSpec, OpenResult, Reply, Request, WorkerStats } from './protocol';
import { SearchIndex } from './searchIndex';
import { SyntaxChunker } from './syntaxChunk';
import { forgetSplits } from './terms';
import { PathFilter } from './walk';
import { closeVectors, discardVectors, fusedQuery, openVectors, pendingChunks, putVectors, saveVectors } from './workerVectors';

interface Folder {
  spec: FolderSpec;
  index: SearchIndex;
  filter: PathFilter;
  ready: boolean;
  dirty: boolean;
  build?: AbortController;
}

const folders = new Map<string, Folder>();
/** One for all folders: the tree-sitter runtime and each grammar load once, on first use. */
const chunker = new SyntaxChunker();

/** The folder's way of cutting files into chunks (undefined: by lines). */
const chunkFile = (spec: FolderSpec) => (spec.chunking === 'lines' ? undefined : (path: string, text: string) => chunker.chunk(path, text));

/**
 * A full garbage collection on demand (the extension host runs without --expose-gc; the flag only
 * reaches contexts made while it is set). A build left to V8 ends with the heap's pages a third
 * garbage: the index's maps drop their old tables each time they grow. A collection every 500
 * files lets the next ones reuse that space: 60 MB less resident memory for 10,000 files (the
 * bench's build time did not change).
 */
const collect = ((): (() => void) => {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return exposed;
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return () => undefined;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
})();

function folder(key: string): Folder {
  const found = folders.get(key);
  if (!found) throw new Error(`no index open for ${key}`);
  return found;
}

async function open(spec: FolderSpec, rebuild: boolean): Promise<OpenResult> {
  folders.get(spec.key)?.build?.abort();
  let index: SearchIndex | undefined;
  let corrupt: string | undefined;
  if (!rebuild) {
    try {
      index = await loadIndex(spec.file, collect);
      collect();
    } catch (err) {
      if (!(err instanceof CorruptIndexError)) throw err;
      corrupt = err.message;
    }
  }
  if (!index) await discardVectors(spec.key, spec.file);
  folders.set(spec.key, {
    spec,
    index: index ?? new SearchIndex(),
    filter: new PathFilter(spec.root, spec.exclude),
    ready: !!index,
    dirty: false,
  });
  return corrupt ? { loaded: false, corrupt } : { loaded: !!index };
}

async function build(key: string, fresh: boolean, progress: (done: number, total: number) => void) {
  const entry = folder(key);
  entry.build?.abort();
  const controller = new AbortController();
  entry.build = controller;
  try {
    const before = { ...chunker.counts };
    // Slices of 50 ms: nothing waits on this thread but the next message (a cancel, a query).
    const result = await buildIndex(entry.index, {
      root: entry.spec.root,
      exclude: entry.spec.exclude,
      maxFiles: entry.spec.maxFiles,
      signal: controller.signal,
      sliceMs: 50,
      collect,
      chunk: chunkFile(entry.spec),
      onProgress: ({ done, total }) => progress(done, total),
    });
    entry.ready = true;
    forgetSplits();
    collect();
    if (result.indexed || result.removed || fresh) {
      await saveIndex(entry.spec.file, entry.index);
      entry.dirty = false;
    }
    return {
      ...result,
      chunks: entry.index.chunkCount,
      parsed: chunker.counts.syntax - before.syntax,
      parseFailed: chunker.counts.failed - before.failed,
      parser: entry.spec.chunking === 'lines' || (await chunker.available()),
    };
  } finally {
    if (entry.build === controller) entry.build = undefined;
  }
}

async function change(key: string, path: string): Promise<boolean> {
  const entry = folders.get(key);
  if (!entry?.ready) return false;
  if (path.endsWith('.gitignore')) entry.filter.forget();
  if (!(await entry.filter.allows(path))) {
    if (entry.index.removeFile(path)) entry.dirty = true;
    return false;
  }
  if (entry.index.fileCount >= entry.spec.maxFiles && !entry.index.has(path)) return false;
  await updateFile(entry.index, entry.spec.root, join(entry.spec.root, path), undefined, chunkFile(entry.spec));
  entry.dirty = true;
  return true;
}

function query(text: string, limit: number, perFile: number, vector?: number[]): FolderHit[] {
  const scored: FolderHit[] = [];
  for (const [key, entry] of folders)
    if (entry.ready) for (const hit of fusedQuery(key, entry.index, text, vector, limit, perFile)) scored.push({ key, hit });
  return scored.sort((a, b) => b.hit.score - a.hit.score).slice(0, limit);
}

async function save(): Promise<void> {
  for (const entry of folders.values())
    if (entry.dirty && entry.ready) {
      entry.dirty = false;
      await saveIndex(entry.spec.file, entry.index);
    }
  await saveVectors();
}

function stats(): WorkerStats {
  // Only where the process runs with --expose-gc (the bench): figures without garbage.
  (globalThis as { gc?: () => void }).gc?.();
  const { heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage();
  const spaces = Object.fromEntries(
    getHeapSpaceStatistics().map((s) => [s.space_name, { used: s.space_used_size, committed: s.physical_space_size }]),
  );
  return {
    heapUsed,
    memory: { heapTotal, external, arrayBuffers, processRss: residentBytes(), spaces },
    chunkedFiles: { ...chunker.counts },
    folders: [...folders].map(([key, f]) => ({ key, files: f.index.fileCount, chunks: f.index.chunkCount, ready: f.ready })),
  };
}

/** The whole process's resident memory as the kernel counts it (VmRSS); 0 where there is no /proc. */
function residentBytes(): number {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

async function handle(request: Request, progress: (done: number, total: number) => void): Promise<unknown> {
  switch (request.op) {
    case 'open':
      return open(request.folder, request.rebuild);
    case 'build':
      return build(request.key, request.fresh, progress);
    case 'cancel':
      folders.get(request.key)?.build?.abort();
      return undefined;
    case 'change':
      return change(request.key, request.path);
    case 'query':
      return query(request.text, request.limit, request.perFile, request.vector);
    case 'vectorsOpen':
      return openVectors(request.key, folder(request.key).spec.file, request.model, folder(request.key).index);
    case 'vectorsPending':
      return pendingChunks(request.key, folder(request.key).spec.root, folder(request.key).index, request.limit);
    case 'vectorsPut':
      return putVectors(request.key, request.model, folder(request.key).index, request.ids, request.vectors);
    case 'save':
      return save();
    case 'retain':
      for (const [key, entry] of folders)
        if (!request.keys.includes(key)) {
          entry.build?.abort();
          folders.delete(key);
          closeVectors(key);
        }
      return undefined;
    case 'stats':
      return stats();
  }
}

const port = parentPort;
if (!port) throw new Error('the index worker runs in a worker thread');
port.on('message', (message: { id: number; request: Request }) => {
  const { id, request } = message;
  const send = (reply: Reply) => port.postMessage(reply);
  handle(request, (done, total) => send({ id, progress: { done, total } })).then(
    (value) => send({ id, ok: true, value }),
    (err: unknown) => send({ id, ok: false, error: err instanceof Error ? err.message : String(err) }),
  );
});
