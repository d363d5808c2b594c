// Admission control of the API server over real HTTP on 127.0.0.1: a bounded queue answering 429
// with Retry-After, a per-request time limit, a streaming body limit, and every request settling.
// The backend is a gate the test opens and closes: only that way is "the engine is busy" exact.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';

import { EngineError, emptyMetrics, type Backend, type GenerationResult, type RequestOptions } from '../../src/engine/protocol';
import { startServer, type RunningServer } from '../../src/engine/server';

const token = 'limits-token-0123456789abcdef';

/** A backend whose generations wait until released (or aborted). */
class GatedBackend {
  started = 0;
  maxTokensSeen: number[] = [];
  private waiting: Array<() => void> = [];
  autoRelease = false;

  release(): void {
    for (const open of this.waiting.splice(0)) open();
  }

  private generate(maxTokens: number, options?: RequestOptions): Promise<GenerationResult> {
    this.started++;
    this.maxTokensSeen.push(maxTokens);
    return new Promise((resolve, reject) => {
      const done = () => {
        options?.onText?.('ok');
        resolve({
          text: 'ok',
          stats: {
            promptTokens: 3,
            evaluatedTokens: 3,
            reusedTokens: 0,
            generatedTokens: 1,
            timeToFirstTokenMs: 1,
            totalMs: 1,
            stopReason: 'eos',
          } as GenerationResult['stats'],
        });
      };
      if (this.autoRelease) return done();
      this.waiting.push(done);
      options?.signal?.addEventListener('abort', () => reject(new EngineError('CANCELLED', 'Request cancelled.')), { once: true });
    });
  }

  asBackend(): Backend {
    const generate = (r: { maxTokens: number }, o?: RequestOptions) => this.generate(r.maxTokens, o);
    return {
      kind: 'local',
      info: async () => ({ contextSize: 512 }) as Awaited<ReturnType<Backend['info']>>,
      completeFim: generate,
      chat: generate,
      generateStructured: async (r: { maxTokens: number }, o?: RequestOptions) =>
        ({ ...(await generate(r, o)), value: {} }) as Awaited<ReturnType<Backend['generateStructured']>>,
      countTokens: async (t: string) => t.length,
      setAdapters: async () => ({ adapters: [], switchMs: 0, modelReloaded: false }),
      metrics: async () => emptyMetrics(),
      onState: () => () => undefined,
      currentState: { kind: 'ready' },
      dispose: async () => undefined,
    } as unknown as Backend;
  }
}

const gate = new GatedBackend();
let server: RunningServer;

before(async () => {
  server = await startServer(gate.asBackend(), {
    port: 0,
    token,
    modelName: 'gated',
    maxActive: 2,
    maxQueued: 3,
    requestTimeoutMs: 1500,
    maxBodyBytes: 64 * 1024,
  });
});
after(() => server?.close());

function chat(extra: Record<string, unknown> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(`${server.url}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], ...extra }),
    signal,
  });
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('API server admission control', () => {
  it('queues up to the bound, answers 429 with Retry-After beyond it, and settles every request', async () => {
    gate.autoRelease = false;
    const accepted = Array.from({ length: 5 }, () => chat());
    await until(() => server.load().active === 2 && server.load().queued === 3);
    const refused = await chat();
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.headers.get('retry-after')) >= 1);
    assert.equal(((await refused.json()) as { error: { type: string } }).error.type, 'rate_limit_error');
    // Open the gate until everything queued has run.
    while (server.load().active + server.load().queued > 0) {
      gate.release();
      await new Promise((r) => setTimeout(r, 10));
    }
    const statuses = await Promise.all(accepted.map(async (p) => (await p).status));
    assert.deepEqual(statuses, [200, 200, 200, 200, 200]);
    assert.deepEqual(server.load(), { active: 0, queued: 0 });
  });

  it('ends a request that runs past the time limit with 504 and frees its place', async () => {
    gate.autoRelease = false;
    const startedAt = Date.now();
    const response = await chat();
    assert.equal(response.status, 504);
    assert.ok(Date.now() - startedAt < 5000);
    await until(() => server.load().active === 0);
    gate.autoRelease = true;
    assert.equal((await chat()).status, 200);
  });

  it('frees the place of a client that disconnects, queued or running', async () => {
    gate.autoRelease = false;
    const controllers = Array.from({ length: 4 }, () => new AbortController());
    const pending = controllers.map((c) => chat({}, c.signal).catch(() => 'aborted'));
    await until(() => server.load().active === 2 && server.load().queued === 2);
    for (const c of controllers) c.abort();
    assert.deepEqual(await Promise.all(pending), ['aborted', 'aborted', 'aborted', 'aborted']);
    await until(() => server.load().active === 0 && server.load().queued === 0);
  });

  it('clamps max_tokens to the context size', async () => {
    gate.autoRelease = true;
    gate.maxTokensSeen = [];
    assert.equal((await chat({ max_tokens: 1e15 })).status, 200);
    assert.deepEqual(gate.maxTokensSeen, [512]);
  });

  it('refuses a body over the limit with 413 while it streams in, without reading it all', async () => {
    gate.autoRelease = true;
    const outcome = await new Promise<{ status: number; sent: number }>((resolve, reject) => {
      const req = httpRequest(`${server.url}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      });
      let sent = 0;
      req.on('response', (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, sent });
        req.destroy();
      });
      req.on('error', reject);
      const chunk = Buffer.alloc(16 * 1024, 0x20);
      const pump = () => {
        // Chunked, with no Content-Length: the limit has to hold while reading.
        while (sent < 64 * 1024 * 1024 && req.write(chunk)) sent += chunk.length;
        if (sent < 64 * 1024 * 1024) req.once('drain', pump);
      };
      req.write('{"messages":"');
      pump();
    });
    assert.equal(outcome.status, 413);
    assert.ok(outcome.sent < 64 * 1024 * 1024, 'the server answered before the client had sent everything');
    assert.equal((await chat()).status, 200);
  });
});
