// Codebase context: definitions of the symbols near the cursor for completions (from the language
// servers) and, in trusted workspaces, a local search index of the workspace for chat.
import * as vscode from 'vscode';

import type { EnclaveContext } from '../context';
import type { CompletionContextSource } from '../completion/core';
import { CodebaseCompletionContext } from './completionContext';
import { createDefinitionContext } from './definitionsShell';
import { ChunkEmbedder } from './chunkEmbedder';
import { CodebaseIndexService } from './indexShell';
import type { StoredAttachment } from '../chat/history';
import { retrieveForChat as retrieve } from './chatRetrieval';

export interface Codebase {
  /** Chunks for completion prompts (pass to registerCompletion). */
  completionContext: CompletionContextSource;
  /** Chunks for a chat question (pass to registerChat): with enclave.index.chat, or when it says #codebase. */
  retrieveForChat: (question: string) => Promise<StoredAttachment[]>;
  index: CodebaseIndexService;
  disposable: vscode.Disposable;
}

/** The URIs of the rules files that go into a chat question's system message (chat/index.ts asks for the same). */
async function rulesFiles(ctx: EnclaveContext): Promise<string[]> {
  const active = vscode.window.activeTextEditor?.document.uri;
  const folder = active ? vscode.workspace.getWorkspaceFolder(active) : vscode.workspace.workspaceFolders?.[0];
  const rules = await ctx.rulesFor(active);
  return folder && rules ? rules.files.map((f) => vscode.Uri.joinPath(folder.uri, f.path).toString()) : [];
}

export function registerCodebase(ctx: EnclaveContext): Codebase {
  const log = ctx.log.for('codebase');
  const { definitions, disposable: definitionEvents } = createDefinitionContext();
  let engineReady = false;
  const embedder = new ChunkEmbedder({
    backend: () => ctx.backend(),
    modelPath: () => ctx.config.embeddingModelPath,
    engineReady: () => engineReady,
    log,
    notify: (message) => void vscode.window.showWarningMessage(`Enclave: ${message}`),
  });
  const index = new CodebaseIndexService(ctx.extension.storageUri ?? ctx.extension.globalStorageUri, log, ctx.trusted, embedder);
  const completionContext = new CodebaseCompletionContext({
    definitions,
    useDefinitions: () => ctx.config.completion.definitions,
    useIndex: () => index.enabled && ctx.config.index.completion,
    search: async (query, limit) =>
      (await index.retrieve(query, limit)).map((c) => ({ path: c.path, uri: c.uri.toString(), text: c.text })),
    log,
  });

  // After startup has settled: the index is never in the way of activation.
  const startTimer = setTimeout(() => void index.start().catch((err: unknown) => log.warn(`index: ${String(err)}`)), 3_000);
  const retrieveForChat = async (question: string): Promise<StoredAttachment[]> => {
    const found = await retrieve(question, {
      enabled: () => ctx.config.index.chat,
      search: async (query, limit) => (await index.retrieve(query, limit, true)).map((c) => ({ ...c, uri: c.uri.toString() })),
      rulesFiles: () => rulesFiles(ctx),
    });
    log.debug(`chat retrieval: ${found.length} chunk(s) for ${JSON.stringify(question.slice(0, 80))}`);
    return found;
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
