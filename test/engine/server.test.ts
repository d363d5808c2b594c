// The OpenAI-compatible endpoint over the real runtime, spoken to with fetch on 127.0.0.1.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { EngineRuntime } from '../../src/engine/runtime';
import { startServer, type RunningServer } from '../../src/engine/server';
import { fimPrompt, fixtures, settingsFor } from './helpers';

const token = 'test-token-0123456789abcdef';
let runtime: EngineRuntime;
let server: RunningServer;

before(async () => {
  const paths = await fixtures();
  // The wide-margin model: streamed and plain answers are compared, on every CPU variant.
  runtime = await EngineRuntime.load(settingsFor(paths, { modelPath: paths.wide, sequences: 2 }));
  server = await startServer(runtime, { port: 0, token, modelName: 'enclave-test' });
});

after(async () => {
  await server?.close();
  await runtime?.dispose();
});

function post(path: string, body: unknown, auth = `Bearer ${token}`): Promise<Response> {
  return fetch(server.url + path, {
    method: 'POST',
    headers: { authorization: auth, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

async function sse(response: Response): Promise<Array<Record<string, unknown>>> {
  const text = await response.text();
  const events = text
    .split('\n\n')
    .filter((e) => e.startsWith('data: '))
    .map((e) => e.slice(6));
  assert.equal(events.at(-1), '[DONE]');
  return events.slice(0, -1).map((e) => JSON.parse(e) as Record<string, unknown>);
}

describe('OpenAI-compatible server', () => {
  it('listens on 127.0.0.1 and refuses requests without the right bearer token', async () => {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    assert.equal((await fetch(`${server.url}/models`)).status, 401);
    assert.equal((await post('/chat/completions', { messages: [] }, 'Bearer wrong-token-0123456789ab')).status, 401);
    const models = (await (await fetch(`${server.url}/models`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      data: Array<{ id: string }>;
    };
    assert.deepEqual(
      models.data.map((m) => m.id),
      ['enclave-test'],
    );
  });

  it('answers chat completions, streamed and not, with the same greedy text', async () => {
    const body = { messages: [{ role: 'user', content: 'Hello' }], max_tokens: 12, temperature: 0 };
    const plain = (await (await post('/chat/completions', body)).json()) as {
      choices: Array<{ message: { content: string }; finish_reason: string }>;
      usage: { completion_tokens: number };
    };
    assert.equal(plain.choices[0].finish_reason, 'length');
    assert.equal(plain.usage.completion_tokens, 12);
    const events = await sse(await post('/chat/completions', { ...body, stream: true }));
    const streamed = events.map((e) => (e.choices as Array<{ delta: { content?: string } }>)[0].delta.content ?? '').join('');
    assert.equal(streamed, plain.choices[0].message.content);
  });

  it('completes a raw prompt and honours json_schema response formats', async () => {
    const completion = (await (await post('/completions', { prompt: fimPrompt('let x = ', ';'), max_tokens: 5 })).json()) as {
      choices: Array<{ text: string }>;
      usage: { completion_tokens: number };
    };
    assert.equal(completion.usage.completion_tokens, 5);
    const schema = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] };
    const structured = (await (
      await post('/chat/completions', {
        messages: [{ role: 'user', content: 'json' }],
        max_tokens: 30,
        response_format: { type: 'json_schema', json_schema: { name: 'r', schema } },
      })
    ).json()) as { choices: Array<{ message: { content: string } }> };
    assert.equal(typeof (JSON.parse(structured.choices[0].message.content) as { ok: unknown }).ok, 'boolean');
  });

  it('reports bad requests as OpenAI-style errors', async () => {
    const response = await post('/chat/completions', { messages: [{ role: 'robot', content: 'x' }] });
    assert.equal(response.status, 400);
    const body = (await response.json()) as { error: { message: string; type: string } };
    assert.equal(body.error.type, 'invalid_request_error');
    assert.equal((await post('/nope', {})).status, 404);
  });
});
