// Definitions of the symbols near the cursor as extra prompt chunks. The language server answers in
// its own time, so lookups run ahead (on every request, for the names not known yet) and a request
// waits for them only within a small budget; a server that hangs or throws costs a skipped chunk,
// never a late completion. Answers are cached per symbol until a file they came from changes.
import type { ContextChunk } from '../completion/extraContext';
import { identifiersNear, type NearOptions } from './identifiers';
import { definitionSnippet, type SnippetOptions } from './snippet';

export interface DefinitionLocation {
  uri: string;
  /** The path shown to the model (workspace-relative). */
  path: string;
  /** 0-based line of the definition's name. */
  line: number;
}

/** The language server, seen through what this needs (the vscode shell implements it). */
export interface DefinitionLookup {
  /** Where the symbol at `offset` of document `uri` is defined (definitions outside the workspace left out). */
  find(uri: string, offset: number, name: string): Promise<DefinitionLocation[]>;
  /** The current text of a file with a definition, undefined when it cannot be read. */
  read(uri: string): Promise<string | undefined>;
}

export interface DefinitionContextOptions {
  lookup: DefinitionLookup;
  /** How long a request waits for lookups in flight (ms). */
  budgetMs?: number;
  /** A lookup not answered by then counts as failed (ms). */
  lookupTimeoutMs?: number;
  /** After this many timeouts in a row, lookups pause for `pauseMs` (a hung server is not asked again and again). */
  timeoutsBeforePause?: number;
  pauseMs?: number;
  /** Failed symbols are asked again after this long (ms). */
  retryMs?: number;
  maxInFlight?: number;
  /** Symbols kept (least recently used dropped first). */
  capacity?: number;
  /** Most chunks in one prompt. */
  maxChunks?: number;
  /** Definitions per symbol (overloads, declaration merging). */
  maxPerSymbol?: number;
  /** Same-document definitions this many lines around the cursor are already in the prompt's window. */
  windowLinesBefore?: number;
  windowLinesAfter?: number;
  snippet?: SnippetOptions;
  near?: NearOptions;
  now?: () => number;
}

interface Entry {
  /** When the symbol was first resolved: chunks go into prompts in this order, so old ones stay put. */
  seq: number;
  state: 'pending' | 'done' | 'failed';
  settled: Promise<void>;
  snippets: Array<{ uri: string; path: string; text: string; startLine: number; endLine: number }>;
  failedAt?: number;
}

export interface DefinitionCounters {
  lookups: number;
  timeouts: number;
  failures: number;
  hits: number;
}

export class DefinitionContext {
  private readonly entries = new Map<string, Entry>();
  private inFlight = 0;
  private seq = 0;
  private timeoutsInRow = 0;
  private pausedUntil = 0;
  readonly counters: DefinitionCounters = { lookups: 0, timeouts: 0, failures: 0, hits: 0 };
  private readonly now: () => number;

  constructor(private readonly options: DefinitionContextOptions) {
    this.now = options.now ?? (() => performance.now());
  }

  private key(uri: string, name: string): string {
    return `${uri}\u0000${name}`;
  }

  private near(text: string, offset: number, hashComments: boolean) {
    return identifiersNear(text, offset, { ...this.options.near, hashComments });
  }

  /** Starts lookups for the names near the cursor that are not known yet; returns what they settle on. */
  prefetch(uri: string, text: string, offset: number, hashComments = false): Promise<void>[] {
    const waits: Promise<void>[] = [];
    const now = this.now();
    for (const { name, offset: at } of this.near(text, offset, hashComments)) {
      const key = this.key(uri, name);
      const known = this.entries.get(key);
      if (known && !(known.state === 'failed' && now - (known.failedAt ?? 0) > (this.options.retryMs ?? 30_000))) {
        if (known.state === 'pending') waits.push(known.settled);
        continue;
      }
      if (now < this.pausedUntil || this.inFlight >= (this.options.maxInFlight ?? 8)) continue;
      const entry = this.start(uri, name, at);
      this.entries.set(key, entry);
      this.evict();
      waits.push(entry.settled);
    }
    return waits;
  }

