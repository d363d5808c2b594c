import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { build } from 'esbuild';

import { ensureFixtures, type FixturePaths } from '../fixtures/generate';
import { GgufError, hasGgufMagic, readGgufHeader } from '../../src/gguf';

describe('GGUF header reader', () => {
  let fx: FixturePaths;
  let dir: string;
  before(async () => {
    fx = await ensureFixtures();
    dir = await mkdtemp(join(tmpdir(), 'enclave-gguf-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("reads what node-llama-cpp's reader reads: metadata, tensor names, shapes, types, absolute offsets", async () => {
    const { readGgufFileInfo } = await import('node-llama-cpp');
    for (const file of [fx.model, fx.loraA, fx.loraMismatch]) {
      const ours = await readGgufHeader(file);
      const theirs = await readGgufFileInfo(file, { readTensorInfo: true, logWarnings: false });
      const general = theirs.metadata.general as unknown as Record<string, unknown>;
      assert.equal(ours.metadata['general.architecture'], general.architecture);
      assert.equal(ours.metadata['general.type'], general.type);
      assert.equal(ours.metadata['general.name'], general.name);
      assert.equal(ours.metadata['tokenizer.ggml.tokens'], undefined, 'the vocabulary is skipped');
      assert.deepEqual(
        ours.tensors.map((t) => [t.name, t.dims, t.ggmlType, t.fileOffset]),
        (theirs.fullTensorInfo ?? theirs.tensorInfo ?? []).map((t) => [t.name, t.dimensions.map(Number), t.ggmlType, Number(t.fileOffset)]),
      );
    }
  });

  it('refuses every cut of a file as truncated or unreadable, never as a complete header', async () => {
    const whole = await readFile(fx.loraMismatch);
    const header = await readGgufHeader(fx.loraMismatch);
    const cuts = new Set<number>();
    for (let n = 0; n < header.dataOffset + 64; n += 3) cuts.add(n);
    for (let n = header.dataOffset; n < whole.length; n += 257) cuts.add(n);
    cuts.add(whole.length - 1);
    const path = join(dir, 'cut.gguf');
    for (const n of cuts) {
      await writeFile(path, whole.subarray(0, n));
      await assert.rejects(readGgufHeader(path), (err: Error) => {
        assert.ok(err instanceof GgufError, `cut at ${n}: ${err.message}`);
        assert.ok(['truncated', 'malformed', 'not-gguf'].includes(err.problem), `cut at ${n}: ${err.problem}`);
        return true;
      });
    }
  });

  it('names the problem: missing, a folder, not GGUF, a damaged count', async () => {
    const problem = (path: string) =>
      readGgufHeader(path).then(
        () => 'read',
        (err: GgufError) => err.problem,
      );
    assert.equal(await problem(join(dir, 'missing.gguf')), 'missing');
    assert.equal(await problem(dir), 'not-a-file');
    const text = join(dir, 'notes.gguf');
    await writeFile(text, 'not a model at all, just words');
    assert.equal(await problem(text), 'not-gguf');
    assert.equal(await hasGgufMagic(text), false);
    assert.equal(await hasGgufMagic(fx.loraA), true);
    // A tensor count of 2^40 in an otherwise valid adapter: refused before anything is allocated.
    const damaged = Buffer.from(await readFile(fx.loraA));
    damaged.writeBigUInt64LE(1n << 40n, 8);
    const path = join(dir, 'damaged.gguf');
    await writeFile(path, damaged);
    assert.equal(await problem(path), 'malformed');
  });

  it('the extension host bundle does not import node-llama-cpp (it stays in the engine process)', async () => {
    const result = await build({
      entryPoints: ['src/extension.ts'],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      external: ['vscode', 'node-llama-cpp'],
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const imports = Object.values(result.metafile.outputs).flatMap((o) => o.imports.map((i) => i.path));
    assert.ok(imports.includes('vscode'), 'the check sees external imports');
    assert.ok(!imports.includes('node-llama-cpp'), 'node-llama-cpp is imported by the extension host bundle');
  });
});
