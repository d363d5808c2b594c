// One inline edit in one document. The document is never touched while the model writes or while
// the user decides: the proposal is shown over it (removed lines struck through in red, the new
// lines in green after the lines they replace, a hover with the hunk's full text), and only when
// every hunk is decided are the accepted ones written, in one edit — one undo step, and a
// cancelled or rejected edit leaves the document exactly as it was (it was never changed).
import * as vscode from 'vscode';

import { applyHunks, extractCode, lineHunks, streamingHunks, type EditHunk, type LineRegion } from './core';

export type HunkDecision = 'pending' | 'accepted' | 'rejected';

/** How a session ended: applied (some hunks accepted), nothing to apply, or cancelled with a reason. */
export type SessionEnd = { kind: 'applied'; hunks: number } | { kind: 'unchanged' } | { kind: 'cancelled'; reason: string };

export interface SessionDecorations {
  region: vscode.TextEditorDecorationType;
  removed: vscode.TextEditorDecorationType;
  inserted: vscode.TextEditorDecorationType;
}

const MAX_SHOWN_CHARS = 160;

export class InlineEditSession implements vscode.Disposable {
  readonly controller = new AbortController();
  readonly oldLines: string[];
  hunks: EditHunk[] = [];
  decisions: HunkDecision[] = [];
  streaming = true;
  private answer = '';
  private renderTimer: NodeJS.Timeout | undefined;
  private ended = false;
  private readonly subscriptions: vscode.Disposable[] = [];
  private readonly changeEmitter = new vscode.EventEmitter<void>();
  private readonly endEmitter = new vscode.EventEmitter<SessionEnd>();
  /** Fires when hunks or decisions change (CodeLens and context keys follow). */
  readonly onDidChange = this.changeEmitter.event;
  readonly onDidEnd = this.endEmitter.event;

