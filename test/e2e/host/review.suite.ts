// Runs inside the real extension host (bundled and run by ../review.test.ts; not a node:test
// file): the review presentation fed a known finding — the diagnostic it shows, the quick fix it
// offers (one undo step), how findings follow edits, dismiss and clear. The Playwright test in
// ../review.test.ts runs the model end to end; a random model's findings cannot be chosen, so
// the presentation's details are checked here.
import * as assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import * as vscode from 'vscode';

import type { Finding } from '../../../src/review/findings';
import { DIAGNOSTIC_SOURCE, ReviewPresentation } from '../../../src/review/presentation';

const text = ['const a = 1;', 'const b = a + 1;', 'const c = b * 2;', 'export { a, b, c };', ''].join('\n');

function finding(over: Partial<Finding> = {}): Finding {
  return {
    id: 'host-1',
    file: 'review-host/sample.ts',
    startLine: 2,
    endLine: 3,
    severity: 'warning',
    category: 'bug',
    message: 'b and c can be one expression',
    replacement: 'const c = (a + 1) * 2;\nconst b = a + 1;',
    outsideChange: false,
    ...over,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => T | undefined | false): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const value = probe();
    if (value) return value;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('review presentation in the extension host', () => {
  let root: vscode.Uri;
  let uri: vscode.Uri;
  let presentation: ReviewPresentation;
  let editor: vscode.TextEditor;

  const ours = () => vscode.languages.getDiagnostics(uri).filter((d) => d.source === DIAGNOSTIC_SOURCE);

  before(async () => {
    const folder = vscode.workspace.workspaceFolders?.[0];
    assert.ok(folder, 'the host suite needs an open folder');
    root = folder.uri;
    mkdirSync(join(root.fsPath, 'review-host'), { recursive: true });
    writeFileSync(join(root.fsPath, 'review-host', 'sample.ts'), text);
    uri = vscode.Uri.joinPath(root, 'review-host', 'sample.ts');
    editor = await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(uri));
    // Enclave's own commands (apply / dismiss) are registered by the extension; this instance
    // only shows findings.
    presentation = new ReviewPresentation({ registerCommands: false });
  });

  after(() => presentation?.dispose());

  beforeEach(async () => {
    presentation.clear();
    await editor.edit((e) => e.replace(editor.document.validateRange(new vscode.Range(0, 0, editor.document.lineCount, 0)), text));
  });

  it('shows a finding as a diagnostic on its lines', async () => {
    presentation.add(root, [finding()]);
    const [d] = await until('the diagnostic', () => ours().length === 1 && ours());
    assert.equal(d.message, 'b and c can be one expression');
    assert.equal(d.severity, vscode.DiagnosticSeverity.Warning);
    assert.equal(d.range.start.line, 1);
    assert.equal(d.range.end.line, 2);
    assert.equal(d.code, 'bug');
  });

  it('offers the replacement as a quick fix; applying it is one edit, undone in one step', async () => {
    presentation.add(root, [finding()]);
    await until('the diagnostic', () => ours().length === 1);
    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>(
      'vscode.executeCodeActionProvider',
      uri,
      new vscode.Range(1, 0, 1, 0),
    );
    const fix = actions.find((a) => a.title === 'Enclave: apply the suggested fix');
    assert.ok(fix?.edit, `actions: ${actions.map((a) => a.title).join(', ')}`);
    assert.ok(actions.some((a) => a.title === 'Enclave: dismiss this finding'));
    assert.ok(await vscode.workspace.applyEdit(fix.edit));
    assert.equal(
      editor.document.getText(),
      ['const a = 1;', 'const c = (a + 1) * 2;', 'const b = a + 1;', 'export { a, b, c };', ''].join('\n'),
    );
    // The edit touched the finding's lines: it is retired.
    await until('the finding to be retired', () => ours().length === 0);
    await vscode.commands.executeCommand('undo');
    assert.equal(editor.document.getText(), text);
  });

  it('no quick fix without a replacement, only dismiss', async () => {
    presentation.add(root, [finding({ replacement: null })]);
    await until('the diagnostic', () => ours().length === 1);
    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>(
      'vscode.executeCodeActionProvider',
      uri,
      new vscode.Range(1, 0, 1, 0),
    );
    const titles = actions.filter((a) => a.title.startsWith('Enclave')).map((a) => a.title);
    assert.deepEqual(titles, ['Enclave: dismiss this finding']);
  });

  it('findings move with edits above them and retire when their lines change', async () => {
    presentation.add(root, [finding(), finding({ id: 'host-2', startLine: 4, endLine: 4, message: 'exports', replacement: null })]);
    await until('two diagnostics', () => ours().length === 2);
    await editor.edit((e) => e.insert(new vscode.Position(0, 0), '// one\n// two\n'));
    await until('the diagnostics to move', () => ours().some((d) => d.range.start.line === 3));
    assert.deepEqual(
      ours()
        .map((d) => d.range.start.line)
        .sort(),
      [3, 5],
    );
    await editor.edit((e) => e.insert(new vscode.Position(5, 0), 'x'));
    await until('the second finding to retire', () => ours().length === 1);
    assert.equal(ours()[0].message, 'b and c can be one expression');
    assert.equal(presentation.all().length, 1);
  });

  it('apply() and dismiss() act on one finding; clear() on all', async () => {
    presentation.add(root, [finding(), finding({ id: 'host-2', startLine: 1, endLine: 1, message: 'a', replacement: null })]);
    await until('two diagnostics', () => ours().length === 2);
    assert.equal(await presentation.apply('host-2'), false, 'nothing to apply without a replacement');
    presentation.dismiss('host-2');
    await until('one diagnostic', () => ours().length === 1);
    assert.equal(await presentation.apply('host-1'), true);
    assert.equal(editor.document.lineAt(1).text, 'const c = (a + 1) * 2;');
    presentation.add(root, [finding({ id: 'host-3', startLine: 4, endLine: 4, message: 'again', replacement: null })]);
    await until('one diagnostic', () => ours().length === 1);
    presentation.clear();
    await until('no diagnostics', () => ours().length === 0);
  });
});
