// Chunk vectors end to end without a model: the real index worker thread and the extension-side
// ChunkEmbedder, with a hand-written backend whose "embedding" maps words to concepts (delete and
// remove are one concept), so that the mechanics — background fill in batches, storage, invalidation
// on a file change and a model change, fusion at query time, a model that fails — can be checked.
// Retrieval quality with a real embedding model is not claimed here.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { ChunkEmbedder } from '../../src/codebase/chunkEmbedder';
import { IndexWorkerClient } from '../../src/codebase/index/client';
import type { FolderSpec } from '../../src/codebase/index/protocol';
import { vectorsFile } from '../../src/codebase/index/workerVectors';
import { EngineError, type Backend, type EmbedRequest } from '../../src/engine/protocol';
import { nullLogger } from '../../src/logger';
import { bundleIndexWorker } from '../bench/indexWorkerBundle';

const temps: string[] = [];
after(() => temps.forEach((t) => rmSync(t, { recursive: true, force: true })));
function folder(files: Record<string, string> = {}): string {
  const root = mkdtempSync(join(tmpdir(), 'enclave-embedder-'));
  temps.push(root);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}

const CONCEPTS: Record<string, number> = {
  delete: 0,
  remove: 0,
  erase: 0,
  account: 1,
  user: 1,
  money: 2,
  cents: 2,
  amount: 2,
  cart: 3,
  basket: 3,
};
function conceptVector(text: string): number[] {
  const v = [0.01, 0.01, 0.01, 0.01, 0.01];
  for (const word of text.toLowerCase().split(/[^a-z]+|(?=[A-Z])/)) if (word in CONCEPTS) v[CONCEPTS[word]] += 1;
  return v;
}

/** The parts of a Backend the embedder uses, and a log of what it was asked. */
function fakeBackend(options: { fail?: boolean } = {}): { backend: Backend; calls: EmbedRequest[] } {
  const calls: EmbedRequest[] = [];
  const backend = {
    kind: 'local',
    async embed(request: EmbedRequest) {
      calls.push(request);
      if (options.fail) throw new EngineError('EMBEDDING_MODEL_INVALID', `The embedding model ${request.modelPath} could not be loaded.`);
      return { vectors: request.texts.map((t) => conceptVector(t.replace(/([a-z])([A-Z])/g, '$1 $2'))), dimensions: 5 };
    },
  } as unknown as Backend;
  return { backend, calls };
}

const FILES = {
  'src/account.ts': 'export function removeAccount(id: string): void {\n  store.drop(id);\n}\n',
  'src/money.ts': 'export function roundToCents(amount: number): number {\n  return Math.round(amount * 100) / 100;\n}\n',
  'src/cart.ts': 'export interface Cart {\n  items: string[];\n}\n',
};

async function openWorker(root: string): Promise<{ worker: IndexWorkerClient; spec: FolderSpec }> {
  const bundle = bundleIndexWorker();
  temps.push(bundle.dir);
  const spec: FolderSpec = { key: 'k', root, file: join(folder(), 'k.json'), exclude: [], maxFiles: 100 };
  const worker = new IndexWorkerClient(bundle.script);
  await worker.open(spec);
  await worker.build('k', true);
  return { worker, spec };
}

