// `@enclave` in VS Code's own chat view: a chat participant (stable API) answered by the same path
// as the sidebar chat — rules, codebase retrieval, `planReply`, `Backend.chat` — so a local model
// answers there without any sign-in. `/explain`, `/tests` and `/fix` ask the sidebar's prepared
// questions about the selection (or the attached file).
import { LRUCache } from 'lru-cache';
import * as vscode from 'vscode';

import type { EnclaveContext } from '../context';
import { EngineError } from '../engine/protocol';
import type { Logger } from '../logger';
import { errorMessage } from '../util';
import { describeFailure, type ChatControllerOptions } from './controller';
import { diagnosticsIn, fileAttachment, isAttachable, rangeSnapshot } from './editor';
import type { StoredAttachment } from './history';
import { participantQuestion, participantTurns, PARTICIPANT_COMMANDS, type CodeInFocus, type PlainTurn } from './participantTurns';
import { planReply } from './session';

/** package.json `chatParticipants[].id`. */
export const PARTICIPANT_ID = 'enclave.participant';

export function registerChatParticipant(ctx: EnclaveContext, retrieve?: ChatControllerOptions['retrieve']): vscode.Disposable {
  const logger = ctx.log.for('chat');
  const tokenCounts = new LRUCache<string, number>({ max: 2_000 });
  const participant = vscode.chat.createChatParticipant(PARTICIPANT_ID, (request, context, stream, token) =>
    answer(ctx, { logger, tokenCounts, retrieve }, request, context, stream, token),
  );
  participant.iconPath = vscode.Uri.joinPath(ctx.extension.extensionUri, 'media', 'enclave.svg');
  return participant;
}

interface ParticipantParts {
  logger: Logger;
  tokenCounts: LRUCache<string, number>;
  retrieve?: ChatControllerOptions['retrieve'];
}

async function answer(
  ctx: EnclaveContext,
  parts: ParticipantParts,
  request: vscode.ChatRequest,
  context: vscode.ChatContext,
  stream: vscode.ChatResponseStream,
  token: vscode.CancellationToken,
): Promise<vscode.ChatResult> {
  const abort = new AbortController();
  const cancel = token.onCancellationRequested(() => abort.abort());
  let streamed = false;
  let unsubscribe: (() => void) | undefined;
  try {
    const rules = await ctx.rulesFor(vscode.window.activeTextEditor?.document.uri).catch((err: unknown) => {
      parts.logger.warn(`the project rules could not be read: ${errorMessage(err)}`);
      return undefined;
    });
    // VS Code attaches AGENTS.md and other instruction files itself; the rules are in the system
    // message already, so those are not sent twice.
    const inSystem = new Set(rules?.files.map((f) => f.path));
    const attachments = await referenceAttachments(request.references, inSystem, parts.logger);
    let focus: CodeInFocus | undefined;
    if (request.command !== undefined && Object.hasOwn(PARTICIPANT_COMMANDS, request.command)) {
      const code = attachments.length === 0 ? editorCode() : undefined;
      if (code) attachments.push(code.attachment);
      const first = attachments[0];
      if (!first) return { errorDetails: { message: `Select some code in an editor (or attach a file with #) for /${request.command}.` } };
      focus = { file: first.path, languageId: first.language ?? '', diagnostics: code?.diagnostics };
    }
    const question = participantQuestion(request.prompt, request.command, focus);
    if (question === '' && attachments.length === 0) return { errorDetails: { message: 'Ask a question after @enclave.' } };
    if (parts.retrieve && request.prompt.trim()) {
      try {
        const attached = new Set(attachments.map((a) => a.path));
        for (const found of await parts.retrieve(request.prompt)) if (!attached.has(found.path)) attachments.push(found);
      } catch (err) {
        parts.logger.warn(`codebase retrieval failed: ${errorMessage(err)}`);
      }
    }
    for (const a of attachments) {
      const where = referenceOf(a);
      if (where) stream.reference(where);
    }
    const destination = ctx.promptDestination();
    if (destination) stream.markdown(`*Sent to ${destination} (enclave.backend), not answered on this machine.*\n\n`);
    // While the engine starts or loads its model, say so (the first question pays for both).
    unsubscribe = ctx.onBackendState((state) => {
      if (state.kind === 'starting') stream.progress('Starting the engine…');
      else if (state.kind === 'loading') stream.progress(`Loading the model… ${Math.round(state.progress * 100)}%`);
    });
    const backend = ctx.backend();
    const settings = ctx.config.chat;
    const plan = await planReply({
      backend,
      rules,
      turns: participantTurns(plainHistory(context.history), question, attachments, Date.now()),
      maxTokens: settings.maxTokens,
      countTokens: async (text) => {
        let n = parts.tokenCounts.get(text);
        if (n === undefined) parts.tokenCounts.set(text, (n = await backend.countTokens(text)));
        return n;
      },
    });
    if (token.isCancellationRequested) return {};
    if (plan.note) stream.markdown(`*${plan.note}*\n\n`);
    const result = await backend.chat(
      { messages: plan.messages, maxTokens: plan.maxTokens, temperature: settings.temperature },
      {
        signal: abort.signal,
        onText: (chunk) => {
          if (chunk === '' || token.isCancellationRequested) return;
          streamed = true;
          stream.markdown(chunk);
        },
      },
    );
    const { promptTokens, generatedTokens, stopReason } = result.stats;
    return { metadata: { promptTokens, generatedTokens, stopReason } };
  } catch (err) {
    if (abort.signal.aborted || (err instanceof EngineError && err.code === 'CANCELLED')) return {};
    parts.logger.error(err instanceof Error ? err : String(err));
    return { errorDetails: { message: describeFailure(err, streamed, 'Retry') } };
  } finally {
    unsubscribe?.();
    cancel.dispose();
  }
}

