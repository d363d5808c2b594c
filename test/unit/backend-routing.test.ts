import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { EngineMetrics, EngineState, RequestStats } from '../../src/engine/protocol';
import { mergeStates, RoutingBackend, separateModel } from '../../src/engine/routing';
import { FakeBackend, fakeStats } from './fakes';

const stats: RequestStats = fakeStats({ promptTokens: 1, evaluatedTokens: 1, generatedTokens: 1, timeToFirstTokenMs: 1, totalMs: 1 });

function metrics(n: number): EngineMetrics {
  return {
    requests: n,
    cancelled: 0,
    failed: 0,
    promptTokens: 10 * n,
    evaluatedTokens: 0,
    reusedTokens: 0,
    generatedTokens: 5 * n,
    draftAccepted: 0,
    draftRejected: 0,
    lastLatencyMs: 100 * n,
    lastTokensPerSecond: n,
    sequenceEvictions: 0,
    restarts: 0,
  };
}

/** A backend that answers with its own name (and counts `n` tokens per character). */
function named(name: string, n: number): FakeBackend {
  return new FakeBackend({
    info: { modelPath: `/models/${name}.gguf`, modelName: name, backend: 'local' },
    fim: () => ({ text: `${name}:completeFim`, stats }),
    chat: () => ({ text: `${name}:chat`, stats }),
    structured: () => ({ from: name }),
    countTokens: (text) => text.length * n,
    setAdapters: (adapters) => ({ adapters, switchMs: 1, modelReloaded: false }),
    metrics: () => metrics(n),
  });
}

function setup() {
  const completion = named('coder', 1);
  const chat = named('instruct', 2);
  const routing = new RoutingBackend(completion, { chat: { backend: chat, path: '/models/instruct.gguf' } });
  return { completion, chat, routing };
}

describe('RoutingBackend', () => {
  it('sends FIM, token counts and adapters to the completion engine, chat and structured output to the chat engine', async () => {
    const { completion, chat, routing } = setup();
    assert.equal((await routing.completeFim({ documentKey: 'd', prompt: 'p', maxTokens: 1 })).text, 'coder:completeFim');
    assert.equal(await routing.countTokens('abc'), 3);
    assert.deepEqual((await routing.setAdapters([{ path: '/a', scale: 1 }])).adapters, [{ path: '/a', scale: 1 }]);
    assert.deepEqual(chat.calls, [], 'the chat engine is not touched (not started) by completion work');
    assert.equal((await routing.chat({ messages: [{ role: 'user', content: 'hi' }], maxTokens: 1 })).text, 'instruct:chat');
    assert.deepEqual((await routing.generateStructured({ messages: [{ role: 'user', content: 'hi' }], schema: {}, maxTokens: 1 })).value, {
      from: 'instruct',
    });
    assert.deepEqual(completion.calls, ['completeFim', 'countTokens', 'setAdapters']);
    assert.deepEqual(chat.calls, ['chat', 'generateStructured']);
  });

  it('a chat request for the completion model (the language-model API offers both) goes to the completion engine', async () => {
    const { completion, chat, routing } = setup();
    const answer = await routing.chat({ messages: [{ role: 'user', content: 'hi' }], maxTokens: 1, engine: 'completion' });
    assert.equal(answer.text, 'coder:chat');
    assert.deepEqual(completion.calls, ['chat']);
    assert.deepEqual(chat.calls, [], 'the chat engine is not started for it');
  });

  it("reports the completion engine's info plus the chat model path", async () => {
    const { chat, routing } = setup();
    const info = await routing.info();
    assert.equal(info.modelName, 'coder');
    assert.equal(info.chatModelPath, '/models/instruct.gguf');
    assert.deepEqual(chat.calls, []);
  });

  it('sums metrics over both engines once chat has been used, without starting the chat engine before', async () => {
    const { chat, routing } = setup();
    assert.deepEqual(await routing.metrics(), metrics(1));
    assert.deepEqual(chat.calls, []);
    await routing.chat({ messages: [{ role: 'user', content: 'hi' }], maxTokens: 1 });
    const sum = await routing.metrics();
    assert.equal(sum.requests, 3);
    assert.equal(sum.promptTokens, 30);
    assert.equal(sum.generatedTokens, 15);
    assert.equal(sum.lastLatencyMs, 100);
  });

  it("merges both engines' states into one, the more urgent first, and stops after unsubscribe", () => {
    const { completion, chat, routing } = setup();
    const seen: EngineState[] = [];
    const off = routing.onState((s) => seen.push(s));
    completion.emit({ kind: 'starting' });
    completion.emit({ kind: 'ready' });
    chat.emit({ kind: 'stopped' }); // no change: still ready
    chat.emit({ kind: 'loading', progress: 0.5, file: '/models/instruct.gguf' });
    chat.emit({ kind: 'ready' });
    chat.emit({ kind: 'error', message: 'file not found' });
    completion.emit({ kind: 'crashed', message: 'boom' }); // error still outranks crashed
    chat.emit({ kind: 'ready' });
    off();
    completion.emit({ kind: 'ready' });
    assert.deepEqual(seen, [
      { kind: 'starting' },
      { kind: 'ready' },
      { kind: 'loading', progress: 0.5, file: '/models/instruct.gguf' },
      { kind: 'ready' },
      { kind: 'error', message: 'Chat model: file not found' },
      { kind: 'crashed', message: 'boom' },
    ]);
  });

  it('mergeStates keeps a ready completion engine ready while the chat engine has not started', () => {
    assert.deepEqual(mergeStates({ kind: 'ready' }, { kind: 'stopped' }), { kind: 'ready' });
    assert.deepEqual(mergeStates({ kind: 'stopped' }, { kind: 'stopped' }), { kind: 'stopped' });
    assert.deepEqual(mergeStates({ kind: 'ready' }, { kind: 'crashed', message: 'x', restartInMs: 250 }), {
      kind: 'crashed',
      message: 'Chat model: x',
      restartInMs: 250,
    });
    assert.deepEqual(mergeStates({ kind: 'error', message: 'a' }, { kind: 'error', message: 'b' }), { kind: 'error', message: 'a' });
  });

  it("after releaseChat reports the completion engine's state alone and no longer hears the chat engine", () => {
    const { completion, chat, routing } = setup();
    const seen: EngineState[] = [];
    routing.onState((s) => seen.push(s));
    completion.emit({ kind: 'ready' });
    chat.emit({ kind: 'error', message: 'bad file' });
    routing.releaseChat();
    chat.emit({ kind: 'error', message: 'again' });
    completion.emit({ kind: 'crashed', message: 'boom' });
    assert.deepEqual(
      seen.map((s) => s.kind),
      ['ready', 'error', 'ready', 'crashed'],
    );
    assert.equal(chat.listeners.size, 0);
    assert.equal(completion.listeners.size, 1);
  });

  it('disposes both engines', async () => {
    const { completion, chat, routing } = setup();
    await routing.dispose();
    assert.ok(completion.disposed && chat.disposed);
    assert.equal(completion.listeners.size, 0);
    assert.equal(chat.listeners.size, 0);
  });
});

