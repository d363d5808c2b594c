// Codebase context: definitions of the symbols near the cursor for completions (from the language
// servers) and, in trusted workspaces, a local search index of the workspace for chat.
import * as vscode from 'vscode';

import type { EnclaveContext } from '../context';
import type { CompletionContextSource, CompletionRequest } from '../completion/core';
import type { FileChunk } from '../completion/templates';
import { HASH_COMMENT_LANGUAGES } from './identifiers';
import { createDefinitionContext } from './definitionsShell';
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
  const completionContext: CompletionContextSource = {
    prepare: (request, text, offset, signal) =>
      setting('completion.definitions', true) ? definitions.prepare(request.uri, text, offset, hash(request), signal) : Promise.resolve(),
    chunks: (request, text, offset): FileChunk[] => {
      if (!setting('completion.definitions', true)) return [];
      const chunks = definitions.chunks(request.uri, text, offset, hash(request));
      const { lookups, timeouts, failures } = definitions.counters;
      if (timeouts + failures > reported) {
        reported = timeouts + failures;
        log.debug(`definitions: ${lookups} lookups, ${timeouts} timed out, ${failures} failed`);
      }
      return chunks;
    },
  };

  const index = new CodebaseIndexService(ctx.extension.storageUri ?? ctx.extension.globalStorageUri, log, ctx.trusted);
  // After startup has settled: the index is never in the way of activation.
  const startTimer = setTimeout(() => void index.start().catch((err: unknown) => log.warn(`index: ${String(err)}`)), 3_000);
  const retrieveForChat = async (question: string): Promise<StoredAttachment[]> => {
    const explicit = CODEBASE_MENTION.test(question);
    if (!explicit && !setting('index.chat', true)) return [];
    const query = question.replace(CODEBASE_MENTION, ' ');
    const chunks = await index.retrieve(query, 4);
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
  return {
    completionContext,
    retrieveForChat,
    index,
    disposable: vscode.Disposable.from(definitionEvents, index, rebuild, { dispose: () => clearTimeout(startTimer) }),
  };
}
