import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { EngineState } from '../../src/engine/protocol';
import { EngineError, emptyMetrics } from '../../src/engine/protocol';
import { startServer } from '../../src/engine/server';
import { RefusingBackend, SwitchingBackend } from '../../src/switchingBackend';
import { FakeBackend } from './fakes';

/** A FakeBackend answering with its name, keeping its state, refusing every call once disposed. */
class NamedBackend extends FakeBackend {
  currentState: EngineState = { kind: 'stopped' };
  constructor(
    readonly name: string,
    private readonly gone = { disposed: false },
  ) {
    const live = () => {
      if (gone.disposed) throw new EngineError('ENGINE_UNAVAILABLE', `${name} is disposed`);
    };
    super({
      chat: (_request, options) => (live(), options.onText?.(name), name),
      fim: () => (live(), name),
      countTokens: (text) => (live(), text.length),
      metrics: () => emptyMetrics(),
      info: () => (live(), { modelPath: `/models/${name}.gguf`, modelName: name }),
    });
  }
  override async dispose(): Promise<void> {
    this.gone.disposed = true;
    await super.dispose();
  }
  setState(state: EngineState): void {
    this.currentState = state;
    this.emit(state);
  }
}

describe('SwitchingBackend', () => {
  it('sends calls to the backend switched to, and re-emits only its state', async () => {
    const a = new NamedBackend('a');
    const b = new NamedBackend('b');
    const switching = new SwitchingBackend(a);
    const seen: string[] = [];
    switching.onState((s) => seen.push(s.kind));
    a.setState({ kind: 'ready' });
    assert.equal((await switching.chat({ messages: [], maxTokens: 1 })).text, 'a');
    b.setState({ kind: 'loading', progress: 0.5, file: 'b' });
    switching.switchTo(b);
    await a.dispose();
    a.setState({ kind: 'error', message: 'old backend, not heard' });
    assert.equal((await switching.chat({ messages: [], maxTokens: 1 })).text, 'b');
    assert.deepEqual(seen, ['ready', 'loading'], 'the switch announces the new backend state; the old one is no longer heard');
    assert.equal(switching.currentState.kind, 'loading');
  });

  it('a refused remote URL fails each call with its explanation', async () => {
    const switching = new SwitchingBackend(new RefusingBackend('use https'));
    await assert.rejects(switching.countTokens('x'), (err: unknown) => err instanceof EngineError && err.code === 'ENGINE_UNAVAILABLE');
    assert.equal(switching.currentState.kind, 'error');
  });

  it('the API server started on it keeps serving after the backend changes (not the disposed one)', async () => {
    const first = new NamedBackend('first');
    const second = new NamedBackend('second');
    const switching = new SwitchingBackend(first);
    const token = 'a-token-of-enough-length';
    const server = await startServer(switching, { port: 0, token, modelName: 'enclave' });
    try {
      const ask = async () => {
        const response = await fetch(`${server.url}/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'enclave', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 }),
        });
        const body = (await response.json()) as { choices?: { message: { content: string } }[] };
        return { status: response.status, text: body.choices?.[0]?.message.content };
      };
      assert.deepEqual(await ask(), { status: 200, text: 'first' });
      // What BackendHost does on a settings change: point the stable object elsewhere, dispose the old one.
      switching.switchTo(second);
      await first.dispose();
      assert.deepEqual(await ask(), { status: 200, text: 'second' });
    } finally {
      await server.close();
    }
  });
});
