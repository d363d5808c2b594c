import * as vscode from 'vscode';

import type { Placement } from './placement';
import type { NextEditSuggestion, PlainEdit, Range } from './types';

export function toVscodeRange(range: Range): vscode.Range {
  return new vscode.Range(range.start.line, range.start.character, range.end.line, range.end.character);
}

/** The longest inserted line shown inline; the whole text is in the hover. */
const INLINE_PREVIEW_CHARS = 80;

/**
 * A suggestion away from the cursor as decorations: removed text struck through on a red
 * background, inserted text after it on a green one (its first line; all of it in the hover),
 * and a marker in the gutter and the overview ruler at the target line.
 */
export class NextEditDecorations implements vscode.Disposable {
  private readonly removed: vscode.TextEditorDecorationType;
  private readonly inserted: vscode.TextEditorDecorationType;
  private readonly marker: vscode.TextEditorDecorationType;
  private decorated: vscode.TextEditor | undefined;

  constructor(markerIcon: vscode.Uri) {
    this.removed = vscode.window.createTextEditorDecorationType({
      backgroundColor: new vscode.ThemeColor('diffEditor.removedTextBackground'),
      textDecoration: 'line-through',
    });
    this.inserted = vscode.window.createTextEditorDecorationType({
      rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
    });
    this.marker = vscode.window.createTextEditorDecorationType({
      isWholeLine: true,
      gutterIconPath: markerIcon,
      gutterIconSize: 'contain',
      overviewRulerColor: new vscode.ThemeColor('editorOverviewRuler.addedForeground'),
      overviewRulerLane: vscode.OverviewRulerLane.Center,
    });
  }

  show(editor: vscode.TextEditor, suggestion: NextEditSuggestion, placement: Placement & { kind: 'decorations' }): void {
    if (this.decorated && this.decorated !== editor) this.clear();
    this.decorated = editor;
    const hover = hoverFor(suggestion.edits);
    editor.setDecorations(
      this.removed,
      suggestion.edits.filter((e) => !isEmpty(e.range)).map((e) => ({ range: toVscodeRange(e.range), hoverMessage: hover })),
    );
    editor.setDecorations(
      this.inserted,
      suggestion.edits
        .filter((e) => e.newText !== '')
        .map((e) => {
          const end = new vscode.Position(e.range.end.line, e.range.end.character);
          return {
            range: new vscode.Range(end, end),
            hoverMessage: hover,
            renderOptions: {
              after: {
                contentText: preview(e.newText),
                backgroundColor: new vscode.ThemeColor('diffEditor.insertedTextBackground'),
                border: '1px solid',
                borderColor: new vscode.ThemeColor('diffEditor.insertedLineBackground'),
              },
            },
          };
        }),
    );
    const line = placement.target.line;
    editor.setDecorations(this.marker, [{ range: new vscode.Range(line, 0, line, 0), hoverMessage: hover }]);
  }

  clear(): void {
    const editor = this.decorated;
    this.decorated = undefined;
    if (!editor) return;
    for (const type of [this.removed, this.inserted, this.marker]) editor.setDecorations(type, []);
  }

  dispose(): void {
    this.clear();
    this.removed.dispose();
    this.inserted.dispose();
    this.marker.dispose();
  }
}

function isEmpty(range: Range): boolean {
  return range.start.line === range.end.line && range.start.character === range.end.character;
}

/** The first inserted line, cut to a width a line can hold; more lines are marked, not shown. */
function preview(text: string): string {
  const lines = text.split(/\r?\n/);
  const first = lines[0].length > INLINE_PREVIEW_CHARS ? `${lines[0].slice(0, INLINE_PREVIEW_CHARS)}…` : lines[0];
  return lines.length > 1 ? `${first} ⏎ +${lines.length - 1} line${lines.length > 2 ? 's' : ''}` : first;
}

function hoverFor(edits: readonly PlainEdit[]): vscode.MarkdownString {
  const hover = new vscode.MarkdownString('**Next edit** — `Tab` to go there, `Tab` again to accept, `Escape` to dismiss');
  for (const edit of edits.slice(0, 5)) if (edit.newText) hover.appendCodeblock(edit.newText);
  return hover;
}
