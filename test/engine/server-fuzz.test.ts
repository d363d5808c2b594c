// Fuzzing the OpenAI-compatible API over real HTTP and the real engine (tiny fixture model): random
// bodies, types, sizes and headers never produce a 500 or a hung request, bad input is a clear 4xx
// naming what is wrong, and the server still answers a normal request afterwards. Runs are bounded
// (generations are a few tokens) so the layer stays quick.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';

import fc from 'fast-check';

import { EngineRuntime } from '../../src/engine/runtime';
import { startServer, type RunningServer } from '../../src/engine/server';
import { fixtures, settingsFor } from './helpers';

const token = 'fuzz-token-0123456789abcdef';
let runtime: EngineRuntime;
let server: RunningServer;

before(async () => {
  runtime = await EngineRuntime.load(settingsFor(await fixtures(), { sequences: 2 }));
  server = await startServer(runtime, {
    port: 0,
    token,
    modelName: 'fuzz',
    maxBodyBytes: 32 * 1024,
    maxQueued: 64,
    requestTimeoutMs: 30_000,
  });
});
after(async () => {
  await server?.close();
  await runtime?.dispose();
});

interface Reply {
  status: number;
  body: string;
}

/** One raw request with exactly these headers and bytes (fetch would add and normalise headers). */
function send(path: string, body: Uint8Array | string, headers: Record<string, string> = {}, method = 'POST'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const all: Record<string, string> = { authorization: `Bearer ${token}`, ...headers };
    if (all.authorization === '') delete all.authorization;
    const req = httpRequest(`${server.url}${path}`, { method, headers: all, timeout: 60_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error('request hung')));
    req.on('error', reject);
    req.end(body);
  });
}

function assertClearClientError(reply: Reply, allowed: number[]): void {
  assert.ok(allowed.includes(reply.status), `status ${reply.status}: ${reply.body.slice(0, 300)}`);
  if (reply.status === 200) return;
  const error = (JSON.parse(reply.body) as { error: { message: string; type: string } }).error;
  assert.ok(error.message.length > 10, 'the error says what is wrong');
  assert.doesNotMatch(error.message, /(^|\s)\/[\w.-]+\/[\w.-]+/, 'no absolute paths in errors');
  assert.doesNotMatch(error.message, /TypeError|Cannot read properties/);
}

// Values of every JSON type, including the shapes OpenAI fields expect, to put in any field.
const anyValue = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -5, max: 6 }),
  fc.double({ noNaN: true }),
  fc.constantFrom(1e15, -0, 2 ** 53, 0.5),
  fc.string({ maxLength: 20 }),
  fc.constantFrom('user', 'system', 'assistant', 'developer', 'tool', 'text', 'json_schema', 'hot'),
  fc.array(fc.oneof(fc.constant(null), fc.string({ maxLength: 5 }), fc.integer()), { maxLength: 3 }),
  fc.dictionary(
    fc.constantFrom('role', 'content', 'type', 'text', 'schema', 'json_schema'),
    fc.oneof(fc.string({ maxLength: 8 }), fc.constant(null), fc.integer()),
    { maxKeys: 3 },
  ),
);
const message = fc.oneof(
  anyValue,
  fc.record(
    {
      role: fc.oneof(fc.constantFrom('user', 'system', 'assistant', 'developer'), anyValue),
      content: fc.oneof(fc.string({ maxLength: 40 }), anyValue),
    },
    { requiredKeys: [] },
  ),
);
// A small max_tokens on (nearly) every body keeps the generations that are valid short.
const chatBody = fc.record(
  {
    messages: fc.oneof(fc.array(message, { maxLength: 3 }), anyValue),
    max_tokens: fc.oneof(fc.integer({ min: 1, max: 3 }), anyValue),
    temperature: anyValue,
    n: anyValue,
    stream: fc.oneof(fc.boolean(), anyValue),
    stop: anyValue,
    response_format: anyValue,
    seed: anyValue,
    top_p: anyValue,
    tools: anyValue,
  },
  { requiredKeys: ['max_tokens'] },
);
const completionBody = fc.record(
  {
    prompt: fc.oneof(fc.string({ maxLength: 40 }), anyValue),
    max_tokens: fc.oneof(fc.integer({ min: 1, max: 3 }), anyValue),
    stop: anyValue,
    stream: fc.oneof(fc.boolean(), anyValue),
    n: anyValue,
    echo: anyValue,
    user: anyValue,
  },
  { requiredKeys: ['max_tokens'] },
);
/** Valid bodies only generate a few tokens: drop those whose max_tokens would not keep them short. */
const short = (b: { max_tokens?: unknown }) =>
  typeof b.max_tokens !== 'number' || !Number.isInteger(b.max_tokens) || b.max_tokens < 1 || b.max_tokens <= 3;

