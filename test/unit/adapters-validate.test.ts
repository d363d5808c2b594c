import assert from 'node:assert/strict';
import { copyFile, mkdtemp, open, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { ensureFixtures, type FixturePaths } from '../fixtures/generate';
import { inspectAdapter, validateAdapter } from '../../src/engine/adapterValidation';

describe('adapter validation from GGUF metadata', () => {
  let fx: FixturePaths;
  let dir: string;
  before(async () => {
    fx = await ensureFixtures();
    dir = await mkdtemp(join(tmpdir(), 'enclave-adapters-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('lora-a and lora-b fit the fixture model', async () => {
    for (const lora of [fx.loraA, fx.loraB]) {
      const result = await validateAdapter(lora, fx.model);
      assert.equal(result.ok, true, result.ok ? '' : result.reason);
      assert.equal(result.adapter?.architecture, 'qwen2');
      assert.ok((result.adapter?.rank ?? 0) > 0);
      assert.ok(result.adapter!.targets.includes('blk.0.attn_q.weight'));
    }
  });

  it('lora-mismatch (made for the draft size) is refused with the tensor and both shapes in words', async () => {
    const result = await validateAdapter(fx.loraMismatch, fx.model);
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.match(result.reason, /does not fit model\.gguf/);
    assert.match(result.reason, /blk\.0\.attn_q\.weight is \[256, 256\] in the model but the adapter's lora_a is \[64, \d+\]/);
    // It does fit the model it was made for.
    assert.equal((await validateAdapter(fx.loraMismatch, fx.draft)).ok, true);
  });

  it('a model file given as adapter is refused: not an adapter', async () => {
    const result = await inspectAdapter(fx.draft);
    assert.equal(result.ok, false);
    if (!result.ok) assert.match(result.reason, /draft\.gguf is not an adapter: its general\.type is "model"/);
    assert.equal((await validateAdapter(fx.model, fx.model)).ok, false);
  });

  it('a truncated copy is refused with a clear error', async () => {
    const truncated = join(dir, 'truncated.gguf');
    await copyFile(fx.loraA, truncated);
    const size = (await stat(truncated)).size;
    const handle = await open(truncated, 'r+');
    await handle.truncate(size - 1000);
    await handle.close();
    const result = await validateAdapter(truncated, fx.model);
    assert.equal(result.ok, false);
    if (!result.ok) assert.match(result.reason, /truncated\.gguf is truncated: the file has \d+ bytes but its tensors need \d+/);

    const headerOnly = join(dir, 'header-only.gguf');
    const cut = await open(headerOnly, 'w');
    const source = await open(fx.loraA, 'r');
    const head = Buffer.alloc(40);
    await source.read(head, 0, 40, 0);
    await cut.write(head);
    await cut.close();
    await source.close();
    const broken = await validateAdapter(headerOnly, fx.model);
    assert.equal(broken.ok, false);
    if (!broken.ok) assert.match(broken.reason, /header-only\.gguf (is truncated|is not a readable GGUF file)/);
  });

  it('a file that is not GGUF, and a missing file, are refused', async () => {
    const text = join(dir, 'notes.gguf');
    await writeFile(text, 'hello, this is not a model');
    const result = await validateAdapter(text, fx.model);
    assert.equal(result.ok, false);
    if (!result.ok) assert.match(result.reason, /not a readable GGUF/);
    const missing = await validateAdapter(join(dir, 'missing.gguf'), fx.model);
    assert.equal(missing.ok, false);
    if (!missing.ok) assert.match(missing.reason, /does not exist/);
  });
});
