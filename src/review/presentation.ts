// Findings where the code is: diagnostics in the Problems panel (source "Enclave review"), a
// comment thread on the lines with Apply / Dismiss, and a quick fix when a replacement is given
// (one WorkspaceEdit, so one undo step). Findings follow edits to their document; an edit that
// touches a finding's lines retires it.
import * as vscode from 'vscode';

import type { Finding } from './findings';

export const DIAGNOSTIC_SOURCE = 'Enclave review';
export const APPLY_COMMAND = 'enclave.review.applyFix';
export const DISMISS_COMMAND = 'enclave.review.dismiss';

/** A finding placed in a document. */
export interface ShownFinding {
  readonly finding: Finding;
  readonly uri: vscode.Uri;
  /** Current lines, 0-based inclusive (they move as the document is edited). */
  startLine: number;
  endLine: number;
  thread?: vscode.CommentThread;
}

const severities: Record<Finding['severity'], vscode.DiagnosticSeverity> = {
  error: vscode.DiagnosticSeverity.Error,
  warning: vscode.DiagnosticSeverity.Warning,
  info: vscode.DiagnosticSeverity.Information,
};

export class ReviewPresentation implements vscode.Disposable, vscode.CodeActionProvider {
  private readonly diagnostics = vscode.languages.createDiagnosticCollection('enclave-review');
  private readonly comments = vscode.comments.createCommentController('enclave.review', 'Enclave review');
  private readonly shown = new Map<string, ShownFinding>();
  private readonly disposables: vscode.Disposable[] = [];
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires whenever the findings shown change (added, applied, dismissed, cleared). */
  readonly onDidChange = this.changed.event;

  constructor(options: { registerCommands?: boolean } = {}) {
    this.disposables.push(
      this.diagnostics,
      this.comments,
      this.changed,
      vscode.languages.registerCodeActionsProvider({ scheme: 'file' }, this, { providedCodeActionKinds: [vscode.CodeActionKind.QuickFix] }),
      vscode.workspace.onDidChangeTextDocument((e) => this.follow(e)),
    );
    if (options.registerCommands !== false) {
      this.disposables.push(
        vscode.commands.registerCommand(APPLY_COMMAND, (id: string) => this.apply(id)),
        vscode.commands.registerCommand(DISMISS_COMMAND, (id: string) => this.dismiss(id)),
      );
    }
  }

  /** Adds findings of files under `root` (paths in findings are relative to it). */
  add(root: vscode.Uri, findings: readonly Finding[]): void {
    const touched = new Set<string>();
    for (const finding of findings) {
      const uri = vscode.Uri.joinPath(root, finding.file);
      const shown: ShownFinding = { finding, uri, startLine: finding.startLine - 1, endLine: finding.endLine - 1 };
      this.shown.get(finding.id)?.thread?.dispose();
      shown.thread = this.createThread(shown);
      this.shown.set(finding.id, shown);
      touched.add(uri.toString());
    }
    for (const uri of touched) this.publish(vscode.Uri.parse(uri));
    this.changed.fire();
  }

  /** Everything shown, in document order. */
  all(): ShownFinding[] {
    return [...this.shown.values()];
  }

  clear(): void {
    for (const s of this.shown.values()) s.thread?.dispose();
    this.shown.clear();
    this.diagnostics.clear();
    this.changed.fire();
  }

  dismiss(id: string): void {
    const s = this.shown.get(id);
    if (!s) return;
    s.thread?.dispose();
    this.shown.delete(id);
    this.publish(s.uri);
    this.changed.fire();
  }

  /** Applies a finding's replacement as one edit (one undo step); false when there is none. */
  async apply(id: string): Promise<boolean> {
    const s = this.shown.get(id);
    if (!s || s.finding.replacement === null) return false;
    const document = await vscode.workspace.openTextDocument(s.uri);
    const edit = new vscode.WorkspaceEdit();
    edit.replace(s.uri, this.fullLines(document, s), s.finding.replacement);
    const applied = await vscode.workspace.applyEdit(edit);
    // The edit touched the finding's lines, so `follow` has retired it already; make sure.
    if (applied) this.dismiss(id);
    return applied;
  }

  provideCodeActions(document: vscode.TextDocument, _range: vscode.Range, context: vscode.CodeActionContext): vscode.CodeAction[] {
    const actions: vscode.CodeAction[] = [];
    for (const diagnostic of context.diagnostics) {
      if (diagnostic.source !== DIAGNOSTIC_SOURCE) continue;
      const s = this.findingOf(document.uri, diagnostic);
      if (!s) continue;
      if (s.finding.replacement !== null) {
        const fix = new vscode.CodeAction('Enclave: apply the suggested fix', vscode.CodeActionKind.QuickFix);
        fix.diagnostics = [diagnostic];
        fix.isPreferred = true;
        fix.edit = new vscode.WorkspaceEdit();
        fix.edit.replace(document.uri, this.fullLines(document, s), s.finding.replacement);
        fix.command = { command: DISMISS_COMMAND, title: 'Retire the finding', arguments: [s.finding.id] };
        actions.push(fix);
      }
      const dismiss = new vscode.CodeAction('Enclave: dismiss this finding', vscode.CodeActionKind.QuickFix);
      dismiss.diagnostics = [diagnostic];
      dismiss.command = { command: DISMISS_COMMAND, title: 'Dismiss', arguments: [s.finding.id] };
      actions.push(dismiss);
    }
    return actions;
  }

