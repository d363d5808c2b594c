import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  cleanCommitMessage,
  commitMessages,
  describeChanges,
  detectCommitStyle,
  parseNumstat,
  summaryReason,
  type ChangedFile,
} from '../../src/commitMessage/core';
import { parseUnifiedDiff } from '../../src/review/diff';

describe('detectCommitStyle on hand-made logs', () => {
  test('a Conventional Commits log, lower-case, no full stops', () => {
    const style = detectCommitStyle([
      'feat(api): add a streaming endpoint for chat',
      'fix: handle an empty diff',
      'Merge branch "main" into feature',
      'fix(engine): stop leaking sequences on abort',
      'chore: bump prettier',
      'docs: explain the cache',
    ]);
    assert.equal(style.conventional, true);
    assert.equal(style.types[0], 'fix');
    assert.ok(style.types.includes('feat'));
    assert.equal(style.capitalized, false);
    assert.equal(style.period, false);
    assert.equal(style.language, 'English');
    assert.ok(!style.examples.some((e) => e.startsWith('Merge')));
  });

  test('a plain, capitalised log with full stops and long subjects', () => {
    const style = detectCommitStyle([
      'Say in the header why the runtime stays over 400 lines and what would split it.',
      'Review e2e: wait for the save to reach the disk instead of a fixed second.',
      'One sampler per request for plain steps and drafting.',
    ]);
    assert.equal(style.conventional, false);
    assert.equal(style.capitalized, true);
    assert.equal(style.period, true);
    assert.ok(style.typicalLength > 50);
  });

  test('a German log is recognised as German', () => {
    const style = detectCommitStyle(['Fehler in der Anmeldung behoben', 'Neue Seite für die Suche hinzugefügt', 'Tests für das Modul']);
    assert.equal(style.language, 'German');
  });

  test('an empty history gives defaults, not a crash', () => {
    const style = detectCommitStyle([]);
    assert.equal(style.conventional, false);
    assert.equal(style.language, undefined);
    assert.deepEqual(style.examples, []);
  });

  test('the prompt carries the style and the examples', () => {
    const style = detectCommitStyle(['feat: a', 'fix: b', 'fix: c']);
    const text = commitMessages({ style, changes: 'DIFF', rules: { files: [{ path: 'AGENTS.md' }], text: 'Sign off.' } })
      .map((m) => m.content)
      .join('\n');
    for (const part of ['Conventional Commits', '- fix: b', 'DIFF', 'Sign off.']) assert.ok(text.includes(part), part);
  });
});

describe('describing the change', () => {
  const diffText = [
    'diff --git a/src/app.ts b/src/app.ts',
    '--- a/src/app.ts',
    '+++ b/src/app.ts',
    '@@ -1,2 +1,2 @@',
    ' const a = 1;',
    '-const b = 2;',
    '+const b = 3;',
    'diff --git a/package-lock.json b/package-lock.json',
    '--- a/package-lock.json',
    '+++ b/package-lock.json',
    '@@ -1 +1 @@',
    '-{"lockfileVersion": 2}',
    '+{"lockfileVersion": 3}',
  ].join('\n');

  test('parseNumstat reads counts, binaries and renames', () => {
    const files = parseNumstat('3\t1\tsrc/app.ts\0-\t-\tlogo.png\0' + '0\t0\t\0old.ts\0new.ts\0');
    assert.deepEqual(files, [
      { path: 'src/app.ts', added: 3, deleted: 1 },
      { path: 'logo.png', added: null, deleted: null },
      { path: 'new.ts', added: 0, deleted: 0 },
    ]);
  });

  test('lockfiles, binaries and files over 1 MB are named with their size of change, not pasted', () => {
    const files: ChangedFile[] = [
      { path: 'src/app.ts', added: 1, deleted: 1, sizeBytes: 40 },
      { path: 'package-lock.json', added: 70, deleted: 50, sizeBytes: 9000 },
      { path: 'logo.png', added: null, deleted: null },
      { path: 'data/big.csv', added: 400000, deleted: 0, sizeBytes: 100 * 1024 * 1024 },
    ];
    assert.equal(summaryReason(files[0]), undefined);
    const { text, pasted, summarised } = describeChanges(files, parseUnifiedDiff(diffText), 10_000);
    assert.equal(pasted, 1);
    assert.equal(summarised, 3);
    assert.ok(text.includes('+const b = 3;'));
    assert.ok(!text.includes('lockfileVersion'));
    assert.match(text, /package-lock\.json: 120 lines changed/);
    assert.match(text, /logo\.png: binary/);
    assert.match(text, /data\/big\.csv: 400000 lines changed/);
  });

  test('a diff over the budget is summarised instead of cut', () => {
    const files: ChangedFile[] = [{ path: 'src/app.ts', added: 1, deleted: 1, sizeBytes: 40 }];
    const { text, pasted } = describeChanges(files, parseUnifiedDiff(diffText), 20);
    assert.equal(pasted, 0);
    assert.match(text, /src\/app\.ts: 2 lines changed/);
  });
});

describe('cleanCommitMessage', () => {
  test('removes fences, a label and quotes; keeps subject and body apart', () => {
    assert.equal(cleanCommitMessage('```\nCommit message: "Fix the cache"\n\n\n\nIt was stale.\n```'), 'Fix the cache\n\nIt was stale.');
    assert.equal(cleanCommitMessage('\n\nfeat: add x\n'), 'feat: add x');
  });
});
