// The pure parts of the codebase index's embeddings: reciprocal rank fusion and the vector store
// (nearest by cosine, invalidation, save/load, another model's file dropped, a damaged file rebuilt).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';

import { reciprocalRankFusion } from '../../src/codebase/index/fusion';
import { CorruptVectorsError, VectorStore } from '../../src/codebase/index/vectorStore';

const temps: string[] = [];
after(() => temps.forEach((t) => rmSync(t, { recursive: true, force: true })));
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'enclave-vectors-'));
  temps.push(dir);
  return dir;
}

const id = (s: string) => s;

describe('reciprocalRankFusion', () => {
  test('scores each item Σ 1/(k + rank) over the rankings holding it', () => {
    const fused = reciprocalRankFusion(
      [
        ['a', 'b', 'c'],
        ['c', 'a'],
      ],
      id,
      60,
    );
    const score = Object.fromEntries(fused.map((f) => [f.item, f.score]));
    assert.equal(score.a, 1 / 61 + 1 / 62);
    assert.equal(score.b, 1 / 62);
    assert.equal(score.c, 1 / 63 + 1 / 61);
    assert.deepEqual(
      fused.map((f) => f.item),
      ['a', 'c', 'b'],
    );
  });

  test('an item both rankings agree on beats one that tops only one of them', () => {
    const lexical = ['only-lexical', 'both', 'x', 'y'];
    const semantic = ['only-semantic', 'both', 'z'];
    assert.equal(reciprocalRankFusion([lexical, semantic], id)[0].item, 'both');
  });

  test('one ranking alone keeps its order; no rankings give nothing', () => {
    assert.deepEqual(
      reciprocalRankFusion([['c', 'a', 'b']], id).map((f) => f.item),
      ['c', 'a', 'b'],
    );
    assert.deepEqual(reciprocalRankFusion([], id), []);
    assert.deepEqual(reciprocalRankFusion([[], []], id), []);
  });

  test('ties keep first-seen order; a duplicate in one ranking counts once at its better rank', () => {
    assert.deepEqual(
      reciprocalRankFusion([['a'], ['b']], id).map((f) => f.item),
      ['a', 'b'],
    );
    const fused = reciprocalRankFusion([['a', 'a', 'b']], id);
    assert.equal(fused.find((f) => f.item === 'a')?.score, 1 / 61);
    assert.equal(fused.find((f) => f.item === 'b')?.score, 1 / 63);
  });

  test('items are matched by key and the first ranking’s object is kept', () => {
    const lexical = [{ path: 'a.ts', line: 1, from: 'bm25' }];
    const semantic = [{ path: 'a.ts', line: 1, from: 'vector' }];
    const fused = reciprocalRankFusion<{ path: string; line: number; from: string }>([lexical, semantic], (h) => `${h.path}:${h.line}`);
    assert.equal(fused.length, 1);
    assert.equal(fused[0].item.from, 'bm25');
  });
});

