// Inline edit: "Enclave: Edit Selection…" asks for an instruction, the chat model rewrites the
// selected lines (or the block at the cursor) with the code around them as context, and the
// rewrite streams in as a diff over the untouched document (session.ts) with Accept | Reject per
// hunk as CodeLens and Accept All / Reject All as commands with keybindings.
import * as path from 'node:path';

import * as vscode from 'vscode';

import { registerGuardedCommand } from '../commands';
import type { EnclaveContext } from '../context';
import { fitRules, RULES_CONTEXT_SHARE } from '../rules/prompt';
import { editBudget, editRegion, estimateTokens, inlineEditMessages, maxRewriteTokens, surroundingCode } from './core';
import { InlineEditSession, type SessionDecorations } from './session';

const ACTIVE_KEY = 'enclave.inlineEdit.active';

/** Share of the context the project's rules may take here: the region appears in it twice. */
const RULES_SHARE = RULES_CONTEXT_SHARE / 2;

export function registerInlineEdit(ctx: EnclaveContext): vscode.Disposable {
  const log = ctx.log.for('inline-edit');
  const decorations: SessionDecorations = {
    region: vscode.window.createTextEditorDecorationType({
      isWholeLine: true,
      backgroundColor: new vscode.ThemeColor('editor.rangeHighlightBackground'),
    }),
    removed: vscode.window.createTextEditorDecorationType({
      isWholeLine: true,
      backgroundColor: new vscode.ThemeColor('diffEditor.removedLineBackground'),
      textDecoration: 'line-through',
      overviewRulerColor: new vscode.ThemeColor('editorOverviewRuler.deletedForeground'),
      overviewRulerLane: vscode.OverviewRulerLane.Left,
    }),
    inserted: vscode.window.createTextEditorDecorationType({
      after: {
        color: new vscode.ThemeColor('gitDecoration.addedResourceForeground'),
        backgroundColor: new vscode.ThemeColor('diffEditor.insertedLineBackground'),
        margin: '0 0 0 1.5em',
      },
      overviewRulerColor: new vscode.ThemeColor('editorOverviewRuler.addedForeground'),
      overviewRulerLane: vscode.OverviewRulerLane.Left,
    }),
  };
  const lensEmitter = new vscode.EventEmitter<void>();
  let session: InlineEditSession | undefined;

  const setActive = (active: boolean) => void vscode.commands.executeCommand('setContext', ACTIVE_KEY, active);

  async function start(): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    if (!editor) {
      void vscode.window.showInformationMessage('Enclave: open a file and select the code to edit first.');
      return;
    }
    session?.cancel('');
    const document = editor.document;
    const lines = Array.from({ length: document.lineCount }, (_, i) => document.lineAt(i).text);
    const selection = editor.selection;
    const region = editRegion(lines, {
      startLine: selection.start.line,
      startCharacter: selection.start.character,
      endLine: selection.end.line,
      endCharacter: selection.end.character,
    });
    const regionText = lines.slice(region.start, region.end + 1).join('\n');
    const fullContext = ctx.config.engine.contextSize;
    let contextSize = fullContext;
    const limit = () => editBudget(contextSize, 0).maxRegionTokens;
    const refuse = (tokens: number) => {
      log.info(`refused: ${region.end - region.start + 1} lines, ~${tokens} tokens, limit ${limit()}`);
      void vscode.window.showWarningMessage(
        `Enclave: the selection is ${region.end - region.start + 1} lines (about ${tokens} tokens); inline edit rewrites at most ${limit()} tokens ` +
          `with a context of ${fullContext}. Select a smaller part, or raise "enclave.engine.contextSize".`,
      );
    };
    // A rough count first: a 50k-line selection is refused without tokenizing it.
    if (estimateTokens(regionText) > limit() * 3) return refuse(estimateTokens(regionText));
    const instruction = await vscode.window.showInputBox({
      title: `Enclave: Edit ${region.start === region.end ? `Line ${region.start + 1}` : `Lines ${region.start + 1}–${region.end + 1}`}`,
      prompt: 'What should change?',
      placeHolder: 'e.g. add error handling, rename x to count, convert to async/await',
      ignoreFocusOut: true,
    });
    if (!instruction?.trim()) return;
    const version = document.version;
    const backend = ctx.backend();
    // The project's rules (AGENTS.md, …) come out of the context the edit can use.
    const rules = await fitRules(await ctx.rulesFor(document.uri), Math.floor(fullContext * RULES_SHARE), (text) =>
      backend.countTokens(text),
    );
    if (rules) contextSize -= await backend.countTokens(rules.text);
    const regionTokens = await backend.countTokens(regionText);
    if (regionTokens > limit()) return refuse(regionTokens);
    if (document.version !== version) {
      void vscode.window.showWarningMessage('Enclave: the document changed before the edit started; nothing was done. Try again.');
      return;
    }

    const around = surroundingCode(lines, region, editBudget(contextSize, regionTokens).contextTokens);
    const folder = vscode.workspace.getWorkspaceFolder(document.uri);
    const messages = inlineEditMessages({
      path: folder ? path.relative(folder.uri.fsPath, document.uri.fsPath) : path.basename(document.uri.fsPath),
      languageId: document.languageId,
      instruction: instruction.trim(),
      region: regionText,
      before: around.before,
      after: around.after,
      rules,
    });
    const promptTokens = await backend.countTokens(messages.map((m) => m.content).join('\n'));
    const current = new InlineEditSession(document, region, decorations);
    session = current;
    setActive(true);
    current.onDidChange(() => lensEmitter.fire());
    current.onDidEnd((how) => {
      if (session === current) session = undefined;
      setActive(session !== undefined);
      lensEmitter.fire();
      if (how.kind === 'applied') log.info(`applied ${how.hunks} hunk(s) to ${document.uri.fsPath}`);
      else if (how.kind === 'cancelled') {
        log.info(`cancelled${how.reason ? `: ${how.reason}` : ''}`);
        if (how.reason) void vscode.window.showWarningMessage(`Enclave: ${how.reason}`);
      }
    });
    log.info(
      `editing lines ${region.start + 1}-${region.end + 1} of ${document.uri.fsPath}: ${regionTokens} region tokens, ${promptTokens} prompt tokens`,
    );
    try {
      const result = await backend.chat(
        { messages, maxTokens: maxRewriteTokens(contextSize, promptTokens, regionTokens), temperature: ctx.config.chat.temperature },
        { signal: current.controller.signal, onText: (chunk) => current.append(chunk) },
      );
      if (current.controller.signal.aborted) return;
      const hunks = current.complete(result.text);
      const added = current.hunks.reduce((n, h) => n + h.newLines.length, 0);
      const removed = current.hunks.reduce((n, h) => n + h.oldLines.length, 0);
      log.info(
        `proposal: ${hunks} hunk(s), +${added} -${removed} lines, ${result.stats.generatedTokens} tokens in ${result.stats.totalMs.toFixed(0)} ms`,
      );
      if (hunks === 0) {
        current.cancel('');
        void vscode.window.showInformationMessage('Enclave: the model proposed no change to these lines.');
      }
    } catch (err) {
      if (current.controller.signal.aborted) return;
      current.cancel('');
      throw err;
    }
  }

  const lenses: vscode.CodeLensProvider = {
    onDidChangeCodeLenses: lensEmitter.event,
    provideCodeLenses(document) {
      const s = session;
      if (!s || s.document !== document) return [];
      const top = new vscode.Range(s.region.start, 0, s.region.start, 0);
      if (s.streaming)
        return [
          new vscode.CodeLens(top, { title: '$(loading~spin) Enclave is editing… Cancel (Esc)', command: 'enclave.inlineEdit.rejectAll' }),
        ];
      const result = [
        new vscode.CodeLens(top, { title: 'Accept All', command: 'enclave.inlineEdit.acceptAll' }),
        new vscode.CodeLens(top, { title: 'Reject All', command: 'enclave.inlineEdit.rejectAll' }),
      ];
      s.hunks.forEach((hunk, index) => {
        if (s.decisions[index] !== 'pending') return;
        const line = hunk.oldLines.length > 0 ? s.region.start + hunk.oldStart : s.anchorLine(hunk);
        const range = new vscode.Range(line, 0, line, 0);
        result.push(
          new vscode.CodeLens(range, { title: 'Accept', command: 'enclave.inlineEdit.acceptHunk', arguments: [index] }),
          new vscode.CodeLens(range, { title: 'Reject', command: 'enclave.inlineEdit.rejectHunk', arguments: [index] }),
        );
      });
      return result;
    },
  };

  const guarded = (name: string, handler: (...args: never[]) => Promise<unknown>) => registerGuardedCommand(ctx.log, log, name, handler);
  return vscode.Disposable.from(
    decorations.region,
    decorations.removed,
    decorations.inserted,
    lensEmitter,
    vscode.languages.registerCodeLensProvider({ scheme: '*' }, lenses),
    guarded('enclave.inlineEdit', start),
    guarded('enclave.inlineEdit.acceptAll', async () => session?.decideAll('accepted')),
    guarded('enclave.inlineEdit.rejectAll', async () => session?.decideAll('rejected')),
    guarded('enclave.inlineEdit.acceptHunk', async (index: number) => session?.decide(index, 'accepted')),
    guarded('enclave.inlineEdit.rejectHunk', async (index: number) => session?.decide(index, 'rejected')),
    { dispose: () => session?.cancel('') },
  );
}
