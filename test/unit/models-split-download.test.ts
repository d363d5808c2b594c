import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { downloadSplitModel } from '../../src/models/splitDownload';

// The download itself needs the network; these check the child process around it (no request is
// made: the child fails before one, or is killed first).
describe('split-model download in a child process', () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(join(tmpdir(), 'enclave-split-'))));
  after(() => rm(dir, { recursive: true, force: true }));

  it('a child that cannot load node-llama-cpp rejects with its reason', async () => {
    await assert.rejects(
      downloadSplitModel({ modelUri: 'hf:example/none:Q4_K_M', directory: dir, cwd: '/' }),
      /download process exited with 1: .+/,
    );
  });

  it('aborting kills the child and rejects as an abort', async () => {
    const controller = new AbortController();
    const pending = downloadSplitModel({
      modelUri: 'hf:example/none:Q4_K_M',
      directory: dir,
      cwd: process.cwd(),
      signal: controller.signal,
    });
    controller.abort();
    await assert.rejects(pending, (err: Error) => err.name === 'AbortError');
  });
});