  /** Diagnostics reach code actions as copies: find the finding by place and message. */
  private findingOf(uri: vscode.Uri, diagnostic: vscode.Diagnostic): ShownFinding | undefined {
    const key = uri.toString();
    return this.all().find(
      (s) => s.uri.toString() === key && s.startLine === diagnostic.range.start.line && s.finding.message === diagnostic.message,
    );
  }

  private fullLines(document: vscode.TextDocument, s: ShownFinding): vscode.Range {
    const last = Math.min(s.endLine, document.lineCount - 1);
    return new vscode.Range(Math.min(s.startLine, last), 0, last, document.lineAt(last).text.length);
  }

  private publish(uri: vscode.Uri): void {
    const key = uri.toString();
    const document = vscode.workspace.textDocuments.find((d) => d.uri.toString() === key);
    const endOf = (line: number) => (document && line < document.lineCount ? document.lineAt(line).text.length : 10_000);
    const diagnostics = this.all()
      .filter((s) => s.uri.toString() === key)
      .map((s) => {
        const d = new vscode.Diagnostic(
          new vscode.Range(s.startLine, 0, s.endLine, endOf(s.endLine)),
          s.finding.message,
          severities[s.finding.severity],
        );
        d.source = DIAGNOSTIC_SOURCE;
        d.code = s.finding.category;
        return d;
      });
    this.diagnostics.set(uri, diagnostics);
  }

  private createThread(s: ShownFinding): vscode.CommentThread {
    const { finding } = s;
    const body = new vscode.MarkdownString(undefined, true);
    body.isTrusted = { enabledCommands: [APPLY_COMMAND, DISMISS_COMMAND] };
    body.appendMarkdown(`**${finding.severity}** · ${finding.category}${finding.outsideChange ? ' · outside the change' : ''}\n\n`);
    body.appendText(finding.message);
    const args = encodeURIComponent(JSON.stringify([finding.id]));
    if (finding.replacement !== null) {
      body.appendMarkdown('\n\nSuggested replacement:\n');
      body.appendCodeblock(finding.replacement);
      body.appendMarkdown(`\n[Apply](command:${APPLY_COMMAND}?${args}) · `);
    } else {
      body.appendMarkdown('\n\n');
    }
    body.appendMarkdown(`[Dismiss](command:${DISMISS_COMMAND}?${args})`);
    const thread = this.comments.createCommentThread(s.uri, new vscode.Range(s.startLine, 0, s.endLine, 0), [
      { body, mode: vscode.CommentMode.Preview, author: { name: 'Enclave' } },
    ]);
    thread.label = `Enclave review: ${finding.severity}`;
    thread.canReply = false;
    thread.contextValue = finding.replacement !== null ? 'enclave-finding-fix' : 'enclave-finding';
    thread.collapsibleState = vscode.CommentThreadCollapsibleState.Collapsed;
    return thread;
  }

  /** Moves findings below an edit; retires findings whose lines the edit touched. */
  private follow(e: vscode.TextDocumentChangeEvent): void {
    if (e.contentChanges.length === 0) return;
    const key = e.document.uri.toString();
    const mine = this.all().filter((s) => s.uri.toString() === key);
    if (mine.length === 0) return;
    let retired = false;
    // Changes are reported against the document before the event; apply from the bottom up.
    const changes = [...e.contentChanges].sort((a, b) => b.range.start.line - a.range.start.line);
    for (const change of changes) {
      const delta = change.text.split('\n').length - 1 - (change.range.end.line - change.range.start.line);
      for (const s of mine) {
        if (!this.shown.has(s.finding.id)) continue;
        if (change.range.start.line > s.endLine) continue;
        if (change.range.end.line < s.startLine) {
          s.startLine += delta;
          s.endLine += delta;
          if (s.thread) s.thread.range = new vscode.Range(s.startLine, 0, s.endLine, 0);
        } else {
          s.thread?.dispose();
          this.shown.delete(s.finding.id);
          retired = true;
        }
      }
    }
    this.publish(e.document.uri);
    if (retired) this.changed.fire();
  }

  dispose(): void {
    this.clear();
    for (const d of this.disposables) d.dispose();
  }
}
