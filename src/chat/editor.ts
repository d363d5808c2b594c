// The chat's editor side: what the current editor attaches, picking other files, inserting a code
// block at the cursor, and applying one to a file through a diff the user accepts or rejects.
import { createHash } from 'node:crypto';
import * as path from 'node:path';

import * as vscode from 'vscode';

import type { Logger } from '../logger';
import { proposeEdit, textToInsert } from './apply';
import type { PendingAttachment } from './controller';
import type { StoredAttachment, StoredMessage } from './history';
import { newId } from './history';
import type { DiagnosticInfo } from './prompts';

/** More than any context holds; a bigger file is cut here before it reaches the history. */
const MAX_ATTACHMENT_CHARS = 200_000;
const ATTACHABLE_SCHEMES = new Set(['file', 'untitled', 'vscode-remote', 'vscode-vfs']);

function attachmentId(prefix: string, ...parts: string[]): string {
  return `${prefix}-${createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 16)}`;
}

function cap(text: string): { content: string; truncated?: boolean } {
  return text.length > MAX_ATTACHMENT_CHARS ? { content: text.slice(0, MAX_ATTACHMENT_CHARS), truncated: true } : { content: text };
}

function selectionLabel(document: vscode.TextDocument, selection: vscode.Range): string {
  const name = path.basename(document.fileName);
  const end = selection.end.character === 0 && selection.end.line > selection.start.line ? selection.end.line - 1 : selection.end.line;
  return selection.start.line === end ? `${name}:${end + 1}` : `${name}:${selection.start.line + 1}-${end + 1}`;
}

export function isAttachable(document: vscode.TextDocument): boolean {
  return ATTACHABLE_SCHEMES.has(document.uri.scheme);
}

const SEVERITY: Record<vscode.DiagnosticSeverity, DiagnosticInfo['severity']> = {
  [vscode.DiagnosticSeverity.Error]: 'error',
  [vscode.DiagnosticSeverity.Warning]: 'warning',
  [vscode.DiagnosticSeverity.Information]: 'information',
  [vscode.DiagnosticSeverity.Hint]: 'hint',
};

/** The problems VS Code reports inside `range` of the document (for "fix this"). */
export function diagnosticsIn(document: vscode.TextDocument, range: vscode.Range): DiagnosticInfo[] {
  return vscode.languages
    .getDiagnostics(document.uri)
    .filter((d) => range.intersection(d.range) !== undefined)
    .map((d) => ({
      line: d.range.start.line,
      character: d.range.start.character,
      severity: SEVERITY[d.severity],
      message: d.message,
      source: d.source,
      code: typeof d.code === 'object' ? d.code.value : d.code,
    }));
}

/** The selection as it is now (a snapshot: editor commands send exactly what was selected). */
export function selectionSnapshot(editor: vscode.TextEditor, selection: vscode.Range = editor.selection): StoredAttachment {
  return rangeSnapshot(editor.document, selection);
}

/** A range of a document as it is now, as a selection attachment. */
export function rangeSnapshot(document: vscode.TextDocument, selection: vscode.Range): StoredAttachment {
  const relative = vscode.workspace.asRelativePath(document.uri);
  return {
    id: attachmentId(
      'sel',
      document.uri.toString(),
      String(selection.start.line),
      String(selection.start.character),
      String(selection.end.line),
      String(selection.end.character),
    ),
    kind: 'selection',
    label: selectionLabel(document, selection),
    path: relative,
    uri: document.uri.toString(),
    range: {
      startLine: selection.start.line,
      startCharacter: selection.start.character,
      endLine: selection.end.line,
      endCharacter: selection.end.character,
    },
    language: document.languageId,
    ...cap(document.getText(selection)),
  };
}

export function fileAttachment(document: vscode.TextDocument): StoredAttachment {
  return {
    id: attachmentId('file', document.uri.toString()),
    kind: 'file',
    label: path.basename(document.fileName),
    path: vscode.workspace.asRelativePath(document.uri),
    uri: document.uri.toString(),
    language: document.languageId,
    ...cap(document.getText()),
  };
}

function pending(
  snapshot: StoredAttachment,
  resolve: () => StoredAttachment | Promise<StoredAttachment | undefined> | undefined,
): PendingAttachment {
  return { view: { id: snapshot.id, kind: snapshot.kind, label: snapshot.label, detail: snapshot.path }, resolve };
}

export function selectionAttachment(editor: vscode.TextEditor, selection: vscode.Range = editor.selection): PendingAttachment {
  const snapshot = selectionSnapshot(editor, selection);
  return pending(snapshot, () => snapshot);
}

/** What the editor attaches by itself: its selection, or the whole file; read when sent. */
export function editorAttachment(editor: vscode.TextEditor | undefined): PendingAttachment | undefined {
  if (!editor || !isAttachable(editor.document)) return undefined;
  if (!editor.selection.isEmpty) {
    const selection = editor.selection;
    return pending(selectionSnapshot(editor, selection), () =>
      editor.document.isClosed ? undefined : selectionSnapshot(editor, selection),
    );
  }
  const document = editor.document;
  return pending(fileAttachment(document), () => (document.isClosed ? undefined : fileAttachment(document)));
}

