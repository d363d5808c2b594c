import { readFileSync } from 'node:fs';

import * as vscode from 'vscode';

import type { CompletionContextSource, CompletionRequest } from '../completion/core';
import type { EnclaveContext } from '../context';
import { inlineArbiter } from './arbiter';
import type { DocumentFacts } from './guards';
import { cursorAfterAccept } from './placement';
import { createNextEditPredictor, type RelatedExcerpt } from './predictor';
import { NextEditDecorations, toVscodeRange } from './presentation';
import { parseScript, ScriptedPredictor } from './scripted';
import { NextEditSession, type EditorDocument, type SessionState } from './session';
import type { DocumentChange, NextEditPredictor, NextEditRequest, Position } from './types';

/** Context keys the Tab / Escape keybindings in package.json are guarded by. */
const VISIBLE_KEY = 'enclave.nextEdit.visible';
const JUMPED_KEY = 'enclave.nextEdit.jumped';
/** Development/test mode only: a JSON script (scripted.ts) replacing the model, for UI mechanics tests. */
const TEST_SCRIPT_ENV = 'ENCLAVE_TEST_NEXT_EDIT_SCRIPT';

/**
 * Next-edit suggestions: watches the user's edits, asks the predictor after a pause, shows the
 * answer (ghost text at the cursor, decorations elsewhere), Tab to jump and accept, Escape to dismiss.
 * `context` (the codebase's definitions of the names near the cursor) gives the related excerpts.
 */
