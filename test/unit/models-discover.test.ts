import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { ensureFixtures } from '../fixtures/generate';
import { discoverModels, discoverOllama } from '../../src/models/discover';

async function ollamaModel(models: string, registryPath: string[], gguf: Buffer, extraLayers: object[] = []): Promise<string> {
  const digest = createHash('sha256').update(gguf).digest('hex');
  await mkdir(join(models, 'blobs'), { recursive: true });
  await writeFile(join(models, 'blobs', `sha256-${digest}`), gguf);
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: `sha256:${'c'.repeat(64)}`, size: 400 },
    layers: [{ mediaType: 'application/vnd.ollama.image.model', digest: `sha256:${digest}`, size: gguf.length }, ...extraLayers],
  };
  const file = join(models, 'manifests', ...registryPath);
  await mkdir(join(file, '..'), { recursive: true });
  await writeFile(file, JSON.stringify(manifest));
  return digest;
}

describe('discover models already on disk', () => {
  let home: string;
  let gguf: Buffer;
  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'enclave-home-'));
    gguf = await readFile((await ensureFixtures()).loraA);
  });
  after(() => rm(home, { recursive: true, force: true }));

  it('finds Ollama models through their manifests, named model:tag, with the digest as sha256', async () => {
    const models = join(home, '.ollama', 'models');
    const digest = await ollamaModel(models, ['registry.ollama.ai', 'library', 'qwen2.5-coder', '7b'], gguf, [
      { mediaType: 'application/vnd.ollama.image.template', digest: `sha256:${'d'.repeat(64)}`, size: 10 },
    ]);
    await ollamaModel(models, ['hf.co', 'Qwen', 'Qwen2.5-Coder-1.5B-Instruct-GGUF', 'Q8_0'], Buffer.concat([gguf, Buffer.from('x')]));
    // A manifest whose blob is missing, and one whose blob is not a GGUF, are skipped.
    const missing = join(models, 'manifests', 'registry.ollama.ai', 'library', 'gone', 'latest');
    await mkdir(join(missing, '..'), { recursive: true });
    await writeFile(
      missing,
      JSON.stringify({ layers: [{ mediaType: 'application/vnd.ollama.image.model', digest: `sha256:${'e'.repeat(64)}` }] }),
    );
    await ollamaModel(models, ['registry.ollama.ai', 'library', 'notgguf', 'latest'], Buffer.from('not a model file'));

    const found = await discoverOllama(models);
    const names = found.map((m) => m.name).sort();
    assert.deepEqual(names, ['hf.co/Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF:Q8_0', 'qwen2.5-coder:7b']);
    const coder = found.find((m) => m.name === 'qwen2.5-coder:7b')!;
    assert.equal(coder.sha256, digest);
    assert.equal(coder.path, join(models, 'blobs', `sha256-${digest}`));
    assert.equal(coder.size, gguf.length);
    assert.equal(coder.source, 'ollama');
  });

  it('finds LM Studio, llama.cpp cache and Hugging Face hub GGUFs, skipping projectors, later split parts and non-GGUF files', async () => {
    const lm = join(home, '.lmstudio', 'models', 'Qwen', 'Qwen2.5-Coder-7B-Instruct-GGUF');
    await mkdir(lm, { recursive: true });
    await writeFile(join(lm, 'qwen2.5-coder-7b-instruct-q4_k_m.gguf'), gguf);
    await writeFile(join(lm, 'mmproj-model-f16.gguf'), gguf);
    await writeFile(join(lm, 'big-00002-of-00003.gguf'), gguf);
    await writeFile(join(lm, 'big-00001-of-00003.gguf'), gguf);
    await writeFile(join(lm, 'fake.gguf'), 'not gguf');
    const cache = join(home, 'cache', 'llama.cpp');
    await mkdir(cache, { recursive: true });
    await writeFile(join(cache, 'ggml-org_Qwen2.5-Coder-1.5B-Q8_0-GGUF_qwen2.5-coder-1.5b-q8_0.gguf'), gguf);
    const hub = join(home, '.cache', 'huggingface', 'hub', 'models--Qwen--X-GGUF');
    await mkdir(join(hub, 'blobs'), { recursive: true });
    await mkdir(join(hub, 'snapshots', 'abc'), { recursive: true });
    await writeFile(join(hub, 'blobs', 'deadbeef'), gguf);
    await symlink(join(hub, 'blobs', 'deadbeef'), join(hub, 'snapshots', 'abc', 'x-q4_k_m.gguf'));

    const found = await discoverModels({ home, env: { LLAMA_CACHE: cache }, platform: 'linux' });
    const bySource = (source: string) =>
      found
        .filter((m) => m.source === source)
        .map((m) => m.name)
        .sort();
    assert.deepEqual(bySource('lmstudio'), ['big-00001-of-00003.gguf', 'qwen2.5-coder-7b-instruct-q4_k_m.gguf']);
    assert.deepEqual(bySource('llama.cpp'), ['ggml-org_Qwen2.5-Coder-1.5B-Q8_0-GGUF_qwen2.5-coder-1.5b-q8_0.gguf']);
    assert.deepEqual(bySource('huggingface'), ['x-q4_k_m.gguf']);
    assert.equal(bySource('ollama').length, 2);
  });

  it('an empty home finds nothing and does not throw', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'enclave-empty-home-'));
    try {
      assert.deepEqual(await discoverModels({ home: empty, env: {} }), []);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