  /** Prefetches, then waits for the lookups in flight for at most the budget (or until `signal` aborts). */
  async prepare(uri: string, text: string, offset: number, hashComments = false, signal?: AbortSignal): Promise<void> {
    const waits = this.prefetch(uri, text, offset, hashComments);
    if (waits.length === 0 || signal?.aborted) return;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    await Promise.race([
      Promise.all(waits),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.options.budgetMs ?? 60);
        onAbort = resolve;
        signal?.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }

  /**
   * The known definitions of the names near the cursor as prompt chunks: nearest names chosen, in
   * the order they were first resolved (a stable prompt head), each definition once, none that the
   * document's own window around the cursor already shows.
   */
  chunks(uri: string, text: string, offset: number, hashComments = false): ContextChunk[] {
    const cursorLine = countLines(text, offset);
    const before = this.options.windowLinesBefore ?? 80;
    const after = this.options.windowLinesAfter ?? 40;
    const chosen: Array<{ seq: number; chunk: ContextChunk }> = [];
    const seen = new Set<string>();
    for (const { name } of this.near(text, offset, hashComments)) {
      const entry = this.entries.get(this.key(uri, name));
      if (entry?.state !== 'done') continue;
      // Recently used: move to the end of the LRU order.
      this.entries.delete(this.key(uri, name));
      this.entries.set(this.key(uri, name), entry);
      for (const s of entry.snippets) {
        const id = `${s.uri}:${s.startLine}`;
        if (seen.has(id)) continue;
        if (s.uri === uri && s.endLine >= cursorLine - before && s.startLine <= cursorLine + after) continue;
        seen.add(id);
        chosen.push({ seq: entry.seq, chunk: { uri: s.uri, path: s.path, text: s.text } });
      }
      if (chosen.length >= (this.options.maxChunks ?? 6)) break;
    }
    if (chosen.length) this.counters.hits++;
    return chosen
      .slice(0, this.options.maxChunks ?? 6)
      .sort((a, b) => a.seq - b.seq)
      .map((c) => c.chunk);
  }

  /** Forgets every symbol whose definitions came from `uri` (call when that file changed). */
  invalidateFile(uri: string): void {
    for (const [key, entry] of this.entries) {
      if (entry.state === 'done' && entry.snippets.some((s) => s.uri === uri)) this.entries.delete(key);
    }
  }

  /** Forgets everything asked from the document `uri` (closed) or, without one, everything. */
  clear(uri?: string): void {
    if (!uri) return this.entries.clear();
    for (const key of this.entries.keys()) if (key.startsWith(`${uri}\u0000`)) this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }

  private start(uri: string, name: string, offset: number): Entry {
    this.inFlight++;
    this.counters.lookups++;
    const entry: Entry = { seq: this.seq++, state: 'pending', snippets: [], settled: Promise.resolve() };
    const timeoutMs = this.options.lookupTimeoutMs ?? 3_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const work = this.resolve(uri, name, offset);
    entry.settled = Promise.race([work, timedOut]).then(
      (result) => {
        if (result === 'timeout') {
          this.counters.timeouts++;
          if (++this.timeoutsInRow >= (this.options.timeoutsBeforePause ?? 3)) {
            this.pausedUntil = this.now() + (this.options.pauseMs ?? 30_000);
            this.timeoutsInRow = 0;
          }
          entry.state = 'failed';
          entry.failedAt = this.now();
          return;
        }
        this.timeoutsInRow = 0;
        entry.snippets = result;
        entry.state = 'done';
      },
      () => {
        this.counters.failures++;
        entry.state = 'failed';
        entry.failedAt = this.now();
      },
    );
    void entry.settled.finally(() => {
      clearTimeout(timer);
      this.inFlight--;
    });
    return entry;
  }

  private async resolve(uri: string, name: string, offset: number): Promise<Entry['snippets']> {
    const { lookup } = this.options;
    const locations = (await lookup.find(uri, offset, name)).slice(0, this.options.maxPerSymbol ?? 2);
    const snippets: Entry['snippets'] = [];
    for (const location of locations) {
      const text = await lookup.read(location.uri);
      if (text === undefined) continue;
      const snippet = definitionSnippet(text, location.line, this.options.snippet);
      if (snippet.text.trim()) snippets.push({ uri: location.uri, path: location.path, ...snippet });
    }
    return snippets;
  }

  private evict(): void {
    const capacity = this.options.capacity ?? 256;
    for (const [key, entry] of this.entries) {
      if (this.entries.size <= capacity) break;
      if (entry.state !== 'pending') this.entries.delete(key);
    }
  }
}

function countLines(text: string, end: number): number {
  let count = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < end; i = text.indexOf('\n', i + 1)) count++;
  return count;
}
