import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';

import { decodeUtf8, findRules, loadRules, RULE_FILES } from '../../src/rules/loader';

const roots: string[] = [];
after(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

/** A fresh folder with the given files (relative path → contents). */
function workspace(files: Record<string, string | Buffer>): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'enclave-rules-'));
  roots.push(root);
  for (const [relative, content] of Object.entries(files)) {
    const full = path.join(root, relative);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, content);
  }
  return root;
}

test('every known rules file is found and loaded in the documented order, each under its own heading', async () => {
  const files = Object.fromEntries([...RULE_FILES].reverse().map((name) => [name, `rule from ${name}\n`]));
  const folder = workspace({ ...files, 'README.md': 'not a rule' });
  assert.deepEqual(await findRules(folder), [...RULE_FILES]);
  const rules = await loadRules(folder, { trusted: true });
  assert.deepEqual(
    rules.files.map((f) => f.path),
    [...RULE_FILES],
  );
  assert.deepEqual(rules.skipped, []);
  for (const name of RULE_FILES) {
    assert.ok(rules.text.includes(`rule from ${name}`), name);
    assert.ok(rules.text.indexOf(name) < rules.text.indexOf(`rule from ${name}`), `${name} is named before its text`);
  }
  assert.ok(!rules.text.includes('not a rule'));
});

test('an untrusted workspace has no rules, even with AGENTS.md present', async () => {
  const folder = workspace({ 'AGENTS.md': 'Always answer in French.' });
  const rules = await loadRules(folder, { trusted: false });
  assert.deepEqual(rules, { files: [], text: '', skipped: [] });
});

test('a file over the cap keeps its head, cut at a line end, and says it was shortened', async () => {
  const line = 'Use tabs, not spaces, in every file of this project.\n';
  const long = line.repeat(2000); // ~104 KB
  const folder = workspace({ 'AGENTS.md': long });
  const rules = await loadRules(folder, { trusted: true, maxFileBytes: 4096 });
  const [file] = rules.files;
  assert.ok(file);
  assert.equal(file.truncated, true);
  assert.ok(Buffer.byteLength(file.text) <= 4096);
  assert.ok(file.text.endsWith('\n'), 'cut at a line end');
  assert.ok(long.startsWith(file.text));
  assert.ok(rules.text.length > file.text.length, 'the prompt text carries a note about the cut');
  const whole = await loadRules(workspace({ 'AGENTS.md': line }), { trusted: true, maxFileBytes: 4096 });
  assert.equal(whole.files[0]?.truncated, false);
});

test('the cap never splits a multi-byte character or rejects the file for it', async () => {
  const text = 'é'.repeat(3000); // 2 bytes each, no newline: the cut falls at a character boundary or inside one
  const folder = workspace({ 'CLAUDE.md': text });
  const rules = await loadRules(folder, { trusted: true, maxFileBytes: 1001 });
  assert.equal(rules.files[0]?.text, 'é'.repeat(500));
  assert.equal(rules.files[0]?.truncated, true);
});

test('all files together stay under the total cap; the ones past it are skipped with a reason', async () => {
  const folder = workspace({ 'AGENTS.md': 'a'.repeat(3000), '.cursorrules': 'b'.repeat(3000), 'CLAUDE.md': 'c'.repeat(3000) });
  const rules = await loadRules(folder, { trusted: true, maxFileBytes: 4096, maxTotalBytes: 5000 });
  const total = rules.files.reduce((n, f) => n + Buffer.byteLength(f.text), 0);
  assert.ok(total <= 5000, `${total} bytes`);
  assert.deepEqual(
    rules.files.map((f) => [f.path, f.truncated]),
    [
      ['AGENTS.md', false],
      ['.cursorrules', true],
    ],
  );
  assert.deepEqual(
    rules.skipped.map((s) => s.path),
    ['CLAUDE.md'],
  );
});

test('non-UTF-8 files (Latin-1, UTF-16, binary) are skipped with a reason; the others still load', async () => {
  const folder = workspace({
    'AGENTS.md': Buffer.from([0x52, 0xe8, 0x67, 0x6c, 0x65, 0x0a]), // "Règle" in Latin-1
    '.cursorrules': Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('rules', 'utf16le')]),
    '.clinerules': Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x00, 0x01]),
    'CLAUDE.md': '\ufeffRègle: UTF-8 with a BOM\n',
  });
  const rules = await loadRules(folder, { trusted: true });
  assert.deepEqual(
    rules.files.map((f) => f.path),
    ['CLAUDE.md'],
  );
  assert.equal(rules.files[0]?.text, 'Règle: UTF-8 with a BOM\n', 'the BOM is dropped');
  assert.deepEqual(rules.skipped.map((s) => s.path).sort(), ['.clinerules', '.cursorrules', 'AGENTS.md']);
  for (const skip of rules.skipped) assert.ok(skip.reason.length > 0);
  assert.equal(decodeUtf8(Buffer.from('plain')), 'plain');
});

test('a symlink to a file outside the workspace is refused; one inside it is followed', async () => {
  const outside = workspace({ 'secret.txt': 'SECRET TOKEN' });
  const folder = workspace({ 'docs/rules.md': 'Inside rule\n' });
  symlinkSync(path.join(outside, 'secret.txt'), path.join(folder, 'AGENTS.md'));
  mkdirSync(path.join(folder, '.enclave'));
  symlinkSync(path.join(folder, 'docs/rules.md'), path.join(folder, '.enclave/rules.md'));
  symlinkSync(path.join(folder, 'missing.md'), path.join(folder, 'CLAUDE.md'));
  const rules = await loadRules(folder, { trusted: true });
  assert.ok(!rules.text.includes('SECRET'));
  assert.deepEqual(
    rules.files.map((f) => [f.path, f.text]),
    [['.enclave/rules.md', 'Inside rule\n']],
  );
  assert.deepEqual(rules.skipped.map((s) => s.path).sort(), ['AGENTS.md', 'CLAUDE.md']);
});

test('a workspace reached through a symlinked path still reads its own files', async () => {
  const real = workspace({ 'AGENTS.md': 'Rule\n' });
  const parent = workspace({});
  const linked = path.join(parent, 'linked');
  symlinkSync(real, linked);
  const rules = await loadRules(linked, { trusted: true });
  assert.deepEqual(
    rules.files.map((f) => f.path),
    ['AGENTS.md'],
  );
});

test('a .clinerules folder contributes its markdown files; a rules path that is a folder or FIFO is not read', async () => {
  const folder = workspace({ '.clinerules/b.md': 'second\n', '.clinerules/a.md': 'first\n', '.clinerules/notes.txt': 'no' });
  mkdirSync(path.join(folder, 'AGENTS.md'));
  // A FIFO would block a plain read forever.
  execFileSync('mkfifo', [path.join(folder, '.cursorrules')]);
  const rules = await loadRules(folder, { trusted: true });
  assert.deepEqual(
    rules.files.map((f) => f.path),
    ['.clinerules/a.md', '.clinerules/b.md'],
  );
  assert.deepEqual(
    rules.skipped.map((s) => s.path),
    ['AGENTS.md', '.cursorrules'],
  );
});

test('empty files and a folder without rules give nothing', async () => {
  const rules = await loadRules(workspace({ 'AGENTS.md': '  \n' }), { trusted: true });
  assert.deepEqual(rules.files, []);
  assert.equal(rules.text, '');
  assert.deepEqual(await findRules(workspace({ 'README.md': 'x' })), []);
});