describe('VectorStore', () => {
  test('nearest ranks by cosine similarity, whatever the vectors’ lengths', () => {
    const store = new VectorStore('m.gguf');
    store.set(1, [1, 0, 0]);
    store.set(2, [10, 10, 0]);
    store.set(3, [0, 0, 5]);
    store.set(4, [-1, 0, 0]);
    const hits = store.nearest([3, 0.1, 0], 3);
    assert.deepEqual(
      hits.map((h) => h.id),
      [1, 2, 3],
    );
    assert.ok(Math.abs(hits[0].score - 0.99944) < 1e-3);
    assert.deepEqual(store.nearest([1, 0], 3), [], 'a query of another size finds nothing');
    assert.equal(store.nearest([1, 0, 0], 10).length, 4);
  });

  test('brute force agrees with a sort over all the scores', () => {
    const store = new VectorStore('m');
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
    const all: { id: number; v: number[] }[] = [];
    for (let i = 0; i < 500; i++) {
      const v = Array.from({ length: 16 }, random);
      all.push({ id: i, v });
      store.set(i, v);
    }
    const q = Array.from({ length: 16 }, random);
    const cos = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i], 0) / Math.hypot(...a) / Math.hypot(...b);
    const expected = all
      .map(({ id, v }) => ({ id, score: cos(v, q) }))
      .sort((a, b) => b.score - a.score)
      .slice(0, 10);
    assert.deepEqual(
      store.nearest(q, 10).map((h) => h.id),
      expected.map((e) => e.id),
    );
  });

  test('setting a chunk again replaces its vector; deleting one keeps the others where they were', () => {
    const store = new VectorStore('m');
    for (let i = 0; i < 300; i++) store.set(i, [Math.cos(i), Math.sin(i)]);
    store.set(5, [0, -1]);
    assert.equal(store.size, 300);
    assert.ok(store.delete(0) && store.delete(150) && !store.delete(150));
    for (const id of [1, 5, 149, 151, 299]) {
      const [hit] = store.nearest(id === 5 ? [0, -1] : [Math.cos(id), Math.sin(id)], 1);
      assert.equal(hit.id, id, `chunk ${id} still has its own vector`);
    }
    assert.ok(!store.nearest([1, 0], 300).some((h) => h.id === 0 || h.id === 150));
  });

  test('a vector of another size than the store’s is refused', () => {
    const store = new VectorStore('m');
    store.set(1, [1, 2]);
    assert.throws(() => store.set(2, [1, 2, 3]));
    assert.throws(() => store.set(3, []));
  });

  test('retain drops the vectors of chunks gone from the index', () => {
    const store = new VectorStore('m');
    for (const i of [1, 2, 3, 4]) store.set(i, [i, 1]);
    assert.equal(store.retain(new Set([2, 4, 9])), 2);
    assert.equal(store.size, 2);
    assert.ok(store.has(2) && store.has(4) && !store.has(1));
    assert.ok(store.nearest([1, 1], 5).every((h) => h.id === 2 || h.id === 4));
  });

  test('save and load give back the same vectors under the same ids', async () => {
    const file = join(tempDir(), 'index.vectors');
    const store = new VectorStore('/models/embed é.gguf');
    for (let i = 0; i < 50; i++) store.set(i * 3 + 1, [Math.sin(i), Math.cos(i), i / 50, 1]);
    await store.save(file);
    const { store: loaded, corrupt, dropped } = await VectorStore.load(file, '/models/embed é.gguf');
    assert.equal(corrupt, undefined);
    assert.equal(dropped, undefined);
    assert.equal(loaded.size, 50);
    assert.equal(loaded.dimensions, 4);
    const q = [0.3, -0.2, 0.5, 1];
    assert.deepEqual(loaded.nearest(q, 7), store.nearest(q, 7));
  });

  test('no file is an empty store; another model’s file is dropped', async () => {
    const dir = tempDir();
    const none = await VectorStore.load(join(dir, 'missing.vectors'), 'a.gguf');
    assert.equal(none.store.size, 0);
    const file = join(dir, 'index.vectors');
    const store = new VectorStore('a.gguf');
    store.set(1, [1, 2, 3]);
    await store.save(file);
    const other = await VectorStore.load(file, 'b.gguf');
    assert.equal(other.dropped, true);
    assert.equal(other.store.size, 0);
    assert.equal(other.store.model, 'b.gguf');
  });

  test('a damaged file (truncated, garbage, NaN) gives an empty store with the reason, not an exception', async () => {
    const dir = tempDir();
    const file = join(dir, 'index.vectors');
    const store = new VectorStore('m');
    for (let i = 0; i < 10; i++) store.set(i, [i, 1, 2]);
    await store.save(file);
    const whole = readFileSync(file);

    writeFileSync(file, whole.subarray(0, whole.length - 5));
    const truncated = await VectorStore.load(file, 'm');
    assert.ok(truncated.corrupt);
    assert.equal(truncated.store.size, 0);

    writeFileSync(file, 'not vectors at all, just text');
    assert.ok((await VectorStore.load(file, 'm')).corrupt);

    const nan = Buffer.from(whole);
    nan.writeFloatLE(Number.NaN, nan.length - 4);
    writeFileSync(file, nan);
    assert.ok((await VectorStore.load(file, 'm')).corrupt);

    assert.throws(() => VectorStore.deserialize(Buffer.alloc(3)), CorruptVectorsError);
  });
});
