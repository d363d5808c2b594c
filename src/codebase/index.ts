// Codebase context: definitions of the symbols near the cursor for completions (from the language
// servers) and, in trusted workspaces, a local search index of the workspace for chat.
import * as vscode from 'vscode';

import type { EnclaveContext } from '../context';
import type { CompletionContextSource, CompletionRequest } from '../completion/core';
import type { FileChunk } from '../completion/templates';
import { HASH_COMMENT_LANGUAGES } from './identifiers';
import { createDefinitionContext } from './definitionsShell';

export interface Codebase {
  /** Chunks for completion prompts (pass to registerCompletion). */
  completionContext: CompletionContextSource;
  disposable: vscode.Disposable;
}

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
  return { completionContext, disposable: vscode.Disposable.from(definitionEvents) };
}