/** The files and ranges attached to the request (#file, the current editor's context chip). */
async function referenceAttachments(
  references: readonly vscode.ChatPromptReference[],
  skip: ReadonlySet<string>,
  logger: Logger,
): Promise<StoredAttachment[]> {
  const out: StoredAttachment[] = [];
  for (const reference of references) {
    const value = reference.value;
    const uri = value instanceof vscode.Uri ? value : value instanceof vscode.Location ? value.uri : undefined;
    logger.debug(`chat reference ${reference.id}: ${uri?.toString() ?? typeof value}`);
    if (!uri || skip.has(vscode.workspace.asRelativePath(uri, false))) continue;
    try {
      const document = await vscode.workspace.openTextDocument(uri);
      if (!isAttachable(document)) continue;
      const attachment =
        value instanceof vscode.Location && !value.range.isEmpty ? rangeSnapshot(document, value.range) : fileAttachment(document);
      if (!out.some((a) => a.id === attachment.id)) out.push(attachment);
    } catch (err) {
      // A binary or vanished file: the question goes without it, and the log says why.
      logger.warn(`chat reference ${uri.toString()} was not attached: ${errorMessage(err)}`);
    }
  }
  return out;
}

/** The active editor's selection (or its whole file) and the problems in it, for a slash command. */
function editorCode(): { attachment: StoredAttachment; diagnostics: CodeInFocus['diagnostics'] } | undefined {
  const editor = vscode.window.activeTextEditor;
  if (!editor || !isAttachable(editor.document)) return undefined;
  const document = editor.document;
  const range = editor.selection.isEmpty ? document.validateRange(new vscode.Range(0, 0, document.lineCount, 0)) : editor.selection;
  return {
    attachment: editor.selection.isEmpty ? fileAttachment(document) : rangeSnapshot(document, range),
    diagnostics: diagnosticsIn(document, range),
  };
}

function referenceOf(a: StoredAttachment): vscode.Uri | vscode.Location | undefined {
  if (!a.uri) return undefined;
  const uri = vscode.Uri.parse(a.uri);
  if (!a.range) return uri;
  return new vscode.Location(uri, new vscode.Range(a.range.startLine, a.range.startCharacter, a.range.endLine, a.range.endCharacter));
}

/** This participant's earlier turns (VS Code passes only those) as text. */
function plainHistory(history: vscode.ChatContext['history']): PlainTurn[] {
  return history.flatMap((turn): PlainTurn[] => {
    if (turn instanceof vscode.ChatRequestTurn) return [{ role: 'user', text: turn.prompt, command: turn.command }];
    const text = turn.response.map((part) => (part instanceof vscode.ChatResponseMarkdownPart ? part.value.value : '')).join('');
    return [{ role: 'assistant', text }];
  });
}
