import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { changedLines, EditHistory } from '../../src/nextEdit/history';
import type { DocumentChange } from '../../src/nextEdit/types';

/** A document the tests edit the way VS Code reports it: each step's full text after the change. */
class Doc {
  version = 1;
  constructor(
    readonly history: EditHistory,
    readonly uri: string,
    public text: string,
  ) {}

  /** Replaces [from, to) with `text` and records the change (clock in ms). */
  edit(from: number, to: number, text: string, now: number): void {
    const start = positionAt(this.text, from);
    const end = positionAt(this.text, to);
    this.text = this.text.slice(0, from) + text + this.text.slice(to);
    const change: DocumentChange = {
      uri: this.uri,
      languageId: 'typescript',
      version: ++this.version,
      changes: [{ range: { start, end }, rangeLength: to - from, text }],
      textAfter: this.text,
    };
    this.history.record(change, now);
  }

  type(at: number, word: string, now: number): number {
    for (const ch of word) {
      this.edit(at, at, ch, now);
      at++;
      now += 100;
    }
    return now;
  }
}

function positionAt(text: string, offset: number) {
  const before = text.slice(0, offset).split('\n');
  return { line: before.length - 1, character: before[before.length - 1].length };
}

const lines = (n: number, f = (i: number) => `line ${i}`) => Array.from({ length: n }, (_, i) => f(i)).join('\n');

describe('changedLines', () => {
  test('whole lines around an edit inside one line', () => {
    const r = changedLines('a\nfoo bar\nc', 'a\nfoo baz\nc');
    assert.equal(r.oldText, 'foo bar');
    assert.equal(r.newText, 'foo baz');
    assert.equal(r.start, 2);
  });
  test('an inserted line', () => {
    const r = changedLines('a\nb', 'a\nx\nb');
    assert.equal(r.start, 2);
    assert.equal(r.newText.split('\n').length - r.oldText.split('\n').length, 1);
    assert.ok(r.newText.includes('x'));
  });
  test('a joined line (newline deleted)', () => {
    const r = changedLines('a\nb', 'ab');
    assert.equal(r.oldText, 'a\nb');
    assert.equal(r.newText, 'ab');
  });
});

describe('EditHistory', () => {
  test('typing a word is one hunk; typing elsewhere later is a second, oldest first', () => {
    const h = new EditHistory();
    const doc = new Doc(h, 'file:///a.ts', lines(40));
    doc.edit(0, 0, '', 0); // no-op change: nothing recorded
    const now = doc.type(doc.text.indexOf('line 3') + 6, 'Count', 1000);
    assert.equal(h.recent().length, 1);
    assert.deepEqual(
      h.recent().map((x) => [x.oldText, x.newText]),
      [['line 3', 'line 3Count']],
    );
    doc.type(doc.text.indexOf('line 30') + 7, 'xyz', now + 500);
    const hunks = h.recent();
    assert.equal(hunks.length, 2);
    assert.equal(hunks[0].newText, 'line 3Count');
    assert.equal(hunks[1].newText, 'line 30xyz');
    assert.equal(hunks[1].startLine, 30);
    assert.equal(h.last('file:///a.ts')?.newText, 'line 30xyz');
  });

  test('an edit on the next line joins the burst; a pause ends it', () => {
    const h = new EditHistory({ burstIdleMs: 5000 });
    const doc = new Doc(h, 'file:///b.ts', lines(10));
    let now = doc.type(doc.text.indexOf('line 4') + 6, 'A', 0);
    now = doc.type(doc.text.indexOf('line 5') + 6, 'B', now);
    assert.equal(h.recent().length, 1);
    assert.equal(h.recent()[0].oldText, 'line 4\nline 5');
    assert.equal(h.recent()[0].newText, 'line 4A\nline 5B');
    doc.type(doc.text.indexOf('line 6') + 6, 'C', now + 60_000);
    assert.equal(h.recent().length, 2);
  });

  test('typing then deleting the same text leaves no hunk', () => {
    const h = new EditHistory();
    const doc = new Doc(h, 'file:///c.ts', lines(5));
    const at = doc.text.indexOf('line 2') + 6;
    const now = doc.type(at, 'ab', 0);
    doc.edit(at, at + 2, '', now);
    assert.deepEqual(h.recent(), []);
  });

  test('hunks across files stay in time order and within the token budget', () => {
    const h = new EditHistory({ maxTokens: 60 });
    const a = new Doc(h, 'file:///a.ts', lines(50));
    const b = new Doc(h, 'file:///b.ts', lines(50));
    let now = 0;
    for (let i = 0; i < 8; i++) {
      const doc = i % 2 ? b : a;
      now = doc.type(doc.text.indexOf(`line ${i * 5}\n`) + 4, `_${i}`, now + 40_000);
    }
    const recent = h.recent();
    assert.ok(recent.length >= 1 && recent.length < 8, `budget keeps a few, got ${recent.length}`);
    assert.equal(recent[recent.length - 1].newText, 'line_7 35');
    for (let i = 1; i < recent.length; i++) assert.ok(recent[i - 1].at < recent[i].at);
  });

  test('an edit storm (formatter rewrite, big paste) is not recorded and ends the burst', () => {
    const h = new EditHistory({ stormLines: 200 });
    const doc = new Doc(h, 'file:///d.ts', lines(300));
    const now = doc.type(doc.text.indexOf('line 10') + 7, 'x', 0);
    doc.edit(
      0,
      doc.text.length,
      lines(300, (i) => `  formatted ${i}`),
      now,
    );
    assert.equal(h.recent().length, 1);
    doc.edit(doc.text.length, doc.text.length, '\n' + lines(10_000), now + 10);
    assert.equal(h.recent().length, 1);
    // The next keystroke diffs against the text after the storm.
    doc.type(doc.text.indexOf('formatted 2\n') + 11, 'y', now + 20);
    assert.equal(h.recent().length, 2);
    assert.equal(h.recent()[1].oldText, '  formatted 2');
  });

  test('huge documents and minified lines are not recorded', () => {
    const h = new EditHistory();
    const big = new Doc(h, 'file:///big.js', 'x'.repeat(1_100_000));
    big.edit(10, 10, 'y', 0);
    big.edit(20, 20, 'y', 10);
    assert.deepEqual(h.recent(), []);
    assert.equal(h.textOf('file:///big.js'), undefined);
    const min = new Doc(h, 'file:///min.js', 'a\n' + 'v'.repeat(100_000) + '\nb');
    min.edit(5, 5, 'y', 0);
    min.edit(6, 6, 'y', 10);
    assert.deepEqual(h.recent(), []);
    min.edit(0, 0, 'z', 20); // a short line of the same document still counts
    assert.equal(h.recent().length, 1);
  });

  test('the first change of an unseen document: an insertion is recorded, a replacement only snapshots', () => {
    const h = new EditHistory();
    const doc = new Doc(h, 'file:///e.ts', 'abc\ndef');
    doc.edit(4, 7, 'XYZ', 0); // replacement: what was deleted is unknown
    assert.deepEqual(h.recent(), []);
    doc.edit(7, 7, '!', 10); // now the snapshot exists
    assert.equal(h.recent()[0].newText, 'XYZ!');
    const fresh = new EditHistory();
    new Doc(fresh, 'file:///f.ts', 'abc\ndef').edit(1, 1, 'Q', 0);
    assert.deepEqual(
      fresh.recent().map((x) => [x.oldText, x.newText]),
      [['abc', 'aQbc']],
    );
  });
});