test('chunks get vectors in the background, in batches; a question fuses both rankings; without a model retrieval is lexical', async () => {
  const root = folder(FILES);
  const { worker, spec } = await openWorker(root);
  try {
    const lexicalOnly = await worker.query('delete a user', 4, 1);
    assert.ok(!lexicalOnly.some((h) => h.hit.path === 'src/account.ts'), 'the lexical index alone does not know delete = remove');

    const { backend, calls } = fakeBackend();
    let model = '/models/embed.gguf';
    const embedder = new ChunkEmbedder({
      backend: () => backend,
      modelPath: () => model,
      log: nullLogger,
      notify: () => assert.fail(),
      batch: 2,
    });
    await embedder.start(worker, ['k']);
    assert.equal((await worker.vectorsPending('k', 10)).ids.length, 0, 'every chunk has a vector');
    assert.ok(calls.length >= 2 && calls.every((c) => c.texts.length <= 2), 'sent in batches of 2');

    const vector = await embedder.queryVector('delete a user');
    assert.ok(vector);
    const fused = await worker.query('delete a user', 4, 1, vector);
    assert.equal(fused[0].hit.path, 'src/account.ts', 'the vector ranking brings the chunk in');
    // Both rankings agree on money.ts for this question: it stays first.
    const agreed = await worker.query('roundToCents amount', 4, 1, await embedder.queryVector('roundToCents amount'));
    assert.equal(agreed[0].hit.path, 'src/money.ts');

    // Saved next to the index, and loaded again for the same model.
    await worker.save();
    assert.deepEqual(await worker.vectorsOpen('k', model), { stored: 3 });

    // A changed file: its new chunk has no vector yet; the update fills it in.
    writeFileSync(join(root, 'src/cart.ts'), 'export function emptyBasket(cart: Cart): void {}\n');
    await worker.change('k', 'src/cart.ts');
    assert.equal((await worker.vectorsPending('k', 10)).ids.length, 1);
    embedder.update(worker, ['k']);
    for (let i = 0; i < 100 && (await worker.vectorsPending('k', 10)).ids.length; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal((await worker.vectorsPending('k', 10)).ids.length, 0);

    // Another model: the stored vectors are dropped and made again.
    model = '/models/other.gguf';
    const opened = await worker.vectorsOpen('k', model);
    assert.equal(opened.dropped, true);
    assert.equal((await worker.vectorsPending('k', 10)).ids.length, 3);

    // A rebuilt lexical index numbers its chunks from 0 again: the stored vectors go with it.
    await embedder.start(worker, ['k']);
    await worker.save();
    assert.ok(existsSync(vectorsFile(spec.file)));
    await worker.open(spec, true);
    assert.ok(!existsSync(vectorsFile(spec.file)));
    await worker.build('k', true);
    assert.deepEqual(await worker.vectorsOpen('k', model), { stored: 0 });

    // No model: retrieval is the lexical one, byte for byte.
    model = '';
    await embedder.start(worker, ['k']);
    assert.equal(await embedder.queryVector('delete a user'), undefined);
    assert.deepEqual(await worker.query('delete a user', 4, 1, undefined), lexicalOnly);
  } finally {
    await worker.terminate();
  }
});

test('a damaged vector file is rebuilt; a model that fails to load is reported once and retrieval stays lexical', async () => {
  const root = folder(FILES);
  const { worker, spec } = await openWorker(root);
  try {
    writeFileSync(vectorsFile(spec.file), 'garbage');
    const opened = await worker.vectorsOpen('k', '/models/embed.gguf');
    assert.ok(opened.corrupt);
    assert.equal((await worker.vectorsPending('k', 10)).ids.length, 3, 'every chunk is embedded again');

    const { backend, calls } = fakeBackend({ fail: true });
    const notices: string[] = [];
    const embedder = new ChunkEmbedder({
      backend: () => backend,
      modelPath: () => '/models/broken.gguf',
      log: nullLogger,
      notify: (m) => notices.push(m),
    });
    await embedder.start(worker, ['k']);
    assert.equal(await embedder.queryVector('delete a user'), undefined);
    await embedder.start(worker, ['k']);
    assert.equal(notices.length, 1, 'told once');
    assert.ok(notices[0].includes('/models/broken.gguf'));
    assert.equal(calls.length, 1, 'the failed model is not asked again until the setting changes');
    const hits = await worker.query('roundToCents', 4, 1, undefined);
    assert.equal(hits[0].hit.path, 'src/money.ts');
  } finally {
    await worker.terminate();
  }
});

test('the index never starts the engine: chunks are embedded once it is ready', async () => {
  const { worker } = await openWorker(folder(FILES));
  try {
    const { backend, calls } = fakeBackend();
    let ready = false;
    const embedder = new ChunkEmbedder({
      backend: () => backend,
      modelPath: () => '/models/embed.gguf',
      engineReady: () => ready,
      log: nullLogger,
      notify: () => assert.fail(),
    });
    await embedder.start(worker, ['k']);
    embedder.update(worker, ['k']);
    assert.equal(calls.length, 0);
    assert.equal((await worker.vectorsPending('k', 10)).ids.length, 3);
    ready = true;
    embedder.update(worker, ['k']);
    for (let i = 0; i < 100 && (await worker.vectorsPending('k', 10)).ids.length; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal((await worker.vectorsPending('k', 10)).ids.length, 0);
  } finally {
    await worker.terminate();
  }
});
