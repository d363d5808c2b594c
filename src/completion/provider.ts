import * as vscode from 'vscode';

import type { Config } from '../config';
import { inlineArbiter } from '../nextEdit/arbiter';
import type { CompletionCore, CompletionOutcome, CompletionRequest, CompletionSettings } from './core';

export function completionSettings(config: Config): CompletionSettings {
  const c = config.completion;
  return {
    maxLines: c.maxLines,
    maxTokens: c.maxTokens,
    maxTimeMs: c.maxTimeMs,
    contextTokens: c.contextTokens,
    extraContext: c.extraContext,
    debounceMs: c.debounceMs,
    speculative: c.speculative,
  };
}

/** Runs when a suggestion is accepted (the item's command); its argument is an AcceptedSuggestion. */
export const ACCEPTED_COMMAND = 'enclave.completion.didAccept';

/** What was inserted where: the document, the offset of the suggestion's range start and the text. */
export interface AcceptedSuggestion {
  languageId: string;
  uri: string;
  offset: number;
  text: string;
}

/**
 * Told what the provider shows and what the user accepts (the metrics; optional). Partial accepts
 * (a word, a line) have no stable API: the observer sees them as document edits.
 */
export interface CompletionObserver {
  shown(document: { languageId: string; uri: string }, outcome: CompletionOutcome): void;
  accepted(suggestion: AcceptedSuggestion): void;
}

/** The vscode shell over CompletionCore: documents and positions in, ghost text out. */
export class InlineProvider implements vscode.InlineCompletionItemProvider {
  constructor(
    private readonly core: CompletionCore,
    private readonly config: Config,
    private readonly onOutcome: (outcome: CompletionOutcome) => void = () => {},
    private readonly observer?: CompletionObserver,
  ) {}

  async provideInlineCompletionItems(
    document: vscode.TextDocument,
    position: vscode.Position,
    context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
  ): Promise<vscode.InlineCompletionItem[] | undefined> {
    if (!this.config.completion.enabled || !this.config.isLanguageEnabled(document.languageId)) return undefined;
    const controller = new AbortController();
    const cancellation = token.onCancellationRequested(() => controller.abort());
    try {
      const selected = context.selectedCompletionInfo;
      const outcome = await this.core.provide(
        {
          ...documentRequest(document, position),
          trigger: context.triggerKind === vscode.InlineCompletionTriggerKind.Invoke ? 'manual' : 'automatic',
          selected: selected && {
            start: document.offsetAt(selected.range.start),
            end: document.offsetAt(selected.range.end),
            text: selected.text,
          },
        },
        controller.signal,
      );
      this.onOutcome(outcome);
      if (token.isCancellationRequested || outcome.items.length === 0) return undefined;
      // Never together with a next-edit suggestion on this version of the document.
      if (!inlineArbiter.completionMayShow(document.uri.toString(), document.version)) return undefined;
      this.observer?.shown({ languageId: document.languageId, uri: document.uri.toString() }, outcome);
      return outcome.items.map((item) => {
        const shown = new vscode.InlineCompletionItem(
          item.text,
          new vscode.Range(document.positionAt(item.start), document.positionAt(item.end)),
        );
        if (this.observer) {
          const accepted = { languageId: document.languageId, uri: document.uri.toString(), offset: item.start, text: item.text };
          shown.command = { command: ACCEPTED_COMMAND, title: 'Accepted', arguments: [accepted] };
        }
        return shown;
      });
    } finally {
      cancellation.dispose();
    }
  }
}

/** What the core needs of a document and a place in it (the trigger aside). */
export function documentRequest(document: vscode.TextDocument, position: vscode.Position): Omit<CompletionRequest, 'trigger' | 'selected'> {
  const editor = vscode.window.activeTextEditor;
  return {
    text: document.getText(),
    offset: document.offsetAt(position),
    languageId: document.languageId,
    uri: document.uri.toString(),
    path: vscode.workspace.asRelativePath(document.uri, false),
    repoName: vscode.workspace.getWorkspaceFolder(document.uri)?.name ?? '',
    tabSize: editor?.document === document && typeof editor.options.tabSize === 'number' ? editor.options.tabSize : undefined,
  };
}
