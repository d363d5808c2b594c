import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { catalog, entryById, findEntry, kvBytesPerToken, modelSizes, quants } from '../../src/models/catalog';
import { isModelHostUrl } from '../../src/models/download';

describe('model catalog', () => {
  it('has every size × variant × quantisation once, with unique ids and file names', () => {
    assert.equal(catalog.length, modelSizes.length * 2 * quants.length);
    assert.equal(new Set(catalog.map((e) => e.id)).size, catalog.length);
    assert.equal(new Set(catalog.map((e) => e.fileName)).size, catalog.length);
    for (const e of catalog) assert.equal(entryById(e.id), e);
  });

  it('file sizes grow with size and with bits per weight, and match parameters × bits', () => {
    const bitsPerWeight = { Q4_K_M: [4.5, 6.7], Q5_K_M: [5.3, 7.2], Q8_0: [8.4, 9.4], F16: [15.9, 16.6] } as const;
    for (const e of catalog) {
      const bpw = (e.fileBytes * 8) / e.arch.parameters;
      const [lo, hi] = bitsPerWeight[e.quant];
      assert.ok(bpw >= lo && bpw <= hi, `${e.id}: ${bpw.toFixed(2)} bits per weight`);
    }
    for (const variant of ['base', 'instruct'] as const) {
      for (let i = 1; i < modelSizes.length; i++) {
        assert.ok(findEntry(modelSizes[i], variant, 'Q4_K_M').fileBytes > findEntry(modelSizes[i - 1], variant, 'Q4_K_M').fileBytes);
      }
      for (const size of modelSizes) {
        const bytes = quants.map((q) => findEntry(size, variant, q).fileBytes);
        assert.deepEqual(
          [...bytes].sort((a, b) => a - b),
          bytes,
        );
      }
    }
  });

  it('7B Q4_K_M is ~4.7 GB and its F16 KV cache is 56 KiB per token', () => {
    const e = findEntry('7B', 'instruct', 'Q4_K_M');
    assert.ok(Math.abs(e.fileBytes - 4.68e9) < 0.05e9);
    assert.equal(kvBytesPerToken(e.arch), 28 * 4 * 128 * 2 * 2);
    assert.equal(e.arch.heads % e.arch.kvHeads, 0);
    assert.equal(e.arch.heads * e.arch.headDim, e.arch.embedding);
  });

  it('download sources: hf URIs name the quantisation; URLs are https GGUFs under huggingface.co; no invented hashes', () => {
    for (const e of catalog) {
      if (!e.source) continue;
      assert.match(e.source.hf, /^hf:[\w.-]+\/[\w.-]+-GGUF:(Q4_K_M|Q5_K_M|Q8_0)$/);
      assert.ok(e.source.hf.endsWith(`:${e.quant}`));
      if (e.source.url) {
        assert.ok(e.source.url.startsWith('https://huggingface.co/'));
        assert.ok(e.source.url.endsWith(`/resolve/main/${e.fileName}`));
        // The downloader's redirect policy accepts the catalog's own host.
        assert.ok(isModelHostUrl(new URL(e.source.url)), e.source.url);
      }
      if (e.source.sha256 !== undefined) assert.match(e.source.sha256, /^[0-9a-f]{64}$/);
    }
    assert.equal(findEntry('7B', 'instruct', 'Q4_K_M').source?.hf, 'hf:Qwen/Qwen2.5-Coder-7B-Instruct-GGUF:Q4_K_M');
    assert.ok(findEntry('1.5B', 'base', 'Q8_0').source?.url);
  });
});
