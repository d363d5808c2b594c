// Codebase context: definitions of the symbols near the cursor for completions (from the language
// servers) and, in trusted workspaces, a local search index of the workspace for chat.
import * as vscode from 'vscode';

import type { EnclaveContext } from '../context';
import type { CompletionContextSource, CompletionRequest } from '../completion/core';
import type { FileChunk } from '../completion/templates';
import { HASH_COMMENT_LANGUAGES, identifiersNear } from './identifiers';
import { createDefinitionContext } from './definitionsShell';
import { ChunkEmbedder } from './chunkEmbedder';
import { CodebaseIndexService } from './indexShell';
import type { StoredAttachment } from '../chat/history';
import { newId } from '../chat/history';

export interface Codebase {
  /** Chunks for completion prompts (pass to registerCompletion). */
  completionContext: CompletionContextSource;
  /** Chunks for a chat question (pass to registerChat): with enclave.index.chat, or when it says #codebase. */
  retrieveForChat: (question: string) => Promise<StoredAttachment[]>;
  index: CodebaseIndexService;
  disposable: vscode.Disposable;
}

/** Asks for codebase context explicitly, whatever enclave.index.chat says. */
export const CODEBASE_MENTION = /(^|\s)#codebase\b/i;

const setting = <T>(key: string, fallback: T): T => vscode.workspace.getConfiguration('enclave').get<T>(key, fallback);

export function registerCodebase(ctx: EnclaveContext): Codebase {
  const log = ctx.log.for('codebase');
  const { definitions, disposable: definitionEvents } = createDefinitionContext();
  const hash = (request: CompletionRequest) => HASH_COMMENT_LANGUAGES.has(request.languageId);
  let reported = 0;
  let engineReady = false;
  const embedder = new ChunkEmbedder({
    backend: () => ctx.backend(),
    modelPath: () => ctx.config.embeddingModelPath,
    engineReady: () => engineReady,
    log,
    notify: (message) => void vscode.window.showWarningMessage(`Enclave: ${message}`),
  });
  const index = new CodebaseIndexService(ctx.extension.storageUri ?? ctx.extension.globalStorageUri, log, ctx.trusted, embedder);
  // The index's best chunk for the names near the cursor, per document: looked up in the
  // background and used from the next keystroke on (reading it from disk never delays a prompt).
  const indexChunks = new Map<string, { query: string; chunk?: FileChunk }>();
  const lookUpIndexChunk = (request: CompletionRequest, text: string, offset: number) => {
    if (!index.enabled) return;
    const names = identifiersNear(text, offset, { max: 6, hashComments: hash(request) }).map((n) => n.name);
    const query = names.join(' ');
    const known = indexChunks.get(request.uri);
    if (!query || known?.query === query) return;
    const entry: { query: string; chunk?: FileChunk } = { query, chunk: known?.chunk };
    indexChunks.delete(request.uri);
    indexChunks.set(request.uri, entry);
    if (indexChunks.size > 32) indexChunks.delete(indexChunks.keys().next().value as string);
    const own = request.path;
    void index.retrieve(query, 3).then(
      (found) => {
        const best = found.find((c) => c.path !== own && c.uri.toString() !== request.uri);
        entry.chunk = best && { path: best.path, text: best.text.split('\n').slice(0, 40).join('\n') };
      },
      () => undefined,
    );
  };
  const completionContext: CompletionContextSource = {
    prepare: (request, text, offset, signal) => {
      lookUpIndexChunk(request, text, offset);
      return setting('completion.definitions', true)
        ? definitions.prepare(request.uri, text, offset, hash(request), signal)
        : Promise.resolve();
    },
    chunks: (request, text, offset): FileChunk[] => {
      const fromIndex = index.enabled ? indexChunks.get(request.uri)?.chunk : undefined;
      if (!setting('completion.definitions', true)) return fromIndex ? [fromIndex] : [];
      const chunks: FileChunk[] = definitions.chunks(request.uri, text, offset, hash(request));
      const { lookups, timeouts, failures } = definitions.counters;
      if (timeouts + failures > reported) {
        reported = timeouts + failures;
        log.debug(`definitions: ${lookups} lookups, ${timeouts} timed out, ${failures} failed`);
      }
      // A definition says more than a search hit from the same file: the hit goes only when new.
      if (fromIndex && !chunks.some((c) => c.path === fromIndex.path)) chunks.push(fromIndex);
      return chunks;
    },
  };

  // After startup has settled: the index is never in the way of activation.
  const startTimer = setTimeout(() => void index.start().catch((err: unknown) => log.warn(`index: ${String(err)}`)), 3_000);
  const retrieveForChat = async (question: string): Promise<StoredAttachment[]> => {
    const explicit = CODEBASE_MENTION.test(question);
    if (!explicit && !setting('index.chat', true)) return [];
    const query = question.replace(CODEBASE_MENTION, ' ');
    const chunks = await index.retrieve(query, 4, true);
    log.debug(`chat retrieval: ${chunks.length} chunk(s) for ${JSON.stringify(query.slice(0, 80))}`);
    return chunks.map((c) => ({
      id: newId(Date.now()),
      kind: 'codebase',
      label: `${c.path.split('/').pop()}:${c.startLine + 1}-${c.endLine}`,
      path: c.path,
      uri: c.uri.toString(),
      range: { startLine: c.startLine, startCharacter: 0, endLine: Math.max(c.startLine, c.endLine - 1), endCharacter: 0 },
      content: c.text,
    }));
  };
  const rebuild = vscode.commands.registerCommand('enclave.index.rebuild', async () => {
    if (!index.enabled) {
      void vscode.window.showInformationMessage('The codebase index needs a trusted workspace and enclave.index.enabled.');
      return;
    }
    await index.start(true);
  });
  const embeddingModel = ctx.config.onDidChange((e) => {
    if (e.affectsConfiguration('enclave.index.embeddingPath')) index.restartEmbeddings();
  });
  const stopWatchingEngine = ctx.onBackendState((state) => {
    engineReady = state.kind === 'ready';
    if (engineReady) index.resumeEmbeddings();
  });
  return {
    completionContext,
    retrieveForChat,
    index,
    disposable: vscode.Disposable.from(
      definitionEvents,
      index,
      rebuild,
      embeddingModel,
      { dispose: stopWatchingEngine },
      { dispose: () => clearTimeout(startTimer) },
    ),
  };
}
