import assert from 'node:assert/strict';
import { test } from 'node:test';

import { minimalEdit, proposeEdit, textToInsert } from '../../src/chat/apply';
import { editorPrompt, formatDiagnostic } from '../../src/chat/prompts';

const file = ['import x from "x";', '', 'export function add(a, b) {', '  return a - b;', '}', '', 'export const y = 2;', ''].join('\n');

function applied(before: string, edit: { start: number; end: number; text: string }): string {
  return before.slice(0, edit.start) + edit.text + before.slice(edit.end);
}

test('a block replaces the attached selection when it is still where it was', () => {
  const start = file.indexOf('  return');
  const selected = '  return a - b;\n';
  const p = proposeEdit(file, '  return a + b;', { start, end: start + selected.length, text: selected });
  assert.equal(p.mode, 'selection');
  assert.equal(p.text, file.replace('a - b', 'a + b'));
  assert.deepEqual(p.edit, { start: file.indexOf('-'), end: file.indexOf('-') + 1, text: '+' });
  assert.equal(applied(file, p.edit), p.text);
});

test('the selection is found again when lines were added above it', () => {
  const selected = '  return a - b;\n';
  const hint = { start: file.indexOf(selected), end: file.indexOf(selected) + selected.length, text: selected };
  const moved = `// header\n${file}`;
  const p = proposeEdit(moved, '  return a + b;\n', hint);
  assert.equal(p.mode, 'selection');
  assert.equal(p.text, moved.replace('a - b', 'a + b'));
});

test('a rewritten function replaces the function it starts and ends like', () => {
  const block = 'export function add(a, b) {\n  // fixed\n  return a + b;\n}\n';
  const p = proposeEdit(file, block);
  assert.equal(p.mode, 'anchored');
  assert.equal(p.text, file.replace('  return a - b;', '  // fixed\n  return a + b;'));
  assert.equal(applied(file, p.edit), p.text);
});

test('a method written without its class indentation is indented to fit', () => {
  const cls = 'class A {\n  run() {\n    return 1;\n  }\n}\n';
  const p = proposeEdit(cls, 'run() {\n  return 2;\n}');
  assert.equal(p.mode, 'anchored');
  assert.equal(p.text, 'class A {\n  run() {\n    return 2;\n  }\n}\n');
});

test('with no anchor the block becomes the whole file, keeping the final newline', () => {
  const p = proposeEdit(file, 'something else entirely\nand more');
  assert.equal(p.mode, 'whole');
  assert.equal(p.text, 'something else entirely\nand more\n');
  assert.equal(applied(file, p.edit), p.text);
});

test('CRLF files stay CRLF', () => {
  const crlf = file.replace(/\n/g, '\r\n');
  const p = proposeEdit(crlf, 'export function add(a, b) {\n  return a + b;\n}');
  assert.equal(p.text, crlf.replace('a - b', 'a + b'));
  assert.ok(!/[^\r]\n/.test(p.text));
});

test('minimal edits leave the common prefix and suffix alone', () => {
  assert.deepEqual(minimalEdit('abcdef', 'abXYef'), { start: 2, end: 4, text: 'XY' });
  assert.deepEqual(minimalEdit('aaa', 'aaaa'), { start: 3, end: 3, text: 'a' });
  assert.deepEqual(minimalEdit('same', 'same'), { start: 4, end: 4, text: '' });
  assert.deepEqual(minimalEdit('', 'new'), { start: 0, end: 0, text: 'new' });
});

test('editor prompts: fix lists the diagnostics with 1-based positions', () => {
  const d = [
    { line: 3, character: 9, severity: 'error' as const, message: "Cannot find name 'c'.", source: 'ts', code: 2304 },
    { line: 4, character: 0, severity: 'warning' as const, message: 'Unreachable code.' },
  ];
  const text = editorPrompt('fix', 'src/a.ts', 'typescript', d);
  assert.match(text, /src\/a\.ts/);
  assert.match(text, /- line 4, column 10, error: Cannot find name 'c'\. \(ts 2304\)/);
  assert.match(text, /- line 5, column 1, warning: Unreachable code\.$/);
  assert.doesNotMatch(editorPrompt('fix', 'a.ts', 'ts', []), /line/);
  assert.match(editorPrompt('tests', 'a.py', 'python', []), /unit tests for the selected python code/);
  assert.match(editorPrompt('explain', 'a.py', 'python'), /Explain/);
  assert.equal(formatDiagnostic({ line: 0, character: 0, severity: 'hint', message: 'm', code: 'X1' }), '- line 1, column 1, hint: m (X1)');
});

test('Insert at the start of a line with code puts the block above it', () => {
  assert.equal(textToInsert('const a = 1;', 'export type X = 1;', 0), 'const a = 1;\n');
  assert.equal(textToInsert('const a = 1;\n', 'export type X = 1;', 0), 'const a = 1;\n');
  assert.equal(textToInsert('a\nb', '', 0), 'a\nb');
  assert.equal(textToInsert('x', 'foo(', 4), 'x');
  assert.equal(textToInsert('a\nb', 'code', 0, '\r\n'), 'a\r\nb\r\n');
});