describe('RoutingBackend with a next-edit model set apart', () => {
  function withNextEdit() {
    const completion = named('coder', 1);
    const nextEdit = named('zeta', 3);
    const routing = new RoutingBackend(completion, { nextEdit: { backend: nextEdit, path: '/models/zeta.gguf' } });
    return { completion, nextEdit, routing };
  }

  it('sends next-edit prompts (raw and structured) and the next-edit info to the next-edit engine, the rest to the completion engine', async () => {
    const { completion, nextEdit, routing } = withNextEdit();
    assert.equal((await routing.completeFim({ documentKey: 'd', prompt: 'p', maxTokens: 1 })).text, 'coder:completeFim');
    assert.deepEqual(nextEdit.calls, [], 'not started by completion work');
    assert.equal((await routing.completeFim({ documentKey: 'd', prompt: 'p', maxTokens: 1, engine: 'nextEdit' })).text, 'zeta:completeFim');
    const structured = await routing.generateStructured({
      messages: [{ role: 'user', content: 'x' }],
      schema: {},
      maxTokens: 1,
      engine: 'nextEdit',
    });
    assert.deepEqual(structured.value, { from: 'zeta' });
    assert.equal((await routing.info('nextEdit')).modelName, 'zeta');
    assert.equal((await routing.info()).modelName, 'coder');
    assert.equal((await routing.info()).nextEditModelPath, '/models/zeta.gguf');
    // No chat model set apart: chat and review stay on the completion model.
    assert.equal((await routing.chat({ messages: [{ role: 'user', content: 'hi' }], maxTokens: 1 })).text, 'coder:chat');
    assert.deepEqual(nextEdit.calls, ['completeFim', 'generateStructured', 'info']);
    assert.deepEqual(completion.calls, ['completeFim', 'info', 'info', 'chat']);
    assert.equal((await routing.metrics()).requests, 1 + 3, 'metrics count the next-edit engine once used');
  });

  it("marks the next-edit engine's error as such, and after release sends next-edit prompts to the completion engine", async () => {
    const { completion, nextEdit, routing } = withNextEdit();
    const seen: EngineState[] = [];
    routing.onState((s) => seen.push(s));
    completion.emit({ kind: 'ready' });
    nextEdit.emit({ kind: 'error', message: 'The model file /models/zeta.gguf does not exist.' });
    routing.release('nextEdit');
    assert.deepEqual(seen, [
      { kind: 'ready' },
      { kind: 'error', message: 'Next-edit model: The model file /models/zeta.gguf does not exist.' },
      { kind: 'ready' },
    ]);
    assert.equal(
      (await routing.completeFim({ documentKey: 'd', prompt: 'p', maxTokens: 1, engine: 'nextEdit' })).text,
      'coder:completeFim',
    );
    assert.equal(nextEdit.listeners.size, 0);
  });
});

describe('separateModel', () => {
  it('runs a second engine only for a chat model that differs from the completion model', () => {
    assert.equal(separateModel('', '/m/coder.gguf'), '');
    assert.equal(separateModel('/m/instruct.gguf', '/m/coder.gguf'), '/m/instruct.gguf');
    assert.equal(separateModel('/m/./coder.gguf', '/m/coder.gguf'), '');
    assert.equal(separateModel('/m/instruct.gguf', ''), '/m/instruct.gguf');
  });
});