export function registerNextEdit(ctx: EnclaveContext, context?: CompletionContextSource): vscode.Disposable {
  const log = ctx.log.for('nextEdit');
  const pathOf = (uri: string) => vscode.workspace.asRelativePath(vscode.Uri.parse(uri), false);
  const predictor =
    testPredictor(ctx.extension) ??
    createNextEditPredictor(() => ctx.backend(), {
      format: () => ctx.config.nextEdit.format,
      pathOf,
      related: context && ((request, signal) => relatedExcerpts(context, request, pathOf(request.uri), signal)),
      modelKey: () => `${ctx.config.modelPath}\u0000${ctx.config.nextEditModelPath}`,
    });
  const decorations = new NextEditDecorations(vscode.Uri.joinPath(ctx.extension.extensionUri, 'media', 'next-edit.svg'));
  const contextKeys = new ContextKeys();

  const session = new NextEditSession({
    predictor,
    arbiter: inlineArbiter,
    host: { activeEditor },
    enabled: () => ctx.config.nextEdit.enabled,
    debounceMs: () => ctx.config.nextEdit.debounceMs,
    onState: (state) => render(state),
    onOutcome: (outcome, detail) => {
      if (outcome !== 'invalidated' && outcome !== 'aborted') log.trace(`${outcome}${detail ? `: ${detail}` : ''}`);
    },
  });

  const render = (state: SessionState) => {
    const editor = vscode.window.activeTextEditor;
    if (state.kind !== 'shown' || !editor || editor.document.uri.toString() !== state.suggestion.uri) {
      decorations.clear();
      contextKeys.set(false, false);
      return;
    }
    if (state.placement.kind === 'inline') {
      // Ghost text at the cursor: VS Code's own Tab and Escape apply; our provider answers.
      decorations.clear();
      contextKeys.set(false, false);
      void vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
      return;
    }
    // The keys first: by the time the decorations are on screen, Tab and Escape are bound.
    contextKeys.set(true, state.jumped);
    decorations.show(editor, state.suggestion, state.placement);
  };

  const jump = () => {
    const editor = vscode.window.activeTextEditor;
    const target = session.jump();
    if (!editor || !target) return;
    const position = new vscode.Position(target.line, target.character);
    editor.selection = new vscode.Selection(position, position);
    editor.revealRange(new vscode.Range(position, position), vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  };
  const accept = async () => {
    const editor = vscode.window.activeTextEditor;
    if (!editor) return;
    const suggestion = session.accept(editor.document.uri.toString(), editor.document.version);
    if (!suggestion) return;
    // editor.edit refuses (false) when the document's version moved on: nothing unseen is applied.
    const applied = await editor.edit(
      (builder) => {
        for (const edit of suggestion.edits) builder.replace(toVscodeRange(edit.range), edit.newText);
      },
      { undoStopBefore: true, undoStopAfter: true },
    );
    if (!applied) return log.debug('suggestion not applied: the document changed');
    const cursor = cursorAfterAccept(suggestion);
    const position = editor.document.validatePosition(new vscode.Position(cursor.line, cursor.character));
    editor.selection = new vscode.Selection(position, position);
  };
  /**
   * Tab: the session decides between jumping and accepting, not the context key that chose the
   * command — the key reaches the renderer a round trip late, and a quick second Tab must accept.
   */
  const tab = () => {
    const state = session.state;
    return state.kind === 'shown' && state.jumped ? accept() : jump();
  };
  const commands: Record<string, () => unknown> = {
    'enclave.nextEdit.jump': tab,
    'enclave.nextEdit.accept': tab,
    'enclave.nextEdit.dismiss': () => session.dismiss('escape'),
  };

  const disposables: vscode.Disposable[] = [
    decorations,
    { dispose: () => session.dispose() },
    { dispose: () => predictor.dispose() },
    { dispose: () => contextKeys.set(false, false) },
    vscode.languages.registerInlineCompletionItemProvider({ pattern: '**' }, { provideInlineCompletionItems: inlineItems }),
    vscode.workspace.onDidChangeTextDocument((e) => {
      if (e.contentChanges.length === 0) return;
      const document = e.document;
      const undoRedo = e.reason === vscode.TextDocumentChangeReason.Undo || e.reason === vscode.TextDocumentChangeReason.Redo;
      session.documentChanged({ uri: document.uri.toString(), ...facts(document) }, () => documentChange(e), { undoRedo });
    }),
    vscode.window.onDidChangeTextEditorSelection((e) => {
      if (e.textEditor === vscode.window.activeTextEditor)
        session.selectionChanged(e.textEditor.document.uri.toString(), e.selections[0].active);
    }),
    vscode.window.onDidChangeActiveTextEditor((editor) => session.activeEditorChanged(editor?.document.uri.toString())),
    ctx.config.onDidChange((e) => {
      if (e.affectsConfiguration('enclave.nextEdit') && !ctx.config.nextEdit.enabled) session.dismiss('turned off');
    }),
  ];
  for (const [id, handler] of Object.entries(commands)) disposables.push(vscode.commands.registerCommand(id, handler));

  function inlineItems(document: vscode.TextDocument, position: vscode.Position): vscode.InlineCompletionItem[] | undefined {
    const state = session.state;
    if (state.kind !== 'shown' || state.placement.kind !== 'inline') return undefined;
    if (state.suggestion.uri !== document.uri.toString() || state.suggestion.version !== document.version) return undefined;
    const edit = state.placement.edit;
    if (position.line !== edit.range.start.line) return undefined;
    return [new vscode.InlineCompletionItem(edit.newText, toVscodeRange(edit.range))];
  }

  return vscode.Disposable.from(...disposables);
}

/** The definitions (and search hit) the completion prompts get, for the text at the request's cursor. */
async function relatedExcerpts(
  context: CompletionContextSource,
  request: NextEditRequest,
  path: string,
  signal: AbortSignal,
): Promise<RelatedExcerpt[]> {
  const lines = request.text.split('\n');
  let offset = request.cursor.character;
  for (let l = 0; l < request.cursor.line && l < lines.length; l++) offset += lines[l].length + 1;
  const asCompletion: CompletionRequest = {
    text: request.text,
    offset,
    languageId: request.languageId,
    uri: request.uri,
    path,
    trigger: 'automatic',
  };
  await context.prepare(asCompletion, request.text, offset, signal);
  return context.chunks(asCompletion, request.text, offset).map((c) => ({ path: c.path, text: c.text }));
}

function testPredictor(extension: vscode.ExtensionContext): NextEditPredictor | undefined {
  // An installed extension runs in production mode: there no environment variable, setting or
  // workspace file can replace the model's predictions.
  if (extension.extensionMode === vscode.ExtensionMode.Production) return undefined;
  const path = process.env[TEST_SCRIPT_ENV];
  return path ? new ScriptedPredictor(parseScript(readFileSync(path, 'utf8'))) : undefined;
}

function activeEditor(): { document: EditorDocument; cursor: Position } | undefined {
  const editor = vscode.window.activeTextEditor;
  if (!editor) return undefined;
  const document = editor.document;
  return {
    cursor: plain(editor.selection.active),
    document: {
      uri: document.uri.toString(),
      languageId: document.languageId,
      version: document.version,
      ...facts(document),
      lineText: (line) => document.lineAt(line).text,
      text: () => document.getText(),
      textIn: (range) => document.getText(toVscodeRange(range)),
    },
  };
}

function facts(document: vscode.TextDocument): DocumentFacts {
  const scheme = document.uri.scheme;
  const lastLine = document.lineAt(document.lineCount - 1);
  return {
    scheme,
    // No stable API says "this editor is read-only"; a read-only file system is the case we can see.
    readOnly: vscode.workspace.fs.isWritableFileSystem(scheme) === false,
    length: document.offsetAt(lastLine.range.end),
    lineCount: document.lineCount,
  };
}

/** Plain data for the predictor (it may serialise it): not vscode's Position class. */
function plain(p: vscode.Position): Position {
  return { line: p.line, character: p.character };
}

function documentChange(e: vscode.TextDocumentChangeEvent): DocumentChange {
  return {
    uri: e.document.uri.toString(),
    languageId: e.document.languageId,
    version: e.document.version,
    changes: e.contentChanges.map((c) => ({
      range: { start: plain(c.range.start), end: plain(c.range.end) },
      rangeLength: c.rangeLength,
      text: c.text,
    })),
    textAfter: e.document.getText(),
  };
}

/** Sets the two context keys only when they change (each set is a round trip to the renderer). */
class ContextKeys {
  private visible = false;
  private jumped = false;

  set(visible: boolean, jumped: boolean): void {
    if (visible !== this.visible) void vscode.commands.executeCommand('setContext', VISIBLE_KEY, visible);
    if (jumped !== this.jumped) void vscode.commands.executeCommand('setContext', JUMPED_KEY, jumped);
    this.visible = visible;
    this.jumped = jumped;
  }
}