describe('API server under fuzzing', () => {
  it('answers the cases found by hand with clear 4xx', async () => {
    const json = { 'content-type': 'application/json' };
    const ok = [{ role: 'user', content: 'hi' }];
    for (const body of [
      { messages: [null] },
      { messages: ok, n: 5 },
      { messages: ok, temperature: 'hot' },
      { messages: ok, max_tokens: -1 },
      { messages: 'hi' },
    ]) {
      assertClearClientError(await send('/chat/completions', JSON.stringify(body), json), [400]);
    }
    assertClearClientError(
      await send('/chat/completions', JSON.stringify({ messages: ok, max_tokens: 2 }), { ...json, origin: 'https://evil.example' }),
      [403],
    );
    assertClearClientError(await send('/models', '', { host: 'evil.example:80' }, 'GET'), [403]);
  });

  it('chat bodies of any shape: 200 or a clear 400, never a 500', async () => {
    await fc.assert(
      fc.asyncProperty(chatBody.filter(short), async (body) => {
        assertClearClientError(await send('/chat/completions', JSON.stringify(body), { 'content-type': 'application/json' }), [200, 400]);
      }),
      { numRuns: 80 },
    );
  });

  it('completion bodies of any shape: 200 or a clear 400, never a 500', async () => {
    await fc.assert(
      fc.asyncProperty(completionBody.filter(short), async (body) => {
        assertClearClientError(await send('/completions', JSON.stringify(body), { 'content-type': 'application/json' }), [200, 400]);
      }),
      { numRuns: 60 },
    );
  });

  it('random bytes, any size, any route: a clear 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.uint8Array({ maxLength: 256 }), fc.uint8Array({ minLength: 32 * 1024 + 1, maxLength: 40 * 1024 })),
        fc.constantFrom('/chat/completions', '/completions', '/models', '/nope', '/chat/completions?x=1'),
        async (bytes, path) => {
          assertClearClientError(await send(path, bytes, { 'content-type': 'application/octet-stream' }), [400, 404, 413]);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('random headers: a wrong token is 401, an Origin or foreign Host 403, never a 500', async () => {
    const header = fc.stringMatching(/^[\x21-\x7e][\x20-\x7e]{0,40}$/);
    await fc.assert(
      fc.asyncProperty(
        fc.option(fc.oneof(header, fc.constant(`Bearer ${token}`))),
        fc.option(header),
        fc.option(header),
        fc.option(header),
        async (authorization, origin, host, contentType) => {
          const headers: Record<string, string> = {};
          // No Authorization header at all when null ('' is how `send` leaves its default out).
          headers.authorization = authorization ?? '';
          if (origin !== null) headers.origin = origin;
          if (host !== null) headers.host = host;
          if (contentType !== null) headers['content-type'] = contentType;
          const reply = await send(
            '/chat/completions',
            JSON.stringify({ messages: [{ role: 'user', content: 'x' }], max_tokens: 1 }),
            headers,
          );
          assertClearClientError(reply, [200, 400, 401, 403]);
          if (origin !== null) assert.equal(reply.status, 403);
          if (reply.status === 200) assert.equal(authorization, `Bearer ${token}`);
        },
      ),
      { numRuns: 80 },
    );
  });

  it('still serves normally afterwards', async () => {
    const reply = await send('/chat/completions', JSON.stringify({ messages: [{ role: 'user', content: 'Hello' }], max_tokens: 3 }), {
      'content-type': 'application/json',
    });
    assert.equal(reply.status, 200);
    assert.equal((JSON.parse(reply.body) as { usage: { completion_tokens: number } }).usage.completion_tokens, 3);
    assert.deepEqual(server.load(), { active: 0, queued: 0 });
  });
});
