import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';

import { gitDiffArgs, mapLineThroughDiff, parseUnifiedDiff, splitLines } from '../../src/review/diff';
import {
  countBySeverity,
  dedupeFindings,
  placeFindings,
  similarMessages,
  sortFindings,
  type Finding,
  type PlacementContext,
} from '../../src/review/findings';
import type { RawFinding } from '../../src/review/schema';
import { numberedLines, TempRepo } from './review-repo';

const raw = (over: Partial<RawFinding> = {}): RawFinding => ({
  file: 'a.ts',
  startLine: 10,
  endLine: 10,
  severity: 'warning',
  category: 'bug',
  message: 'this can be undefined',
  replacement: null,
  ...over,
});
const ctx = (over: Partial<PlacementContext> = {}): PlacementContext => ({
  path: 'a.ts',
  changed: [{ start: 10, end: 12 }],
  lineCount: 50,
  tolerance: 2,
  outside: 'drop',
  ...over,
});

describe('placeFindings', () => {
  test('keeps findings on the changed lines, within the tolerance', () => {
    const { findings, dropped } = placeFindings(
      [raw(), raw({ startLine: 14, endLine: 14 }), raw({ startLine: 8, endLine: 8 }), raw({ startLine: 15, endLine: 20 })],
      ctx(),
    );
    assert.deepEqual(
      findings.map((f) => f.startLine),
      [10, 14, 8],
    );
    assert.equal(dropped.outsideChange, 1);
  });

  test('flags rather than drops when asked', () => {
    const { findings } = placeFindings([raw({ startLine: 30, endLine: 31 }), raw()], ctx({ outside: 'flag' }));
    assert.deepEqual(
      findings.map((f) => [f.startLine, f.outsideChange]),
      [
        [30, true],
        [10, false],
      ],
    );
  });

  test('clamps ranges to the file and puts reversed ranges right', () => {
    const { findings } = placeFindings(
      [raw({ startLine: 12, endLine: 9 }), raw({ startLine: 45, endLine: 99 })],
      ctx({
        changed: [
          { start: 9, end: 12 },
          { start: 48, end: 50 },
        ],
      }),
    );
    assert.deepEqual(
      findings.map((f) => [f.startLine, f.endLine]),
      [
        [9, 12],
        [45, 50],
      ],
    );
  });

  test('drops findings about another file or with an empty message; trims messages', () => {
    const { findings, dropped } = placeFindings([raw({ file: 'b.ts' }), raw({ message: '   ' }), raw({ message: '  spaced  ' })], ctx());
    assert.deepEqual(
      findings.map((f) => f.message),
      ['spaced'],
    );
    assert.deepEqual(dropped, { emptyMessage: 1, otherFile: 1, outsideChange: 0, lineGone: 0 });
  });

  test('ids are stable and tell findings apart', () => {
    const a = placeFindings([raw(), raw({ message: 'other' })], ctx()).findings;
    const b = placeFindings([raw(), raw({ message: 'other' })], ctx()).findings;
    assert.deepEqual(
      a.map((f) => f.id),
      b.map((f) => f.id),
    );
    assert.notEqual(a[0].id, a[1].id);
  });
});

