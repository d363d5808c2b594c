import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import fc from 'fast-check';

import {
  applyHunks,
  blockAt,
  editBudget,
  editRegion,
  extractCode,
  inlineEditMessages,
  lineHunks,
  streamingHunks,
  surroundingCode,
} from '../../src/inlineEdit/core';

const file = [
  'import x from "x";', // 0
  '', // 1
  'function add(a, b) {', // 2
  '  const sum = a + b;', // 3
  '', // 4
  '  return sum;', // 5
  '}', // 6
  'const y = 1;', // 7
];

describe('editRegion', () => {
  test('a selection is widened to whole lines; one ending at column 0 leaves that line out', () => {
    assert.deepEqual(editRegion(file, { startLine: 3, startCharacter: 4, endLine: 5, endCharacter: 3 }), { start: 3, end: 5 });
    assert.deepEqual(editRegion(file, { startLine: 3, startCharacter: 0, endLine: 6, endCharacter: 0 }), { start: 3, end: 5 });
  });

  test('an empty selection on a block opener takes the block to its closing line', () => {
    assert.deepEqual(editRegion(file, { startLine: 2, startCharacter: 5, endLine: 2, endCharacter: 5 }), { start: 2, end: 6 });
  });

  test('an empty selection on a plain line takes that line only', () => {
    assert.deepEqual(blockAt(file, 7), { start: 7, end: 7 });
    assert.deepEqual(blockAt(file, 3), { start: 3, end: 3 });
    assert.deepEqual(blockAt(file, 1), { start: 1, end: 1 });
  });

  test('a Python block ends where the indentation returns', () => {
    const py = ['def f(x):', '    y = x', '    return y', 'print(f(1))'];
    assert.deepEqual(blockAt(py, 0), { start: 0, end: 2 });
  });
});

describe('surroundingCode', () => {
  test('takes lines nearest the region first and stays within the budget', () => {
    const lines = Array.from({ length: 1000 }, (_, i) => `line ${i} ${'x'.repeat(20)}`);
    const { before, after } = surroundingCode(lines, { start: 500, end: 510 }, 100);
    const shown = [...before.split('\n'), ...after.split('\n')];
    assert.ok(shown.length > 5 && shown.length < 40, `${shown.length} lines`);
    assert.equal(before.split('\n').at(-1), lines[499]);
    assert.equal(after.split('\n')[0], lines[511]);
    assert.ok(before.split('\n').length > after.split('\n').length);
  });

  test('at the start and end of a file there is nothing before or after', () => {
    const { before, after } = surroundingCode(file, { start: 0, end: file.length - 1 }, 1000);
    assert.equal(before, '');
    assert.equal(after, '');
  });
});

describe('editBudget', () => {
  test('a region over the limit is refused by the shell: the limit grows with the context', () => {
    assert.ok(editBudget(8192, 0).maxRegionTokens < 8192 / 2);
    assert.ok(editBudget(32768, 0).maxRegionTokens > editBudget(8192, 0).maxRegionTokens);
  });
  test('the surrounding code gets what the region leaves, never a negative budget', () => {
    assert.equal(editBudget(8192, 4000).contextTokens, 0);
    assert.ok(editBudget(8192, 100).contextTokens > 0);
  });
});

describe('inlineEditMessages', () => {
  test('carries the region, the instruction, the surrounding code and the rules', () => {
    const messages = inlineEditMessages({
      path: 'src/a.ts',
      languageId: 'typescript',
      instruction: 'rename sum to total',
      region: file.slice(2, 7).join('\n'),
      before: file[0],
      after: file[7],
      rules: { files: [{ path: 'AGENTS.md' }], text: 'Use tabs.' },
    });
    const all = messages.map((m) => m.content).join('\n');
    for (const part of ['rename sum to total', '  const sum = a + b;', 'import x from "x";', 'const y = 1;', 'Use tabs.', 'src/a.ts'])
      assert.ok(all.includes(part), part);
    assert.equal(messages[0].role, 'system');
  });
});

describe('extractCode', () => {
  test('strips an opening and closing fence and what follows the closing one', () => {
    assert.deepEqual(extractCode('```ts\nconst a = 1;\n```\nThis renames it.', true), ['const a = 1;']);
  });
  test('drops a line of prose that introduces the fenced code', () => {
    assert.deepEqual(extractCode('Here is the code:\n```python\nx = 1\n```', true), ['x = 1']);
  });
  test('an answer without fences is the code itself, trailing blank lines dropped', () => {
    assert.deepEqual(extractCode('a\n  b\n\n', true), ['a', '  b']);
  });
  test('a fence after code closes it', () => {
    assert.deepEqual(extractCode('a\nb\n```\nexplanation', true), ['a', 'b']);
  });
  test('while streaming, the unfinished last line (maybe a fence) is held back', () => {
    assert.deepEqual(extractCode('```ts\nconst a', false), []);
    assert.deepEqual(extractCode('```ts\nconst a = 1;\n``', false), ['const a = 1;']);
    assert.deepEqual(extractCode('``', false), []);
  });
});

describe('lineHunks and applyHunks', () => {
  const old = ['a', 'b', 'c', 'd', 'e'];
  const next = ['a', 'B', 'c', 'd', 'e2', 'f'];

  test('each changed stretch is a hunk at its old position', () => {
    assert.deepEqual(lineHunks(old, next), [
      { oldStart: 1, oldLines: ['b'], newLines: ['B'] },
      { oldStart: 4, oldLines: ['e'], newLines: ['e2', 'f'] },
    ]);
  });

  test('accepting all gives the rewrite, none the original, a subset just those hunks', () => {
    const hunks = lineHunks(old, next);
    assert.deepEqual(applyHunks(old, hunks, new Set([0, 1])), next);
    assert.deepEqual(applyHunks(old, hunks, new Set()), old);
    assert.deepEqual(applyHunks(old, hunks, new Set([1])), ['a', 'b', 'c', 'd', 'e2', 'f']);
    assert.deepEqual(applyHunks(old, hunks, new Set([0])), ['a', 'B', 'c', 'd', 'e']);
  });

  test('property: any subset of hunks applies each hunk independently of the others', () => {
    const lines = fc.array(fc.constantFrom('a', 'b', 'c', '', '}'), { maxLength: 12 });
    fc.assert(
      fc.property(lines, lines, fc.array(fc.boolean(), { maxLength: 12 }), (a, b, picks) => {
        const hunks = lineHunks(a, b);
        const all = new Set(hunks.map((_, i) => i));
        assert.deepEqual(applyHunks(a, hunks, all), b);
        assert.deepEqual(applyHunks(a, hunks, new Set()), a);
        const accepted = new Set(hunks.map((_, i) => i).filter((i) => picks[i]));
        const result = applyHunks(a, hunks, accepted);
        const expectedLength = a.length + hunks.reduce((n, h, i) => n + (accepted.has(i) ? h.newLines.length - h.oldLines.length : 0), 0);
        assert.equal(result.length, expectedLength);
      }),
    );
  });

  test('while streaming, old lines the answer has not reached yet are not shown as removed', () => {
    assert.deepEqual(streamingHunks(old, ['a']), []);
    // A new line after 'a' that matches nothing yet: shown as inserted, nothing removed yet.
    assert.deepEqual(streamingHunks(old, ['a', 'B']), [{ oldStart: 1, oldLines: [], newLines: ['B'] }]);
    // Once the answer reaches 'c', 'b' is known to be replaced.
    assert.deepEqual(streamingHunks(old, ['a', 'B', 'c']), [{ oldStart: 1, oldLines: ['b'], newLines: ['B'] }]);
  });
});
