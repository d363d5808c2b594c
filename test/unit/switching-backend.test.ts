import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type {
  Backend,
  ChatRequest,
  EngineInfo,
  EngineMetrics,
  EngineState,
  GenerationResult,
  RequestOptions,
} from '../../src/engine/protocol';
import { EngineError, emptyMetrics } from '../../src/engine/protocol';
import { startServer } from '../../src/engine/server';
import { RefusingBackend, SwitchingBackend } from '../../src/switchingBackend';

/** A backend that answers chat with its name and refuses everything once disposed. */
class NamedBackend implements Backend {
  readonly kind = 'local' as const;
  disposed = false;
  currentState: EngineState = { kind: 'stopped' };
  private readonly listeners = new Set<(s: EngineState) => void>();
  constructor(readonly name: string) {}
  setState(state: EngineState): void {
    this.currentState = state;
    for (const l of this.listeners) l(state);
  }
  private live(): void {
    if (this.disposed) throw new EngineError('ENGINE_UNAVAILABLE', `${this.name} is disposed`);
  }
  async chat(_request: ChatRequest, options?: RequestOptions): Promise<GenerationResult> {
    this.live();
    options?.onText?.(this.name);
    return {
      text: this.name,
      stats: {
        promptTokens: 1,
        evaluatedTokens: 1,
        reusedTokens: 0,
        generatedTokens: 1,
        timeToFirstTokenMs: 1,
        totalMs: 1,
        queuedMs: 0,
        stopReason: 'eos',
      },
    };
  }
  async info(): Promise<EngineInfo> {
    this.live();
    return {
      modelPath: `/models/${this.name}.gguf`,
      modelName: this.name,
      fimFamily: 'qwen',
      adapters: [],
      contextSize: 4096,
      sequences: 1,
      backend: 'local',
    } as unknown as EngineInfo;
  }
  completeFim = this.chat.bind(this) as unknown as Backend['completeFim'];
  async generateStructured(): Promise<never> {
    throw new Error('unused');
  }
  async countTokens(text: string): Promise<number> {
    this.live();
    return text.length;
  }
  async setAdapters(): Promise<never> {
    throw new Error('unused');
  }
  async metrics(): Promise<EngineMetrics> {
    return emptyMetrics();
  }
  onState(listener: (s: EngineState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  async dispose(): Promise<void> {
    this.disposed = true;
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