describe('mapping a staged review onto the current file (real git)', () => {
  const repo = new TempRepo();
  after(() => repo.dispose());

  test('findings follow their lines through later edits; replacements are kept only where the lines are intact', () => {
    repo.write('a.ts', numberedLines(40));
    repo.commitAll();
    const staged = splitLines(repo.read('a.ts'));
    staged[19] = 'const v20 = undefined as unknown as number;'; // the reviewed change, line 20
    staged[29] = 'const v30 = 300;'; // line 30
    repo.write('a.ts', staged.join('\n') + '\n');
    repo.git('add', 'a.ts');
    // Edited after staging: 3 lines inserted at the top, line 30 rewritten again.
    const current = [...staged];
    current.splice(0, 0, '// a', '// b', '// c');
    current[32] = 'const v30 = 3000;';
    repo.write('a.ts', current.join('\n') + '\n');

    const reviewed = parseUnifiedDiff(repo.git(...gitDiffArgs('staged')))[0];
    const indexToWorktree = parseUnifiedDiff(repo.git('diff', '--no-color', '--', 'a.ts'))[0];
    const { findings, dropped } = placeFindings(
      [
        raw({ startLine: 20, endLine: 20, replacement: 'const v20 = 20;' }),
        raw({ startLine: 30, endLine: 30, message: 'magic number' }),
        raw({ startLine: 19, endLine: 21, message: 'range across the change', replacement: 'x' }),
      ],
      {
        path: 'a.ts',
        changed: [
          { start: 20, end: 20 },
          { start: 30, end: 30 },
        ],
        lineCount: 40,
        tolerance: 1,
        outside: 'drop',
        mapLine: (n) => mapLineThroughDiff(indexToWorktree, n),
      },
    );
    assert.ok(reviewed.hunks.length > 0);
    const lines = splitLines(repo.read('a.ts'));
    const first = findings.find((f) => f.message === 'this can be undefined')!;
    assert.equal(first.startLine, 23);
    assert.equal(lines[first.startLine - 1], staged[19], 'the finding points at the same code in the current file');
    assert.equal(first.replacement, 'const v20 = 20;');
    assert.equal(findings.find((f) => f.message === 'range across the change')?.startLine, 22);
    // Line 30 was rewritten since: its finding has nowhere to go.
    assert.equal(
      findings.some((f) => f.message === 'magic number'),
      false,
    );
    assert.equal(dropped.lineGone, 1);
  });
});

describe('dedupeFindings and sortFindings', () => {
  const place = (list: RawFinding[]): Finding[] => placeFindings(list, ctx({ changed: [{ start: 1, end: 50 }] })).findings;

  test('same file, overlapping lines, similar message: one finding, the most severe', () => {
    const out = dedupeFindings(
      place([
        raw({ severity: 'info', message: 'Value may be undefined here.' }),
        raw({ severity: 'error', startLine: 9, endLine: 11, message: 'value may be undefined here' }),
        raw({ startLine: 10, endLine: 10, message: 'Loop never terminates' }),
        raw({ startLine: 30, endLine: 30, message: 'value may be undefined here' }),
      ]),
    );
    assert.deepEqual(
      out.map((f) => [f.startLine, f.severity, f.message]),
      [
        [9, 'error', 'value may be undefined here'],
        [10, 'warning', 'Loop never terminates'],
        [30, 'warning', 'value may be undefined here'],
      ],
    );
  });

  test('similar messages: normalised equality, containment, shared words', () => {
    assert.ok(similarMessages('Missing null check!', 'missing null check'));
    assert.ok(similarMessages('possible SQL injection', 'Possible SQL injection via user input'));
    assert.ok(similarMessages('the index can run past the end of the array', 'index can run past the end of array'));
    assert.ok(!similarMessages('unused variable', 'missing await'));
    assert.ok(!similarMessages('off by one', 'off by two'));
  });

  test('the order is the same whatever order the findings came in', () => {
    const list = place([
      raw({ startLine: 20, endLine: 20, message: 'b' }),
      raw({ startLine: 5, endLine: 7, message: 'c' }),
      raw({ startLine: 5, endLine: 6, severity: 'info', message: 'a' }),
      raw({ startLine: 5, endLine: 6, severity: 'error', message: 'z' }),
      raw({ file: 'a.ts', startLine: 5, endLine: 6, severity: 'error', category: 'security', message: 'z' }),
    ]);
    const sorted = sortFindings(list).map((f) => `${f.startLine}-${f.endLine} ${f.severity} ${f.category} ${f.message}`);
    assert.deepEqual(sorted, ['5-6 error bug z', '5-6 error security z', '5-6 info bug a', '5-7 warning bug c', '20-20 warning bug b']);
    assert.deepEqual(
      sortFindings([...list].reverse()).map((f) => f.id),
      sortFindings(list).map((f) => f.id),
    );
    assert.deepEqual(countBySeverity(list), { error: 2, warning: 2, info: 1 });
  });
});
