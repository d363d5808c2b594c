// The OpenAI wire module shared by the server and the remote backend: request validation, finish
// reasons both ways, server-sent events, and the path redaction of the server's error bodies.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  finishReasonFor,
  parseChatRequest,
  parseCompletionRequest,
  sseData,
  sseEvent,
  stopReasonFor,
  streamChunk,
  WireValidationError,
} from '../../src/engine/openaiWire';
import type { RequestStats } from '../../src/engine/protocol';
import { redactPaths } from '../../src/engine/server';

const ok = [{ role: 'user', content: 'hi' }];

describe('OpenAI wire: requests', () => {
  it('refuses what the issue found accepted or crashing, naming the field', () => {
    const cases: Array<[unknown, string]> = [
      [{ messages: [null] }, 'messages[0]'],
      [{ messages: ok, n: 5 }, 'n'],
      [{ messages: ok, temperature: 'hot' }, 'temperature'],
      [{ messages: ok, max_tokens: 0.5 }, 'max_tokens'],
      [{ messages: ok, tools: [{}] }, 'tools'],
      [{ messages: [{ role: 'tool', content: 'x' }] }, 'messages[0].role'],
    ];
    for (const [body, field] of cases) {
      assert.throws(
        () => parseChatRequest(body),
        (err: unknown) => err instanceof WireValidationError && err.message.includes(`\`${field}\``),
        JSON.stringify(body),
      );
    }
    assert.throws(() => parseCompletionRequest({ prompt: '' }), WireValidationError);
  });

  it('accepts what OpenAI clients send, unknown fields included', () => {
    const parsed = parseChatRequest({
      model: 'x',
      messages: [{ role: 'developer', content: [{ type: 'text', text: 'a' }] }],
      n: 1,
      stream_options: { include_usage: true },
      presence_penalty: 0,
      max_tokens: null,
    });
    assert.equal(parsed.messages.length, 1);
    assert.equal(parseCompletionRequest({ prompt: 'p', stop: ['\n'], best_of: 1 }).prompt, 'p');
  });
});

describe('OpenAI wire: finish reasons both ways', () => {
  it('maps the engine stop reasons to OpenAI and back to the same class', () => {
    const engine: Array<RequestStats['stopReason']> = ['eos', 'stop', 'maxTokens', 'maxTime', 'abort'];
    for (const stop of engine) {
      const finish = finishReasonFor(stop);
      assert.equal(finishReasonFor(stopReasonFor(finish)), finish);
    }
    assert.equal(stopReasonFor('length'), 'maxTokens');
    assert.equal(stopReasonFor('stop', true), 'maxTime');
    assert.equal(stopReasonFor(undefined), 'eos');
  });

  it('reads back the events it writes', () => {
    const who = { id: 'i', model: 'm', created: 1 };
    const event = sseEvent(streamChunk(who, true, 'hello'));
    assert.deepEqual(JSON.parse(sseData(event.trim())!), streamChunk(who, true, 'hello'));
    assert.equal(sseData('event: ping'), undefined);
  });
});

describe('server error bodies', () => {
  it('carry no absolute paths, but keep URLs and file names', () => {
    const redacted = redactPaths('Model not found: /home/alice/models/qwen.gguf (see C:\\Users\\bob\\m.gguf) at http://127.0.0.1:8080/v1');
    assert.doesNotMatch(redacted, /alice|bob|\/home/);
    assert.match(redacted, /qwen\.gguf/);
    assert.match(redacted, /m\.gguf/);
    assert.match(redacted, /http:\/\/127\.0\.0\.1:8080\/v1/);
  });
});
