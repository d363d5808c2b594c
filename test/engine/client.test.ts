// EngineClient through the real engine process (dist/worker.js): lazy start, streaming,
// cancellation across the process boundary, crash supervision, errors, concurrency.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { EngineClient } from '../../src/engine/client';
import type { EngineError, EngineState } from '../../src/engine/protocol';
import { nullLogger } from '../../src/logger';
import type { FixturePaths } from '../fixtures/generate';
import { buildBundles, fimPrompt, fixtures, samplePrefixes, settingsFor, workerPath } from './helpers';

let paths: FixturePaths;
const clients: EngineClient[] = [];

function client(overrides = {}, options = {}): EngineClient {
  const c = new EngineClient(settingsFor(paths, overrides), nullLogger, { workerPath, backoffMs: 50, ...options });
  clients.push(c);
  return c;
}

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

before(async () => {
  buildBundles();
  paths = await fixtures();
  process.on('unhandledRejection', onUnhandled);
});

after(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  process.off('unhandledRejection', onUnhandled);
  assert.deepEqual(unhandled, [], 'no unhandled rejections in the host');
});

describe('EngineClient', () => {
  it('starts the engine lazily, streams FIM text, and reports states', async () => {
    // The wide-margin model: the KV-reuse comparison below holds on every CPU variant.
    const c = client({ modelPath: paths.wide, draftModelPath: paths.wideDraftHalf, speculative: 'auto' });
    const states: EngineState['kind'][] = [];
    c.onState((s) => states.push(s.kind));
    assert.equal(c.pid, undefined, 'nothing is started by the constructor');
    let streamed = '';
    const result = await c.completeFim(
      { documentKey: 'a', prompt: fimPrompt(samplePrefixes[0], '\n}\n'), maxTokens: 16 },
      { onText: (t) => (streamed += t) },
    );
    assert.ok(c.pid, 'the engine process runs');
    assert.notEqual(c.pid, process.pid);
    assert.equal(streamed, result.text);
    assert.equal(result.stats.generatedTokens, 16);
    assert.ok(result.stats.draft, 'speculative decoding reported');
    assert.deepEqual(states.slice(0, 2), ['starting', 'loading']);
    assert.equal(states.at(-1), 'ready');
    const info = await c.info();
    assert.equal(info.modelName, 'Enclave test model (wide margins)');
    assert.equal(info.draftModelPath, paths.wideDraftHalf);
    assert.equal(await c.countTokens('<|fim_prefix|>'), 1);

    // The same request in the engine process reuses the document's KV cache.
    const again = await c.completeFim({ documentKey: 'a', prompt: fimPrompt(samplePrefixes[0], '\n}\n'), maxTokens: 16 });
    assert.equal(again.text, result.text);
    assert.equal(again.stats.evaluatedTokens, 1);
  });

  it('cancels across the process boundary quickly, leaks no output, and keeps working', async () => {
    const c = client();
    await c.countTokens('warm up');
    const controller = new AbortController();
    let chunks = 0;
    let afterAbort = 0;
    let abortedAt = 0;
    const request = c.completeFim(
      { documentKey: 'long', prompt: fimPrompt(samplePrefixes[2], ''), maxTokens: 4000 },
      {
        signal: controller.signal,
        onText: () => {
          if (abortedAt) afterAbort++;
          if (++chunks === 4) {
            abortedAt = performance.now();
            controller.abort();
          }
        },
      },
    );
    await assert.rejects(request, (err: EngineError) => err.code === 'CANCELLED');
    assert.ok(performance.now() - abortedAt < 100, 'the caller is answered at once');
    // The rejection is the engine's confirmation: the request has ended there (its sequence free).
    const metrics = await c.metrics();
    assert.equal(metrics.cancelled, 1, 'the engine had stopped the generation when the caller was answered');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(afterAbort, 0, 'no chunk after the abort');
    assert.ok(metrics.generatedTokens < 1000, `generation stopped early (${metrics.generatedTokens} tokens)`);
    const next = await c.completeFim({ documentKey: 'long', prompt: fimPrompt(samplePrefixes[2], ''), maxTokens: 3 });
    assert.equal(next.stats.generatedTokens, 3);
  });

  it('a killed engine fails the in-flight request with ENGINE_CRASHED, then recovers', async () => {
    const c = client();
    const states: EngineState[] = [];
    c.onState((s) => states.push(s));
    await c.countTokens('start');
    const pid = c.pid!;
    let killed = false;
    const request = c.chat(
      { messages: [{ role: 'user', content: 'go on forever' }], maxTokens: 4000 },
      {
        onText: () => {
          if (!killed) {
            killed = true;
            process.kill(pid, 'SIGKILL');
          }
        },
      },
    );
    await assert.rejects(request, (err: EngineError) => {
      assert.equal(err.code, 'ENGINE_CRASHED');
      return true;
    });
    assert.ok(states.some((s) => s.kind === 'crashed'));
    const result = await c.completeFim({ documentKey: 'x', prompt: fimPrompt('let a = ', ';'), maxTokens: 4 });
    assert.equal(result.stats.generatedTokens, 4);
    assert.notEqual(c.pid, pid, 'a new engine process');
    assert.equal((await c.metrics()).restarts, 1);
    assert.equal(states.at(-1)?.kind, 'ready');
  });

  it('stops restarting after repeated crashes and reports an error state', async () => {
    const c = client({}, { maxRestarts: 2, autoRestart: false });
    const states: EngineState[] = [];
    c.onState((s) => states.push(s));
    for (let i = 0; i < 2; i++) {
      await c.countTokens('x');
      const exited = new Promise<void>((resolve) => {
        const stop = c.onState((s) => {
          if (s.kind === 'crashed' || s.kind === 'error') {
            stop();
            resolve();
          }
        });
      });
      process.kill(c.pid!, 'SIGKILL');
      await exited;
    }
    assert.equal(states.at(-1)?.kind, 'error');
    await assert.rejects(c.countTokens('x'), (err: EngineError) => err.code === 'ENGINE_UNAVAILABLE' && /Restart Engine/.test(err.message));
    await c.restart();
    assert.equal(await c.countTokens('hello'), 1, 'a manual restart brings it back');
  });

  it('reports a missing model as MODEL_NOT_FOUND naming the path, without a crash', async () => {
    const missing = join(paths.dir, 'does-not-exist.gguf');
    const c = client({ modelPath: missing });
    const states: EngineState[] = [];
    c.onState((s) => states.push(s));
    await assert.rejects(c.countTokens('x'), (err: EngineError) => err.code === 'MODEL_NOT_FOUND' && err.message.includes(missing));
    assert.equal(states.at(-1)?.kind, 'error');
    assert.ok(!states.some((s) => s.kind === 'crashed'));
    await c.updateSettings(settingsFor(paths));
    assert.equal(await c.countTokens('hello'), 1, 'fixing the setting recovers');
  });

  it('a model that fails to start is not loaded again on every request, until the settings change', async () => {
    // A real GGUF cut short: its header reads, its tensor data is missing.
    const invalid = join(mkdtempSync(join(tmpdir(), 'enclave-invalid-')), 'truncated.gguf');
    writeFileSync(invalid, readFileSync(paths.model).subarray(0, 64 * 1024));
    const c = client({ modelPath: invalid });
    const states: EngineState['kind'][] = [];
    c.onState((s) => states.push(s.kind));
    for (let i = 0; i < 3; i++) {
      await assert.rejects(
        c.completeFim({ documentKey: 'k', prompt: fimPrompt('let a = ', ';'), maxTokens: 2 }),
        (err: EngineError) => err.code === 'MODEL_INVALID',
      );
    }
    assert.equal(states.filter((s) => s === 'starting').length, 1, `one start for three requests: ${states}`);
    assert.equal(states.at(-1), 'error');
    assert.equal(c.pid, undefined, 'no engine process left running');
    await c.restart().catch(() => undefined);
    assert.equal(states.filter((s) => s === 'starting').length, 2, 'Restart Engine tries again');
    await c.updateSettings(settingsFor(paths));
    assert.equal(await c.countTokens('hello'), 1, 'a working model path recovers');
  });

  it('runs concurrent completion, chat and structured requests; adapters switch in place', async () => {
    const c = client();
    await c.countTokens('x');
    const pid = c.pid;
    const [completion, chat, structured] = await Promise.all([
      c.completeFim({ documentKey: 'd', prompt: fimPrompt(samplePrefixes[1], '\n'), maxTokens: 8 }),
      c.chat({
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Hi' },
        ],
        maxTokens: 16,
      }),
      c.generateStructured({
        messages: [{ role: 'user', content: 'json' }],
        schema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] },
        maxTokens: 24,
      }),
    ]);
    assert.equal(completion.stats.generatedTokens, 8);
    assert.ok(chat.stats.generatedTokens > 0);
    assert.equal(typeof (structured.value as { ok: unknown }).ok, 'boolean');
    const switched = await c.setAdapters([{ path: paths.loraA, scale: 0.5 }]);
    assert.equal(switched.modelReloaded, false);
    assert.equal(c.pid, pid, 'same engine process');
    await assert.rejects(c.setAdapters([{ path: paths.loraMismatch, scale: 1 }]), (err: EngineError) => err.code === 'ADAPTER_MISMATCH');
  });
});