/** `@`: a quick pick of the workspace's files; the file is read when the question is sent. */
export async function pickWorkspaceFile(): Promise<PendingAttachment | undefined> {
  const uris = await vscode.workspace.findFiles('**/*', undefined, 5_000);
  const items = uris
    .map((uri) => ({ uri, relative: vscode.workspace.asRelativePath(uri) }))
    .sort((a, b) => a.relative.localeCompare(b.relative))
    .map(({ uri, relative }) => ({
      label: path.basename(uri.fsPath),
      description: path.dirname(relative) === '.' ? '' : path.dirname(relative),
      uri,
    }));
  const picked = await vscode.window.showQuickPick(items, { placeHolder: 'Attach a file to the chat', matchOnDescription: true });
  if (!picked) return undefined;
  const relative = vscode.workspace.asRelativePath(picked.uri);
  const view = { id: attachmentId('file', picked.uri.toString()), kind: 'file' as const, label: picked.label, detail: relative };
  return {
    view,
    resolve: async () => {
      const document = await vscode.workspace.openTextDocument(picked.uri);
      return { ...fileAttachment(document), id: view.id };
    },
  };
}

/** Replaces the active editor's selections (or inserts at its cursors) with the code. */
export async function insertAtCursor(code: string): Promise<boolean> {
  const editor = vscode.window.activeTextEditor ?? vscode.window.visibleTextEditors.find((e) => isAttachable(e.document));
  if (!editor) {
    void vscode.window.showWarningMessage('Open a file and place the cursor where the code should go, then press Insert again.');
    return false;
  }
  const document = editor.document;
  const eol = document.eol === vscode.EndOfLine.CRLF ? '\r\n' : '\n';
  const done = await editor.edit((builder) => {
    for (const selection of editor.selections) {
      const text = selection.isEmpty
        ? textToInsert(code, document.lineAt(selection.active.line).text, selection.active.character, eol)
        : code.replace(/\r?\n/g, eol);
      builder.replace(selection, text);
    }
  });
  await vscode.window.showTextDocument(editor.document, editor.viewColumn);
  return done;
}

/** Serves the proposed file contents that the diff editor shows on its right side (read-only). */
export class ProposalProvider implements vscode.TextDocumentContentProvider, vscode.Disposable {
  static readonly scheme = 'enclave-proposal';
  private readonly texts = new Map<string, string>();
  private readonly emitter = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.emitter.event;

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.toString()) ?? '';
  }

  add(target: vscode.Uri, text: string): vscode.Uri {
    const uri = vscode.Uri.from({ scheme: ProposalProvider.scheme, path: target.path, query: newId() });
    this.texts.set(uri.toString(), text);
    return uri;
  }

  remove(uri: vscode.Uri): void {
    this.texts.delete(uri.toString());
  }

  dispose(): void {
    this.emitter.dispose();
    this.texts.clear();
  }
}

/**
 * Shows the change a code block makes to its file as a diff; Accept applies it as one
 * WorkspaceEdit (one undo step), Reject leaves the file as it was. The file is the one attached
 * to the question the reply answers, else the active editor's.
 */
export async function applyWithDiff(
  proposals: ProposalProvider,
  code: string,
  question: StoredMessage | undefined,
  logger: Logger,
): Promise<'accepted' | 'rejected' | 'unchanged' | 'none'> {
  const attached = question?.attachments?.find((a) => a.uri && (a.kind === 'selection' || a.kind === 'file'));
  const uri = attached?.uri ? vscode.Uri.parse(attached.uri) : vscode.window.activeTextEditor?.document.uri;
  if (!uri) {
    void vscode.window.showWarningMessage('Open the file the code belongs to, then press Apply again.');
    return 'none';
  }
  const document = await vscode.workspace.openTextDocument(uri);
  const before = document.getText();
  const hint =
    attached?.kind === 'selection' && attached.range && !attached.truncated
      ? {
          start: document.offsetAt(new vscode.Position(attached.range.startLine, attached.range.startCharacter)),
          end: document.offsetAt(new vscode.Position(attached.range.endLine, attached.range.endCharacter)),
          text: attached.content,
        }
      : undefined;
  const proposal = proposeEdit(before, code, hint);
  const name = path.basename(document.fileName);
  if (proposal.text === before) {
    void vscode.window.showInformationMessage(`${name} already contains this code.`);
    return 'unchanged';
  }
  const right = proposals.add(document.uri, proposal.text);
  const version = document.version;
  logger.info(`apply: proposing a change to ${vscode.workspace.asRelativePath(uri)} (${proposal.mode})`);
  try {
    await vscode.commands.executeCommand('vscode.diff', document.uri, right, `${name} ↔ Enclave's change`, { preview: true });
    const choice = await vscode.window.showInformationMessage(`Apply Enclave's change to ${name}?`, 'Accept', 'Reject');
    if (choice !== 'Accept') return 'rejected';
    if (document.version !== version) {
      void vscode.window.showWarningMessage(
        `${name} changed while the diff was open; press Apply again to see the change against the new text.`,
      );
      return 'rejected';
    }
    const edit = new vscode.WorkspaceEdit();
    edit.replace(
      document.uri,
      new vscode.Range(document.positionAt(proposal.edit.start), document.positionAt(proposal.edit.end)),
      proposal.edit.text,
    );
    const applied = await vscode.workspace.applyEdit(edit);
    if (!applied) void vscode.window.showErrorMessage(`The change could not be applied to ${name}.`);
    return applied ? 'accepted' : 'rejected';
  } finally {
    const tabs = vscode.window.tabGroups.all
      .flatMap((g) => g.tabs)
      .filter((t) => t.input instanceof vscode.TabInputTextDiff && t.input.modified.toString() === right.toString());
    if (tabs.length > 0) await vscode.window.tabGroups.close(tabs);
    proposals.remove(right);
  }
}
