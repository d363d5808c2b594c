import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { EngineError } from '../../src/engine/protocol';
import { guessFimFamily, RemoteBackend } from '../../src/engine/remote';

describe('guessFimFamily', () => {
  it('guesses the FIM format from the served model\'s name, Qwen for "qwen" or a generic "coder"', () => {
    assert.equal(guessFimFamily('Qwen/Qwen2.5-Coder-7B'), 'qwen');
    assert.equal(guessFimFamily('qwen2.5-coder:1.5b-base'), 'qwen');
    assert.equal(guessFimFamily('my-coder'), 'qwen');
    assert.equal(guessFimFamily('deepseek-coder-6.7b-base'), 'deepseek');
    assert.equal(guessFimFamily('codellama:7b-code'), 'codellama');
    assert.equal(guessFimFamily('bigcode/starcoder2-3b'), 'starcoder');
    assert.equal(guessFimFamily('Codestral-22B'), 'codestral');
    assert.equal(guessFimFamily('llama3.1:8b'), null);
  });
});

describe('RemoteBackend without a usable URL', () => {
  it('starts in an error state that names the setting, and contacts nothing', async () => {
    const backend = new RemoteBackend({ url: '  ' });
    assert.equal(backend.kind, 'remote');
    const state = backend.currentState;
    assert.equal(state.kind, 'error');
    assert.match(state.kind === 'error' ? state.message : '', /enclave\.backend\.remoteUrl is empty/);
    await assert.rejects(
      backend.completeFim({ documentKey: 'd', prompt: 'x', maxTokens: 1 }),
      (err: unknown) => err instanceof EngineError && err.code === 'ENGINE_UNAVAILABLE',
    );
    assert.equal((await backend.metrics()).requests, 0);
  });

  it('strips trailing slashes from the base URL', () => {
    assert.equal(new RemoteBackend({ url: 'http://gpu-box:8000/v1//' }).url, 'http://gpu-box:8000/v1');
  });
});
