import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { cursorAfter, isRewriteOf, positionIn, regionEdits, toPlainEdits, withoutUndos, type RegionEdit } from '../../src/nextEdit/edits';
import type { EditHunk } from '../../src/nextEdit/history';
import type { PlainEdit } from '../../src/nextEdit/types';

/** Applies region edits (offsets in the original) — what accepting the suggestion does. */
function apply(text: string, edits: RegionEdit[]): string {
  let out = text;
  for (const e of [...edits].sort((a, b) => b.start - a.start)) out = out.slice(0, e.start) + e.newText + out.slice(e.end);
  return out;
}

/** Applies document edits the way VS Code does (positions in lines / UTF-16 characters). */
function applyPlain(doc: string, edits: PlainEdit[]): string {
  const lineStarts = [0];
  for (let i = 0; i < doc.length; i++) if (doc[i] === '\n') lineStarts.push(i + 1);
  const offset = (p: { line: number; character: number }) => lineStarts[p.line] + p.character;
  let out = doc;
  for (const e of [...edits].sort((a, b) => offset(b.range.start) - offset(a.range.start))) {
    out = out.slice(0, offset(e.range.start)) + e.newText + out.slice(offset(e.range.end));
  }
  return out;
}

const cases: { name: string; region: string; predicted: string }[] = [
  { name: 'one word changed', region: 'const a = foo(1);\nconst b = foo(2);', predicted: 'const a = bar(1);\nconst b = foo(2);' },
  { name: 'a line inserted at the end', region: 'a\nb', predicted: 'a\nb\nc' },
  { name: 'a line inserted at the start', region: 'a\nb', predicted: 'z\na\nb' },
  { name: 'edit at the very start and the very end', region: 'abc def\nghi', predicted: 'Xabc def\nghiY' },
  { name: 'a line deleted', region: 'one\ntwo\nthree', predicted: 'one\nthree' },
  { name: 'everything deleted', region: 'x\ny', predicted: '' },
  {
    name: 'renames on several lines',
    region: 'let n = 1;\nuse(n);\nlog(n, n);',
    predicted: 'let count = 1;\nuse(count);\nlog(count, count);',
  },
  { name: 'emoji replaced by another (surrogate pairs)', region: 'say("😀 hi")', predicted: 'say("😃 hi")' },
  { name: 'text around an astral character', region: 'a𝒳b', predicted: 'a𝒳c' },
];

describe('regionEdits', () => {
  for (const c of cases) {
    test(`${c.name}: applying the edits gives the prediction, edits sorted and disjoint`, () => {
      const edits = regionEdits(c.region, c.predicted);
      assert.equal(apply(c.region, edits), c.predicted);
      for (let i = 1; i < edits.length; i++) assert.ok(edits[i - 1].end <= edits[i].start, 'sorted, disjoint');
      for (const e of edits) {
        assert.ok(e.end > e.start || e.newText.length > 0, 'no no-op edits');
        for (const at of [e.start, e.end]) {
          const high = c.region.charCodeAt(at - 1);
          assert.ok(!(high >= 0xd800 && high <= 0xdbff), `boundary ${at} splits a surrogate pair`);
        }
      }
    });
  }

  test('the edits are small: one word changed is one edit of that word', () => {
    const edits = regionEdits('const a = foo(1);\nconst b = foo(2);', 'const a = bar(1);\nconst b = foo(2);');
    assert.deepEqual(edits, [{ start: 10, end: 13, newText: 'bar' }]);
  });

  test('identical text: no edits', () => {
    assert.deepEqual(regionEdits('a\nb', 'a\nb'), []);
  });
});

describe('document positions', () => {
  test('edits land on the right lines of the document, also for CRLF', () => {
    const lf = 'header\nconst a = foo(1);\nconst b = foo(2);\nfooter';
    const crlf = lf.replace(/\n/g, '\r\n');
    const region = { startLine: 1, text: 'const a = foo(1);\nconst b = foo(2);' };
    const predicted = 'const a = bar(1);\nconst b = foo(2);\nconst c = foo(3);';
    const edits = regionEdits(region.text, predicted);
    const expected = 'header\n' + predicted + '\nfooter';
    assert.equal(applyPlain(lf, toPlainEdits(region, edits, '\n')), expected);
    assert.equal(applyPlain(crlf, toPlainEdits(region, edits, '\r\n')), expected.replace(/\n/g, '\r\n'));
  });

  test('positions count UTF-16 code units', () => {
    const region = { startLine: 4, text: '😀x\nab' };
    assert.deepEqual(positionIn(region, 2), { line: 4, character: 2 });
    assert.deepEqual(positionIn(region, 3), { line: 4, character: 3 });
    assert.deepEqual(positionIn(region, 4), { line: 5, character: 0 });
    assert.deepEqual(positionIn(region, 6), { line: 5, character: 2 });
  });

  test('the predicted cursor is a position after the edits', () => {
    assert.deepEqual(cursorAfter({ startLine: 10, text: 'a\nb' }, 'a\nnew line\nb', 'a\nnew line'.length), { line: 11, character: 8 });
  });
});

describe('isRewriteOf', () => {
  const region = 'function add(a, b) {\n  return a + b;\n}\n\nfunction sub(a, b) {\n  return a - b;\n}';
  test('a rewrite with a small change is one', () => {
    assert.equal(isRewriteOf(region, region.replace('a - b', 'a - b - 0')), true);
    assert.equal(isRewriteOf(region, region + '\n\nfunction mul(a, b) {\n  return a * b;\n}'), true);
  });
  test('a chat answer, another file or a runaway repetition is not', () => {
    assert.equal(isRewriteOf(region, 'Sure! Here is the updated code with the changes you asked for.'), false);
    assert.equal(isRewriteOf(region, 'import os\nimport sys\n\nprint(sys.argv)\n'), false);
    assert.equal(isRewriteOf(region, region + '\n' + 'x = 1;\n'.repeat(500)), false);
  });
});

describe('withoutUndos', () => {
  const region = { startLine: 0, text: 'const total = a + b;\nreturn total;' };
  const typed: EditHunk = {
    uri: 'file:///x.ts',
    languageId: 'typescript',
    startLine: 0,
    oldText: 'const sum = a + b;',
    newText: 'const total = a + b;',
    offset: 0,
    at: 0,
  };
  test('an edit that puts back what the user just replaced is dropped', () => {
    const edits = regionEdits(region.text, 'const sum = a + b;\nreturn total;');
    assert.equal(edits.length, 1);
    assert.deepEqual(withoutUndos(region, edits, typed), []);
  });
  test('an edit that continues the user’s change is kept', () => {
    const edits = regionEdits(region.text, 'const total = a + b;\nreturn total * 2;');
    assert.deepEqual(withoutUndos(region, edits, typed), edits);
  });
  test('an edit far from the last hunk is not judged by it', () => {
    const far = { ...typed, startLine: 40 };
    const edits = regionEdits(region.text, 'const sum = a + b;\nreturn total;');
    assert.deepEqual(withoutUndos(region, edits, far), edits);
  });
  test('deleting a line the user just typed is dropped', () => {
    const added: EditHunk = { ...typed, startLine: 1, oldText: '', newText: 'return total;' };
    const edits = regionEdits(region.text, 'const total = a + b;\n');
    assert.deepEqual(withoutUndos(region, edits, added), []);
  });
});
