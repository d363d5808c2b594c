// Embeddings in the engine: the embed request on a real node-llama-cpp embedding context over the
// fixture model (a tiny random Qwen2: its vectors mean nothing, but their size, count, bounds and
// the error for a model that cannot load are real), in process and through the engine process.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { EngineClient } from '../../src/engine/client';
import { EMBED_LIMITS } from '../../src/engine/embeddings';
import { EngineError } from '../../src/engine/protocol';
import { EngineRuntime } from '../../src/engine/runtime';
import { readGgufHeader } from '../../src/gguf';
import { nullLogger } from '../../src/logger';
import type { FixturePaths } from '../fixtures/generate';
import { buildBundles, fixtures, settingsFor, workerPath } from './helpers';

let paths: FixturePaths;
let runtime: EngineRuntime;
let tmp: string;

before(async () => {
  paths = await fixtures();
  tmp = await mkdtemp(join(tmpdir(), 'enclave-embed-'));
  runtime = await EngineRuntime.load(settingsFor(paths));
});

after(async () => {
  await runtime?.dispose();
  await rm(tmp, { recursive: true, force: true });
});

async function embeddingSize(path: string): Promise<number> {
  const header = await readGgufHeader(path);
  const arch = String(header.metadata['general.architecture']);
  return Number(header.metadata[`${arch}.embedding_length`]);
}

describe('embed', () => {
  it("returns one vector per text, of the model's embedding size, finite and not all zero", async () => {
    const texts = ['export function parseConfig(text: string) {', 'def fibonacci(n):\n    return n', 'x'];
    const result = await runtime.embed({ modelPath: paths.model, texts });
    const size = await embeddingSize(paths.model);
    assert.equal(result.dimensions, size);
    assert.equal(result.vectors.length, texts.length);
    for (const vector of result.vectors) {
      assert.equal(vector.length, size);
      assert.ok(vector.every(Number.isFinite));
      assert.ok(vector.some((v) => v !== 0));
    }
    // The same text gives the same vector (the context keeps nothing between texts).
    const again = await runtime.embed({ modelPath: paths.model, texts: [texts[0]] });
    assert.deepEqual(again.vectors[0], result.vectors[0]);
  });

  it('cuts a text longer than the context instead of failing', async () => {
    const long = 'const value = compute(input, options);\n'.repeat(2000);
    const result = await runtime.embed({ modelPath: paths.model, texts: [long] });
    assert.equal(result.vectors.length, 1);
    assert.ok(result.vectors[0].every(Number.isFinite));
  });

  it('stops between texts when cancelled', async () => {
    const texts = Array.from({ length: EMBED_LIMITS.maxTexts }, (_, i) =>
      `function step${i}(input) {\n  return input.map((x) => x * ${i});\n}\n`.repeat(8),
    );
    const controller = new AbortController();
    const started = performance.now();
    const pending = runtime.embed({ modelPath: paths.model, texts }, { signal: controller.signal });
    setTimeout(() => controller.abort(), 300);
    await assert.rejects(pending, (err: EngineError) => err.code === 'CANCELLED');
    // It rejects (it did not finish the 64 texts) and soon: it checks the signal before each text.
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 15_000, `stopped after ${Math.round(elapsed)} ms`);
    const after = await runtime.embed({ modelPath: paths.model, texts: ['next'] });
    assert.equal(after.vectors.length, 1, 'the next request is served');
  });

  it('refuses more texts than one call may carry', async () => {
    const texts = Array.from({ length: EMBED_LIMITS.maxTexts + 1 }, (_, i) => `text ${i}`);
    await assert.rejects(runtime.embed({ modelPath: paths.model, texts }), (err: EngineError) => err.code === 'BAD_REQUEST');
  });

  it('a missing or invalid embedding model is a clear error, and the engine keeps serving', async () => {
    const notGguf = join(tmp, 'not-a-model.gguf');
    await writeFile(notGguf, 'this is not a GGUF file');
    for (const modelPath of [join(tmp, 'missing.gguf'), notGguf]) {
      await assert.rejects(runtime.embed({ modelPath, texts: ['hello'] }), (err: EngineError) => {
        assert.ok(err instanceof EngineError);
        assert.equal(err.code, 'EMBEDDING_MODEL_INVALID');
        assert.ok(err.message.includes(modelPath), 'the message names the file');
        return true;
      });
    }
    const fim = await runtime.completeFim({ documentKey: 'after', prompt: '<|fim_prefix|>a<|fim_suffix|><|fim_middle|>', maxTokens: 2 });
    assert.ok(fim.stats.generatedTokens >= 1);
    const ok = await runtime.embed({ modelPath: paths.model, texts: ['still works'] });
    assert.equal(ok.vectors.length, 1);
  });

  it('crosses the engine process boundary with the error code intact', async () => {
    buildBundles();
    const client = new EngineClient(settingsFor(paths), nullLogger, { workerPath });
    try {
      const result = await client.embed({ modelPath: paths.model, texts: ['a', 'b'] });
      assert.equal(result.vectors.length, 2);
      assert.equal(result.vectors[0].length, await embeddingSize(paths.model));
      await assert.rejects(
        client.embed({ modelPath: join(tmp, 'missing.gguf'), texts: ['a'] }),
        (err: EngineError) => err.code === 'EMBEDDING_MODEL_INVALID',
      );
    } finally {
      await client.dispose();
    }
  });
});
