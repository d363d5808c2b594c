import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { casesFromChange, chrF, deltaChrF, exactLinesMatch, score, summarize, wouldUndo } from '../eval/nextEditEval';

const current = ['function area(w, h) {', '  const size = w * h;', '  log(a);', '  return a;', '}'].join('\n');
const expected = current.replace('log(a)', 'log(size)');

describe('next-edit scores on hand-made cases', () => {
  test('the expected edit itself: exact, delta-chrF 100, nothing to undo', () => {
    assert.equal(exactLinesMatch(current, expected, expected), true);
    assert.equal(deltaChrF(current, expected, expected), 100);
    assert.equal(wouldUndo(current, expected, expected), false);
  });

  test('the expected edit plus one more: not exact, high but not full chrF, would be undone', () => {
    const more = expected.replace('return a', 'return size');
    assert.equal(exactLinesMatch(current, expected, more), false);
    const f = deltaChrF(current, expected, more);
    assert.ok(f > 50 && f < 100, `chrF ${f}`);
    assert.equal(wouldUndo(current, expected, more), true);
  });

  test('part of the expected edit (a subset of its lines) is not undone, only incomplete', () => {
    const want = expected.replace('return a', 'return size');
    assert.equal(wouldUndo(current, want, expected), false);
    assert.equal(exactLinesMatch(current, want, expected), false);
  });

  test('no prediction: zero chrF, no undo; trailing whitespace does not count', () => {
    assert.equal(deltaChrF(current, expected, current), 0);
    assert.equal(exactLinesMatch(current, expected, expected.replace('log(size);', 'log(size);  ')), true);
    const s = score('x', current, expected, undefined, 12);
    assert.deepEqual([s.suggested, s.exact, s.undo], [false, false, false]);
  });

  test('chrF: identical 100, disjoint 0, symmetric in neither direction but bounded', () => {
    assert.equal(chrF('abc def', 'abcdef'), 100);
    assert.equal(chrF('xyz', 'abc'), 0);
    const f = chrF('abcdefgh', 'abcdxxxx');
    assert.ok(f > 0 && f < 100);
  });

  test('summarize: rates over cases, undo share over suggestions', () => {
    const s = summarize([
      { id: 'a', suggested: true, exact: true, deltaChrF: 100, undo: false, latencyMs: 10 },
      { id: 'b', suggested: true, exact: false, deltaChrF: 40, undo: true, latencyMs: 30 },
      { id: 'c', suggested: false, exact: false, deltaChrF: 0, undo: false, latencyMs: 20 },
      { id: 'd', suggested: false, exact: false, deltaChrF: 0, undo: false, latencyMs: 40 },
    ]);
    assert.equal(s.cases, 4);
    assert.equal(s.exactLinesMatch, 0.25);
    assert.equal(s.deltaChrF, 35);
    assert.equal(s.wouldUndoShare, 0.5);
    assert.equal(s.latencyMsP50, 30);
  });
});

describe('cases from a change', () => {
  const before = Array.from({ length: 30 }, (_, i) => `line ${i}`).join('\n') + '\n';
  const lines = before.split('\n');
  lines[3] = 'line 3 changed';
  lines.splice(6, 0, 'inserted after 5');
  lines[26] = 'far away';
  const after = lines.join('\n');

  test('each hunk after the first is a case when it is within reach of the previous one', () => {
    const cases = casesFromChange('c1', 'f.txt', before, after);
    assert.equal(cases.length, 1, 'the far hunk is out of reach of the cursor');
    const [c] = cases;
    assert.equal(c.steps.length, 2);
    assert.equal(c.steps[0], before);
    assert.ok(c.steps[1].includes('line 3 changed') && !c.steps[1].includes('inserted after 5'));
    assert.ok(c.expected.includes('line 3 changed') && c.expected.includes('inserted after 5') && !c.expected.includes('far away'));
    assert.deepEqual(c.cursor, { line: 3, character: 'line 3 changed'.length });
    assert.equal(c.expected.split('\n')[6], 'inserted after 5');
  });

  test('the hunks applied in sequence give the commit’s file', () => {
    const cases = casesFromChange('c1', 'f.txt', before, after, { below: 100 });
    assert.equal(cases.length, 2);
    assert.equal(cases[1].expected, after);
  });
});
