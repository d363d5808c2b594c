// Reading untracked files for a review, on real repositories: symlinks are never followed, huge
// files never read, FIFOs never opened, and Enclave's own .enclave/ output never listed.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { gitDiffArgs, parseUnifiedDiff } from '../../src/review/diff';
import { readWorkingFile, REVIEW_PATHSPECS, untrackedChanges, untrackedListArgs } from '../../src/review/worktree';
import { TempRepo } from './review-repo';

const SECRET = 'PRIVATE-KEY-MATERIAL-3f9a';

describe('untracked files in a review of uncommitted changes', () => {
  const repo = new TempRepo();
  const outside = mkdtempSync(join(tmpdir(), 'enclave-home-'));
  const HUGE = 1.5 * 1024 ** 3;

  before(() => {
    repo.write('src/app.ts', 'export const a = 1;\n');
    repo.write('.enclave/adapters/tracked-notes.md', 'old\n');
    repo.commitAll();
    // A change to a tracked file inside .enclave/ and one outside it.
    repo.write('.enclave/adapters/tracked-notes.md', 'new\n');
    repo.write('src/app.ts', 'export const a = 2;\n');
    // Untracked: ordinary code, a symlink to a key outside the repository, huge sparse files, a FIFO, a binary.
    repo.write('src/new.ts', 'export const b = 1;\n');
    writeFileSync(join(outside, 'id_rsa'), `-----BEGIN OPENSSH PRIVATE KEY-----\n${SECRET}\n`);
    symlinkSync(join(outside, 'id_rsa'), join(repo.root, 'src/key-link'));
    repo.write('.enclave/adapters/project.gguf', '');
    truncateSync(join(repo.root, '.enclave/adapters/project.gguf'), HUGE);
    repo.write('data/dump.sql', '');
    truncateSync(join(repo.root, 'data/dump.sql'), HUGE);
    execFileSync('mkfifo', [join(repo.root, 'src/pipe')]);
    repo.write('assets/icon.bin', Buffer.concat([Buffer.from('GIF89a'), Buffer.alloc(4), Buffer.from('text after the NUL')]));
  });
  after(() => {
    repo.dispose();
    rmSync(outside, { recursive: true, force: true });
  });

  const listUntracked = () =>
    repo
      .git(...untrackedListArgs())
      .split('\0')
      .filter(Boolean);

  it('git lists no file under .enclave/, tracked or untracked', () => {
    const untracked = listUntracked();
    assert.ok(untracked.includes('src/new.ts'));
    assert.ok(untracked.includes('data/dump.sql'));
    assert.ok(!untracked.some((p) => p.startsWith('.enclave/')), untracked.join(', '));
    const changed = parseUnifiedDiff(repo.git(...gitDiffArgs('uncommitted', { base: 'HEAD' }, [...REVIEW_PATHSPECS]))).map((f) => f.path);
    assert.deepEqual(changed, ['src/app.ts']);
  });

  it('reviews ordinary untracked code; skips the symlink, the huge file, the FIFO and the binary without reading them into the prompt', async () => {
    const rssBefore = process.memoryUsage().rss;
    const started = performance.now();
    const { files, skipped } = await untrackedChanges(repo.root, listUntracked());
    const ms = performance.now() - started;
    assert.deepEqual(
      files.map((f) => f.path),
      ['src/new.ts'],
    );
    const reasons = Object.fromEntries(skipped.map((s) => [s.path, s.reason]));
    assert.deepEqual(reasons, { 'assets/icon.bin': 'binary', 'data/dump.sql': 'too-large', 'src/key-link': 'not-a-file' });
    const everything = JSON.stringify(files);
    assert.ok(!everything.includes(SECRET));
    // 1.5 GB was not read: no time, no memory.
    assert.ok(ms < 2000, `${ms} ms`);
    assert.ok(process.memoryUsage().rss - rssBefore < 200 * 1024 * 1024);
  });

  it('even a .enclave path handed in directly is left out', async () => {
    const { files, skipped } = await untrackedChanges(repo.root, ['.enclave/adapters/project.gguf', 'src/new.ts']);
    assert.deepEqual(
      files.map((f) => f.path),
      ['src/new.ts'],
    );
    assert.equal(skipped.length, 0);
  });

  it('the context reader never follows a symlink and never reads past its bound', async () => {
    assert.equal((await readWorkingFile(repo.root, 'src/key-link')).kind, 'skipped');
    assert.deepEqual(await readWorkingFile(repo.root, 'src/new.ts'), { kind: 'text', text: 'export const b = 1;\n' });
    repo.write('src/medium.ts', 'x'.repeat(5000));
    const bounded = await readWorkingFile(repo.root, 'src/medium.ts', 4096);
    assert.equal(bounded.kind === 'skipped' && bounded.skip.reason, 'too-large');
    assert.equal((await readWorkingFile(repo.root, 'src/missing.ts')).kind, 'skipped');
    // git does not list a FIFO, but a path from a diff can be one: it is never opened (opening would block).
    const fifo = await readWorkingFile(repo.root, 'src/pipe');
    assert.equal(fifo.kind === 'skipped' && fifo.skip.reason, 'not-a-file');
  });
});
