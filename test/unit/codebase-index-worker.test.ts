import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { IndexWorkerClient } from '../../src/codebase/index/client';
import type { FolderSpec } from '../../src/codebase/index/protocol';
import { CorruptIndexError, SearchIndex } from '../../src/codebase/index/searchIndex';
import { bundleIndexWorker } from '../bench/indexWorkerBundle';
import { tempWorkspace as workspace } from './fakes';

/** The worker bundles built for these tests. */
const temps: string[] = [];
after(() => temps.forEach((t) => rmSync(t, { recursive: true, force: true })));

/** Chunks that all say the same common words, and one file that defines something rare. */
function commonAndRare(): SearchIndex {
  const index = new SearchIndex();
  const stat = { mtimeMs: 1, size: 1 };
  for (let i = 0; i < 400; i++)
    index.setFile(`lib/value${i}.ts`, `export function getValue${i}(options) {\n  return options.value + ${i};\n}\n`, stat);
  index.setFile(
    'lib/ledger.ts',
    '/** Reconciles the ledger against the bank value. */\nexport function reconcileLedger(options) {}\n',
    stat,
  );
  return index;
}

test('a question is cut to its rare terms: stop words and terms in most chunks go, the defining file is still found', () => {
  const index = commonAndRare();
  const terms = index.queryTerms('how does the function reconcile the ledger value from options');
  assert.ok(terms.includes('reconcile') && terms.includes('ledger'), `rare terms kept: ${terms.join(' ')}`);
  for (const dropped of ['the', 'how', 'function', 'value', 'options']) assert.ok(!terms.includes(dropped), `${dropped} dropped: ${terms}`);
  assert.equal(index.query('how does the function reconcile the ledger value from options')[0].path, 'lib/ledger.ts');
  assert.equal(index.query('reconcileLedger')[0].path, 'lib/ledger.ts');
});

test('at most the rarest few terms are searched, and a question of only common words still finds something', () => {
  const index = commonAndRare();
  const many = Array.from({ length: 30 }, (_, i) => `getValue${i}`).join(' ');
  const terms = index.queryTerms(many, { maxTerms: 5, maxDocShare: 0.08, keepCommon: 2, maxPostingsShare: 1 });
  assert.equal(terms.length, 5);
  assert.ok(
    terms.every((t) => index.documentFrequency(t) === 1),
    `the rarest: ${terms.join(' ')}`,
  );
  assert.deepEqual(
    index.queryTerms('value options'),
    ['value', 'options'].sort((a, b) => index.documentFrequency(a) - index.documentFrequency(b)),
  );
  assert.ok(index.query('value options').length > 0);
  assert.deepEqual(index.queryTerms('the and of'), [], 'stop words alone search nothing');
});

