import assert from 'node:assert/strict';
import { rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { buildIndex, loadIndex, readHit, saveIndex, updateFile } from '../../src/codebase/index/builder';
import { chunkLines } from '../../src/codebase/index/chunk';
import { CorruptIndexError, SearchIndex } from '../../src/codebase/index/searchIndex';
import { termsOf } from '../../src/codebase/index/terms';
import { PathFilter, walkWorkspace } from '../../src/codebase/index/walk';
import { makeQueries, readCorpus, recallAt } from '../bench/indexQueries';
import { tempWorkspace as workspace } from './fakes';

test('identifiers are found by their parts: camelCase, snake_case, acronyms', () => {
  assert.deepEqual(termsOf('parseConfigFile'), ['parseconfigfile', 'parse', 'config', 'file']);
  assert.deepEqual(termsOf('MAX_RETRY_COUNT'), ['max_retry_count', 'max', 'retry', 'count']);
  assert.deepEqual(termsOf('HTTPServer'), ['httpserver', 'http', 'server']);
  assert.deepEqual(termsOf('the'), []);
  assert.deepEqual(termsOf('12345'), []);
});

test('chunks end at blank lines before top-level declarations, within the size bounds', () => {
  const fn = (name: string, body: number) => [`function ${name}() {`, ...Array.from({ length: body }, (_, i) => `  step${i}();`), '}', ''];
  const text = [...fn('a', 20), ...fn('b', 20), ...fn('c', 100)].join('\n');
  const chunks = chunkLines(text, { targetLines: 30, minLines: 10, maxLines: 60 });
  assert.equal(chunks[0].text.split('\n')[0], 'function a() {');
  assert.ok(
    chunks.some((c) => c.text.startsWith('function c() {')),
    'c starts a chunk',
  );
  assert.ok(chunks.every((c) => c.endLine - c.startLine <= 60));
  assert.equal(
    chunks
      .map((c) => c.text)
      .join('\n')
      .replace(/\n+/g, '\n')
      .trim(),
    text.replace(/\n+/g, '\n').trim(),
    'nothing lost',
  );
});

test('the walk respects .gitignore (nested too) and excludes, skips binaries, large files and symlinks, and stops at the cap', async () => {
  const root = workspace({
    '.gitignore': 'build/\n*.log\n',
    'src/a.ts': 'export const a = 1;',
    'src/deep/.gitignore': 'secret.ts\n',
    'src/deep/secret.ts': 'x',
    'src/deep/kept.ts': 'y',
    'build/out.js': 'z',
    'debug.log': 'log',
    'image.png': new Uint8Array([1, 2, 3]),
    'big.ts': 'x'.repeat(2_000),
    'excluded/e.ts': 'e',
  });
  symlinkSync(root, join(root, 'src', 'loop')); // a loop back to the root
  symlinkSync('/etc', join(root, 'outside'));
  const result = await walkWorkspace({ root, exclude: ['excluded/'], maxFileBytes: 1_000 });
  assert.deepEqual(result.files.map((f) => f.path).sort(), ['.gitignore', 'src/a.ts', 'src/deep/.gitignore', 'src/deep/kept.ts']);
  assert.equal(result.skippedLarge, 1);
  assert.equal(result.capped, false);
  const capped = await walkWorkspace({ root, maxFiles: 2 });
  assert.equal(capped.files.length, 2);
  assert.equal(capped.capped, true);
});

test('build, query, incremental update after a save, removal, and a stored index that reloads', async () => {
  const root = workspace({
    'src/money.ts':
      '/** Rounds an amount to whole cents. */\nexport function roundToCents(amount: number): number {\n  return Math.round(amount * 100) / 100;\n}\n',
    'src/cart.ts': 'export interface Cart {\n  items: string[];\n}\n',
    'bin.dat2': new Uint8Array([0, 1, 2, 0, 5]),
  });
  const index = new SearchIndex();
  const built = await buildIndex(index, { root });
  assert.equal(built.indexed, 2, 'the binary file is left out');
  assert.equal(index.query('round to cents')[0].path, 'src/money.ts');
  assert.match(
    (await readHit(root, index.query('roundToCents')[0])) ?? '',
    /^\/\*\* Rounds an amount to whole cents\. \*\/\nexport function roundToCents/,
  );

  writeFileSync(join(root, 'src/cart.ts'), 'export interface Cart {\n  items: string[];\n}\nexport function checkoutBasket() {}\n');
  await updateFile(index, root, join(root, 'src/cart.ts'));
  assert.equal(index.query('checkout basket')[0].path, 'src/cart.ts');
  assert.equal(await updateFile(index, root, '/etc/passwd'), false, 'nothing outside the workspace');

  const stored = join(workspace({}), 'store', 'index.json');
  await saveIndex(stored, index);
  const again = await loadIndex(stored);
  assert.ok(again);
  assert.equal(again.query('checkout basket')[0].path, 'src/cart.ts');
  assert.equal((await buildIndex(again, { root })).indexed, 0, 'files unchanged since the stored index are not read again');

  rmSync(join(root, 'src/cart.ts'));
  const rebuilt = await buildIndex(again, { root });
  assert.equal(rebuilt.removed, 1);
  assert.deepEqual(again.query('checkout basket'), []);
});

test('a corrupt or foreign stored index is reported as such, never half-loaded', async () => {
  const root = workspace({
    'a.json': '{"format": 4, "search": {"bad": true}, "files": {}, "nextId": 0}',
    'b.json': 'garbage{',
    'c.json': '{"format": 1}',
  });
  for (const name of ['a.json', 'b.json', 'c.json']) await assert.rejects(loadIndex(join(root, name)), CorruptIndexError);
  assert.equal(await loadIndex(join(root, 'missing.json')), undefined);
});

test('building yields to the event loop and can be cancelled', async () => {
  const files: Record<string, string> = {};
  for (let i = 0; i < 300; i++) files[`f${i}.ts`] = `export function fn${i}() {\n  return ${i};\n}\n`.repeat(20);
  const root = workspace(files);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const controller = new AbortController();
  let progressCalls = 0;
  await assert.rejects(
    buildIndex(new SearchIndex(), {
      root,
      signal: controller.signal,
      sliceMs: 2,
      onProgress: ({ done }) => {
        progressCalls++;
        if (done > 150) controller.abort();
      },
    }),
  );
  clearInterval(timer);
  assert.ok(progressCalls > 1 && ticks > 0, `progress ${progressCalls}, timer ticks ${ticks}`);
});

test('retrieval on a real corpus (eslint/lib): recall@5 of identifier and doc-comment queries ≥ 0.8', () => {
  const files = readCorpus(join(__dirname, '..', '..', 'node_modules', 'eslint', 'lib'), 400);
  assert.ok(files.size >= 200, `corpus has ${files.size} files`);
  const index = new SearchIndex();
  for (const [path, text] of files) index.setFile(path, text, { mtimeMs: 0, size: text.length });
  const queries = makeQueries(files, 150);
  assert.ok(queries.length >= 150);
  const { recall, byKind } = recallAt(5, queries, (q) => index.query(q, 20, 1).map((h) => h.path));
  assert.ok(recall >= 0.8, `recall@5 ${recall.toFixed(3)} (${JSON.stringify(byKind)})`);
  // The same queries against an index of unrelated text find nothing: the metric can fail.
  const empty = new SearchIndex();
  empty.setFile('other.txt', 'nothing to see here at all', { mtimeMs: 0, size: 1 });
  assert.equal(recallAt(5, queries, (q) => empty.query(q, 20, 1).map((h) => h.path)).recall, 0);
});

test('file events pass the same filter as the walk: .gitignore chain, excludes, names', async () => {
  const root = workspace({ '.gitignore': 'dist/\n', 'pkg/.gitignore': '*.gen.ts\n', 'pkg/a.ts': 'a', 'pkg/b.gen.ts': 'b' });
  const filter = new PathFilter(root, ['**/tmp']);
  assert.equal(await filter.allows('pkg/a.ts'), true);
  assert.equal(await filter.allows('pkg/b.gen.ts'), false);
  assert.equal(await filter.allows('dist/x.js'), false);
  assert.equal(await filter.allows('deep/tmp/x.ts'), false);
  assert.equal(await filter.allows('.git/config'), false);
  assert.equal(await filter.allows('../outside.ts'), false);
  assert.equal(await filter.allows('logo.png'), false);
});

test('a stored index larger than the load’s read buffer, with non-ASCII paths, loads whole', async () => {
  const index = new SearchIndex();
  const stat = { mtimeMs: 1, size: 1 };
  // Long non-ASCII paths: the first line alone spans several megabyte reads, cut inside characters.
  for (let i = 0; i < 5000; i++)
    index.setFile(`src/mödulé-ünïcode-πολύ-長い名前/${'ß'.repeat(40)}${i}.ts`, `export const entry${i} = ${i};\n`, stat);
  const stored = join(workspace({}), 'index.json');
  await saveIndex(stored, index);
  assert.ok(statSync(stored).size > 2_000_000);
  const again = await loadIndex(stored);
  assert.ok(again);
  assert.equal(again.fileCount, 5000);
  assert.deepEqual(again.query('entry4321', 1)[0]?.path, `src/mödulé-ünïcode-πολύ-長い名前/${'ß'.repeat(40)}4321.ts`);
});
