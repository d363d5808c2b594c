import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  changedLines,
  generatedByContent,
  generatedByPath,
  gitDiffArgs,
  mapLineThroughDiff,
  parseUnifiedDiff,
  selectReviewable,
  splitLines,
  unquote,
  wholeFileDiff,
  type FileDiff,
} from '../../src/review/diff';
import { numberedLines, TempRepo } from './review-repo';

const byPath = (files: FileDiff[], path: string) => {
  const f = files.find((x) => x.path === path);
  assert.ok(f, `no diff for ${path}; got ${files.map((x) => x.path).join(', ')}`);
  return f;
};

describe('parseUnifiedDiff on real git diffs', () => {
  const repo = new TempRepo();
  let files: FileDiff[];
  before(() => {
    repo.write('src/app.ts', numberedLines(30));
    repo.write('old name.ts', 'export const kept = 1;\nexport const two = 2;\nexport const three = 3;\nexport const four = 4;\n');
    repo.write('gone.ts', 'export const gone = true;\n');
    repo.write('logo.png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 3, 0, 0]));
    repo.commitAll('initial');

    const app = splitLines(repo.read('src/app.ts'));
    app[1] = 'const v2 = 22;'; // modified line 2
    app.splice(10, 0, 'const inserted = true;', 'const alsoInserted = true;'); // lines 11-12 added
    app.splice(25, 1); // old line 24 removed
    repo.write('src/app.ts', app.join('\n') + '\n');
    repo.git('mv', 'old name.ts', 'new name.ts');
    repo.write('new name.ts', repo.read('new name.ts') + 'export const five = 5;\n');
    repo.git('rm', '-q', 'gone.ts');
    repo.write('logo.png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 9, 9, 9, 0, 0]));
    repo.write('ünïcode.ts', 'export const ü = 1;\n');
    repo.git('add', '-A');
    files = parseUnifiedDiff(repo.git(...gitDiffArgs('staged')));
  });
  after(() => repo.dispose());

  test('finds every file with its status', () => {
    assert.deepEqual(files.map((f) => [f.path, f.status]).sort(), [
      ['gone.ts', 'deleted'],
      ['logo.png', 'modified'],
      ['new name.ts', 'renamed'],
      ['src/app.ts', 'modified'],
      ['ünïcode.ts', 'added'],
    ]);
    assert.equal(byPath(files, 'new name.ts').oldPath, 'old name.ts');
    assert.equal(byPath(files, 'gone.ts').newPath, null);
    assert.equal(byPath(files, 'ünïcode.ts').oldPath, null);
  });

  test('marks binary files and gives them no hunks', () => {
    const png = byPath(files, 'logo.png');
    assert.equal(png.binary, true);
    assert.equal(png.hunks.length, 0);
    assert.ok(files.filter((f) => f.path !== 'logo.png').every((f) => !f.binary));
  });

  test('numbers every added and context line as in the new file', () => {
    const app = byPath(files, 'src/app.ts');
    const newText = splitLines(repo.read('src/app.ts'));
    for (const hunk of app.hunks) {
      for (const line of hunk.lines) {
        if (line.kind !== 'del') assert.equal(newText[line.newLine! - 1], line.text, `new line ${line.newLine}`);
      }
    }
    const added = app.hunks.flatMap((h) => h.lines.filter((l) => l.kind === 'add').map((l) => l.newLine));
    assert.deepEqual(added, [2, 11, 12]);
    const deleted = app.hunks.flatMap((h) => h.lines.filter((l) => l.kind === 'del').map((l) => [l.oldLine, l.text]));
    assert.deepEqual(deleted, [
      [2, 'const v2 = 2;'],
      [24, 'const v24 = 24;'],
    ]);
    assert.equal(app.additions, 3);
    assert.equal(app.deletions, 2);
  });

  test('changed lines: added lines, and the lines either side of a deletion', () => {
    // Old line 24 was removed: in the new file it sat between new lines 25 and 26.
    assert.deepEqual(changedLines(byPath(files, 'src/app.ts')), [
      { start: 2, end: 2 },
      { start: 11, end: 12 },
      { start: 25, end: 26 },
    ]);
  });

  test('skips binary, deleted and generated files, and lists them with the reason', () => {
    const { review, skipped } = selectReviewable(files);
    assert.deepEqual(review.map((f) => f.path).sort(), ['new name.ts', 'src/app.ts', 'ünïcode.ts']);
    assert.deepEqual(skipped.map((s) => [s.path, s.reason]).sort(), [
      ['gone.ts', 'deleted'],
      ['logo.png', 'binary'],
    ]);
  });

  test('uncommitted = working tree and index against HEAD; staged = index only', () => {
    repo.write('src/app.ts', repo.read('src/app.ts') + 'const unstaged = 1;\n');
    const staged = byPath(parseUnifiedDiff(repo.git(...gitDiffArgs('staged'))), 'src/app.ts');
    const uncommitted = byPath(parseUnifiedDiff(repo.git(...gitDiffArgs('uncommitted'))), 'src/app.ts');
    assert.equal(uncommitted.additions, staged.additions + 1);
    assert.ok(!staged.hunks.some((h) => h.lines.some((l) => l.text === 'const unstaged = 1;')));
    assert.ok(uncommitted.hunks.some((h) => h.lines.some((l) => l.text === 'const unstaged = 1;')));
  });
});

describe('generated files', () => {
  const repo = new TempRepo();
  let files: FileDiff[];
  before(() => {
    repo.write('README.md', '# x\n');
    repo.commitAll();
    repo.write('package-lock.json', '{\n  "lockfileVersion": 3\n}\n');
    repo.write('web/vendor.min.js', 'var a=1;\n');
    repo.write('dist/extension.js', 'module.exports = {};\n');
    repo.write('src/api.pb.go', 'package api\n');
    repo.write('src/schema.ts', '// Code generated by schema-gen. DO NOT EDIT.\nexport type A = 1;\n');
    repo.write('src/bundle.js', `${'x'.repeat(2000)}\n`);
    repo.write('src/real.ts', 'export const real = 1;\n');
    repo.git('add', '-A');
    files = parseUnifiedDiff(repo.git(...gitDiffArgs('staged')));
  });
  after(() => repo.dispose());

  test('lockfiles, minified files, build output and generated headers are skipped and listed', () => {
    const { review, skipped } = selectReviewable(files);
    assert.deepEqual(
      review.map((f) => f.path),
      ['src/real.ts'],
    );
    const reasons = Object.fromEntries(skipped.map((s) => [s.path, `${s.reason}: ${s.detail}`]));
    assert.deepEqual(reasons, {
      'package-lock.json': 'generated: lockfile',
      'web/vendor.min.js': 'generated: generated name',
      'dist/extension.js': 'generated: in dist/',
      'src/api.pb.go': 'generated: generated name',
      'src/schema.ts': 'generated: generated header',
      'src/bundle.js': 'generated: minified',
    });
  });

  test('a generated header outside the hunks is found through the file head', () => {
    repo.commitAll();
    repo.write('src/schema.ts', repo.read('src/schema.ts') + 'export type B = 2;\n');
    const diff = parseUnifiedDiff(repo.git(...gitDiffArgs('uncommitted')));
    // The hunk starts at line 1 here (3 lines of context), so use a header the hunk cannot see:
    const withoutHead = selectReviewable(diff, () => ['// plain file']);
    assert.equal(withoutHead.review.length, 1);
    const withHead = selectReviewable(diff, (p) => splitLines(repo.read(p)));
    assert.equal(withHead.skipped[0]?.detail, 'generated header');
  });

  test('path and content heuristics', () => {
    assert.equal(generatedByPath('a/b/yarn.lock'), 'lockfile');
    assert.equal(generatedByPath('distant/file.ts'), undefined);
    assert.equal(generatedByPath('pkg/dist/x.js'), 'in dist/');
    assert.equal(generatedByContent(['/* @generated */']), 'generated header');
    assert.equal(generatedByContent(['const x = 1;', 'const generatedAt = now();']), undefined);
  });
});

describe('mapLineThroughDiff', () => {
  const repo = new TempRepo();
  after(() => repo.dispose());

  function diffAfter(change: (lines: string[]) => void): { file: FileDiff; before: string[]; after: string[] } {
    repo.write('f.ts', numberedLines(40));
    repo.commitAll();
    const lines = splitLines(repo.read('f.ts'));
    const before = [...lines];
    change(lines);
    repo.write('f.ts', lines.join('\n') + '\n');
    const file = parseUnifiedDiff(repo.git(...gitDiffArgs('uncommitted')))[0];
    return { file, before, after: lines };
  }

  /** Every old line maps to the new line with the same text, or to nothing if its text is gone. */
  function assertMapsByContent(file: FileDiff, before: string[], after: string[]): void {
    for (let old = 1; old <= before.length; old++) {
      const mapped = mapLineThroughDiff(file, old);
      const expected = after.indexOf(before[old - 1]);
      if (expected < 0) assert.equal(mapped, undefined, `old line ${old} was removed`);
      else assert.equal(mapped, expected + 1, `old line ${old} ("${before[old - 1]}")`);
    }
  }

  test('lines added above shift the lines below', () => {
    const { file, before, after } = diffAfter((l) => l.splice(5, 0, 'const a = 0;', 'const b = 0;', 'const c = 0;'));
    assert.equal(mapLineThroughDiff(file, 5), 5);
    assert.equal(mapLineThroughDiff(file, 6), 9);
    assert.equal(mapLineThroughDiff(file, 40), 43);
    assertMapsByContent(file, before, after);
  });

  test('removed lines map to nothing and the lines below move up', () => {
    const { file, before, after } = diffAfter((l) => l.splice(19, 2));
    assert.equal(mapLineThroughDiff(file, 20), undefined);
    assert.equal(mapLineThroughDiff(file, 21), undefined);
    assert.equal(mapLineThroughDiff(file, 22), 20);
    assertMapsByContent(file, before, after);
  });

  test('a moved line follows its content', () => {
    const { file, before, after } = diffAfter((l) => {
      const [moved] = l.splice(2, 1);
      l.splice(30, 0, moved);
    });
    assert.equal(mapLineThroughDiff(file, 3), 31);
    assertMapsByContent(file, before, after);
  });

  test('several hunks at once', () => {
    const { file, before, after } = diffAfter((l) => {
      l[0] = 'const first = 0;';
      l.splice(15, 1);
      l.splice(35, 0, 'const late = 1;');
    });
    assert.ok(file.hunks.length >= 2);
    assertMapsByContent(file, before, after);
  });
});

describe('other diffs', () => {
  test('wholeFileDiff: every line (or the selected ones) counts as changed', () => {
    const text = 'a\nb\nc\nd\n';
    assert.deepEqual(changedLines(wholeFileDiff('x.ts', text)), [{ start: 1, end: 4 }]);
    const sel = wholeFileDiff('x.ts', text, { start: 2, end: 3 });
    assert.deepEqual(changedLines(sel), [{ start: 2, end: 3 }]);
    assert.deepEqual(
      sel.hunks[0].lines.map((l) => l.text),
      ['b', 'c'],
    );
  });

  test('git C-quoted paths are decoded', () => {
    assert.equal(unquote('"a/\\303\\274.ts"'), 'a/ü.ts');
    assert.equal(unquote('"tab\\there"'), 'tab\there');
    assert.equal(unquote('plain'), 'plain');
  });

  test('quoted paths in a diff header (core.quotepath on)', () => {
    const repo = new TempRepo();
    try {
      repo.write('x', '1\n');
      repo.commitAll();
      repo.write('ä b.ts', '1\n');
      repo.git('add', '-A');
      const files = parseUnifiedDiff(repo.git('-c', 'core.quotepath=on', 'diff', '--cached'));
      assert.deepEqual(
        files.map((f) => f.path),
        ['ä b.ts'],
      );
    } finally {
      repo.dispose();
    }
  });

  test('a plain unified diff without git headers', () => {
    const files = parseUnifiedDiff('--- a/x.ts\t2024-01-01\n+++ b/x.ts\t2024-01-02\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n');
    assert.equal(files.length, 1);
    assert.equal(files[0].path, 'x.ts');
    assert.deepEqual(changedLines(files[0]), [{ start: 2, end: 2 }]);
  });

  test('branch scope: the commits of the branch since the merge base, not what main did meanwhile', () => {
    const repo = new TempRepo();
    try {
      repo.write('shared.ts', numberedLines(10));
      repo.commitAll('base');
      repo.git('checkout', '-q', '-b', 'feature');
      repo.write('feature.ts', 'export const feature = 1;\n');
      repo.commitAll('feature work');
      repo.git('checkout', '-q', 'main');
      repo.write('main-only.ts', 'export const later = 1;\n');
      repo.commitAll('main moves on');
      repo.git('checkout', '-q', 'feature');
      repo.write('feature.ts', 'export const feature = 2;\n'); // uncommitted: not part of the branch review
      const base = repo.git('merge-base', 'main', 'HEAD').trim();
      const files = parseUnifiedDiff(repo.git(...gitDiffArgs('branch', { base })));
      assert.deepEqual(
        files.map((f) => [f.path, f.status]),
        [['feature.ts', 'added']],
      );
      assert.equal(files[0].hunks[0].lines[0].text, 'export const feature = 1;');
    } finally {
      repo.dispose();
    }
  });

  test('branch scope needs a base', () => {
    assert.throws(() => gitDiffArgs('branch'));
    assert.deepEqual(gitDiffArgs('branch', { base: 'abc' }).slice(-2), ['abc', 'HEAD']);
  });
});
