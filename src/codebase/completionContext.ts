// Codebase chunks for completion prompts, free of vscode: the definitions of the names near the
// cursor (language server, within a time budget) and, after them, the index's best chunk for those
// names. The index chunk is looked up in the background and used from the next keystroke on, so
// reading it from disk never delays a prompt; a definition from the same file says more and
// replaces it.
import type { CompletionContextSource, CompletionRequest } from '../completion/core';
import type { FileChunk } from '../completion/templates';
import type { Logger } from '../logger';
import type { DefinitionContext } from './definitions';
import { HASH_COMMENT_LANGUAGES, identifiersNear } from './identifiers';

export interface IndexHit {
  path: string;
  /** The file's URI as a string (the current document's hits are left out). */
  uri: string;
  text: string;
}

export interface CodebaseCompletionOptions {
  definitions: DefinitionContext;
  /** Read at each request: enclave.completion.definitions. */
  useDefinitions: () => boolean;
  /** Read at each request: the index is on (trusted workspace) and enclave.index.completion. */
  useIndex: () => boolean;
  /** The index's best chunks for a query of identifiers. */
  search: (query: string, limit: number) => Promise<IndexHit[]>;
  /** Lines of the index chunk kept (it goes after the definitions; bounded like them). */
  indexChunkLines?: number;
  log?: Logger;
}

interface IndexEntry {
  query: string;
  chunk?: FileChunk;
}

export class CodebaseCompletionContext implements CompletionContextSource {
  /** Per document: the last query of names near the cursor and the chunk it found (LRU, bounded). */
  private readonly indexChunks = new Map<string, IndexEntry>();
  private reported = 0;

  constructor(private readonly options: CodebaseCompletionOptions) {}

  private static hashComments(request: CompletionRequest): boolean {
    return HASH_COMMENT_LANGUAGES.has(request.languageId);
  }

  prepare(request: CompletionRequest, text: string, offset: number, signal: AbortSignal): Promise<void> {
    this.lookUpIndexChunk(request, text, offset);
    if (!this.options.useDefinitions()) return Promise.resolve();
    return this.options.definitions.prepare(request.uri, text, offset, CodebaseCompletionContext.hashComments(request), signal);
  }

  chunks(request: CompletionRequest, text: string, offset: number): FileChunk[] {
    const fromIndex = this.options.useIndex() ? this.indexChunks.get(request.uri)?.chunk : undefined;
    if (!this.options.useDefinitions()) return fromIndex ? [fromIndex] : [];
    const { definitions } = this.options;
    const chunks: FileChunk[] = definitions.chunks(request.uri, text, offset, CodebaseCompletionContext.hashComments(request));
    const { lookups, timeouts, failures } = definitions.counters;
    if (timeouts + failures > this.reported) {
      this.reported = timeouts + failures;
      this.options.log?.debug(`definitions: ${lookups} lookups, ${timeouts} timed out, ${failures} failed`);
    }
    // A definition says more than a search hit from the same file: the hit goes only when new.
    if (fromIndex && !chunks.some((c) => c.path === fromIndex.path)) chunks.push(fromIndex);
    return chunks;
  }

  private lookUpIndexChunk(request: CompletionRequest, text: string, offset: number): void {
    if (!this.options.useIndex()) return;
    const names = identifiersNear(text, offset, { max: 6, hashComments: CodebaseCompletionContext.hashComments(request) }).map(
      (n) => n.name,
    );
    const query = names.join(' ');
    const known = this.indexChunks.get(request.uri);
    if (!query || known?.query === query) return;
    const entry: IndexEntry = { query, chunk: known?.chunk };
    this.indexChunks.delete(request.uri);
    this.indexChunks.set(request.uri, entry);
    if (this.indexChunks.size > 32) this.indexChunks.delete(this.indexChunks.keys().next().value as string);
    const own = request.path;
    const lines = this.options.indexChunkLines ?? 40;
    void this.options.search(query, 3).then(
      (found) => {
        const best = found.find((c) => c.path !== own && c.uri !== request.uri);
        entry.chunk = best && { path: best.path, text: best.text.split('\n').slice(0, lines).join('\n') };
      },
      () => undefined,
    );
  }
}