  constructor(
    readonly document: vscode.TextDocument,
    readonly region: LineRegion,
    private readonly decorations: SessionDecorations,
  ) {
    this.oldLines = [];
    for (let line = region.start; line <= region.end; line++) this.oldLines.push(document.lineAt(line).text);
    this.subscriptions.push(
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.document === this.document && e.contentChanges.length > 0)
          this.cancel('The document changed while Enclave was editing it, so the edit was cancelled and nothing was applied.');
      }),
      vscode.workspace.onDidCloseTextDocument((d) => d === this.document && this.cancel('The document was closed.')),
      vscode.window.onDidChangeVisibleTextEditors(() => this.render()),
    );
    this.render();
  }

  get pending(): number {
    return this.decisions.filter((d) => d === 'pending').length;
  }

  /** More of the model's answer arrived. */
  append(chunk: string): void {
    if (this.ended) return;
    this.answer += chunk;
    // Re-diffing on every token is wasted work: a few renders a second look continuous.
    this.renderTimer ??= setTimeout(() => {
      this.renderTimer = undefined;
      if (this.ended || !this.streaming) return;
      this.hunks = streamingHunks(this.oldLines, extractCode(this.answer, false));
      this.render();
    }, 80);
  }

  /** The answer is complete: its hunks wait for decisions. Returns how many there are. */
  complete(answer: string): number {
    if (this.ended) return 0;
    this.answer = answer;
    this.streaming = false;
    clearTimeout(this.renderTimer);
    this.hunks = lineHunks(this.oldLines, extractCode(answer, true));
    this.decisions = this.hunks.map(() => 'pending');
    this.render();
    return this.hunks.length;
  }

  decide(index: number, decision: 'accepted' | 'rejected'): Promise<void> {
    if (this.streaming || this.decisions[index] !== 'pending') return Promise.resolve();
    this.decisions[index] = decision;
    if (this.pending === 0) return this.finish();
    this.render();
    return Promise.resolve();
  }

  decideAll(decision: 'accepted' | 'rejected'): Promise<void> {
    if (this.streaming) {
      if (decision === 'rejected') this.cancel('');
      return Promise.resolve();
    }
    this.decisions = this.decisions.map((d) => (d === 'pending' ? decision : d));
    return this.finish();
  }

  /** Stops the model and ends without touching the document; `reason` ('' for the user's own cancel) is shown. */
  cancel(reason: string): void {
    if (this.ended) return;
    this.controller.abort();
    this.end({ kind: 'cancelled', reason });
  }

  /** Writes the accepted hunks in one edit (the document must be as it was when the edit started). */
  private async finish(): Promise<void> {
    const accepted = new Set(this.decisions.flatMap((d, i) => (d === 'accepted' ? [i] : [])));
    if (accepted.size === 0) {
      this.end({ kind: 'unchanged' });
      return;
    }
    const lines = applyHunks(this.oldLines, this.hunks, accepted);
    const eol = this.document.eol === vscode.EndOfLine.CRLF ? '\r\n' : '\n';
    const range = new vscode.Range(this.region.start, 0, this.region.end, this.document.lineAt(this.region.end).text.length);
    // Our own edit must not read as "the document changed underneath".
    for (const s of this.subscriptions.splice(0)) s.dispose();
    const edit = new vscode.WorkspaceEdit();
    edit.replace(this.document.uri, range, lines.join(eol));
    const applied = await vscode.workspace.applyEdit(edit);
    this.end(
      applied
        ? { kind: 'applied', hunks: accepted.size }
        : { kind: 'cancelled', reason: 'The editor refused the edit; nothing was applied.' },
    );
  }

  private end(how: SessionEnd): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.renderTimer);
    this.hunks = [];
    this.decisions = [];
    this.render();
    this.endEmitter.fire(how);
    this.dispose();
  }

  /** Document line where a hunk's CodeLens and inserted text sit. */
  anchorLine(hunk: EditHunk): number {
    if (hunk.oldLines.length > 0) return this.region.start + hunk.oldStart + hunk.oldLines.length - 1;
    return Math.max(0, this.region.start + hunk.oldStart - 1);
  }

  private render(): void {
    const region: vscode.Range[] = [];
    const removed: vscode.DecorationOptions[] = [];
    const inserted: vscode.DecorationOptions[] = [];
    if (!this.ended) {
      if (this.streaming) region.push(new vscode.Range(this.region.start, 0, this.region.end, 0));
      this.hunks.forEach((hunk, index) => {
        const decision = this.decisions[index] ?? 'pending';
        if (decision === 'rejected') return;
        const first = this.region.start + hunk.oldStart;
        if (decision === 'pending') {
          for (let i = 0; i < hunk.oldLines.length; i++) removed.push({ range: new vscode.Range(first + i, 0, first + i, 0) });
        }
        if (hunk.newLines.length > 0) {
          const anchor = this.anchorLine(hunk);
          const joined = hunk.newLines.join(' ⏎ ');
          const shown = joined.length > MAX_SHOWN_CHARS ? `${joined.slice(0, MAX_SHOWN_CHARS)}…` : joined;
          const hover = new vscode.MarkdownString()
            .appendMarkdown(`**Enclave proposes** (${decision}):`)
            .appendCodeblock(hunk.newLines.join('\n'));
          const at = new vscode.Position(anchor, this.document.lineAt(Math.min(anchor, this.document.lineCount - 1)).text.length);
          inserted.push({
            range: new vscode.Range(at, at),
            hoverMessage: hover,
            renderOptions: { after: { contentText: `${decision === 'accepted' ? '✓ ' : ''}${shown}` } },
          });
        }
      });
    }
    for (const editor of vscode.window.visibleTextEditors) {
      if (editor.document !== this.document) continue;
      editor.setDecorations(this.decorations.region, region);
      editor.setDecorations(this.decorations.removed, removed);
      editor.setDecorations(this.decorations.inserted, inserted);
    }
    this.changeEmitter.fire();
  }

  dispose(): void {
    if (!this.ended) this.cancel('');
    for (const s of this.subscriptions.splice(0)) s.dispose();
    this.changeEmitter.dispose();
    this.endEmitter.dispose();
  }
}