test('the index in a real worker thread: build with progress, query, update after a save, cancel, save and reload, corrupt file', async () => {
  const bundle = bundleIndexWorker();
  temps.push(bundle.dir);
  const root = workspace({
    'src/money.ts':
      '/** Rounds an amount to whole cents. */\nexport function roundToCents(amount: number): number {\n  return Math.round(amount * 100) / 100;\n}\n',
    'src/cart.ts': 'export interface Cart {\n  items: string[];\n}\n',
    'ignored/skip.ts': 'export function checkoutBasket() {}\n',
    '.gitignore': 'ignored/\n',
  });
  const store = workspace({});
  const spec: FolderSpec = { key: 'k1', root, file: join(store, 'k1.json'), exclude: [], maxFiles: 100 };
  let exits = 0;
  const worker = new IndexWorkerClient(bundle.script, { onExit: () => exits++ });
  try {
    assert.deepEqual(await worker.open(spec), { loaded: false });
    const progress: number[] = [];
    const built = await worker.build('k1', true, (done) => progress.push(done));
    assert.equal(built.indexed, 3, 'money.ts, cart.ts and .gitignore; not ignored/');
    assert.ok(progress.length > 0);
    assert.equal((await worker.query('round to cents', 4))[0].hit.path, 'src/money.ts');
    assert.equal((await worker.query('roundToCents', 4))[0].key, 'k1');

    writeFileSync(join(root, 'src/cart.ts'), 'export interface Cart {\n  items: string[];\n}\nexport function checkoutBasket() {}\n');
    assert.equal(await worker.change('k1', 'src/cart.ts'), true);
    assert.deepEqual(
      (await worker.query('checkout basket', 4)).map((h) => h.hit.path),
      ['src/cart.ts'],
      'the ignored copy is not indexed',
    );
    assert.equal(await worker.change('k1', 'ignored/skip.ts'), false, 'file events pass the walk rules');

    // A build cancelled on the way rejects; the worker stays usable.
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(worker.build('k1', false, undefined, controller.signal), /cancelled/);
    await worker.save();
    const stats = await worker.stats();
    assert.deepEqual(stats.folders, [{ key: 'k1', files: 3, chunks: 3, ready: true }]);

    // A second worker loads what the first saved; a damaged file is reported and starts empty.
    const second = new IndexWorkerClient(bundle.script);
    try {
      assert.deepEqual(await second.open(spec), { loaded: true });
      assert.equal((await second.query('checkout basket', 4))[0].hit.path, 'src/cart.ts');
      writeFileSync(spec.file, readFileSync(spec.file, 'utf8').slice(0, 100));
      const damaged = await second.open(spec);
      assert.equal(damaged.loaded, false);
      assert.ok(damaged.corrupt);
      assert.deepEqual(await second.query('checkout basket', 4), [], 'nothing answers before the rebuild');
      await second.build('k1', true);
      assert.equal((await second.query('checkout basket', 4))[0].hit.path, 'src/cart.ts');
    } finally {
      await second.terminate();
    }
  } finally {
    await worker.terminate();
  }
  assert.equal(exits, 0, 'terminate() is not reported as a crash');
  await assert.rejects(worker.query('anything', 1), /stopped/);
});

test('a build cancelled while it runs in the worker stops with an error', async () => {
  const bundle = bundleIndexWorker();
  temps.push(bundle.dir);
  const files: Record<string, string> = {};
  for (let i = 0; i < 1500; i++) files[`f${i}.ts`] = `export function fn${i}() {\n  return ${i};\n}\n`.repeat(30);
  const root = workspace(files);
  const worker = new IndexWorkerClient(bundle.script);
  try {
    await worker.open({ key: 'k', root, file: join(workspace({}), 'k.json'), exclude: [], maxFiles: 10_000 });
    const controller = new AbortController();
    await assert.rejects(
      worker.build('k', true, (done) => done > 10 && controller.abort(), controller.signal),
      /cancelled/,
    );
    assert.ok((await worker.stats()).folders[0].files < 1500, 'it stopped before the end');
  } finally {
    await worker.terminate();
  }
});

test('the index is saved as JSON lines that together are MiniSearch’s own serialization, and reload whole or not at all', () => {
  const index = commonAndRare();
  index.removeFile('lib/value3.ts');
  const text = [...index.jsonPieces(7)].join('');
  const lines = text.trimEnd().split('\n');
  assert.ok(lines.length > 10, 'the term table is spread over lines');
  const header = JSON.parse(lines[0]) as { search: Record<string, unknown>; files: Record<string, unknown> };
  const terms = lines.slice(1, -1).flatMap((line) => JSON.parse(line) as unknown[]);
  assert.deepEqual(JSON.parse(lines.at(-1)!), { terms: terms.length });
  const own = (index as unknown as { search: { toJSON(): unknown } }).search.toJSON();
  assert.deepEqual({ ...header.search, index: terms }, JSON.parse(JSON.stringify(own)));
  assert.equal(Object.keys(header.files).length, 400);
  const again = SearchIndex.fromText(text);
  assert.equal(again.query('reconcileLedger')[0].path, 'lib/ledger.ts');
  assert.equal(again.chunkCount, index.chunkCount);
  assert.deepEqual(again.query('value common'), index.query('value common'));
  // A file cut at a line's end (a crash mid-save without the rename) is refused, not half-loaded.
  const cut = lines.slice(0, -3).join('\n');
  assert.throws(() => SearchIndex.fromText(cut), CorruptIndexError);
  assert.throws(() => SearchIndex.fromText(`${text}[["extra",{}]]\n`), CorruptIndexError);
});
