// Tool calls through node-llama-cpp's function calling on the random-weight fixture (real Qwen
// tokenizer and chat template): in `required` mode the grammar alone makes the reply a call of a
// listed tool with arguments of its schema, whatever the weights; the result goes back as history.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { EngineError, type ChatMessage, type ToolSpec } from '../../src/engine/protocol';
import { EngineRuntime } from '../../src/engine/runtime';
import { fixtures, settingsFor } from './helpers';

let runtime: EngineRuntime;

before(async () => {
  runtime = await EngineRuntime.load(settingsFor(await fixtures(), { sequences: 2 }));
});

after(async () => {
  await runtime?.dispose();
});

const search: ToolSpec = {
  name: 'search_files',
  description: 'Search the project',
  parameters: {
    type: 'object',
    properties: { query: { type: 'string', maxLength: 24, pattern: '^x' }, limit: { type: 'integer' } },
    required: ['query'],
  },
};
const clock: ToolSpec = { name: 'current_time', description: 'The time' };
const question: ChatMessage[] = [
  { role: 'system', content: 'You are a helper.' },
  { role: 'user', content: 'Where is main defined?' },
];

describe('tool calls', () => {
  it('required mode: the reply is one well-formed call of a listed tool, arguments matching its schema', async () => {
    for (let round = 0; round < 2; round++) {
      const result = await runtime.chat({ messages: question, maxTokens: 96, tools: [search, clock], toolMode: 'required' });
      assert.equal(result.toolCalls?.length, 1, JSON.stringify(result));
      const [call] = result.toolCalls;
      assert.match(call.id, /^call_[0-9a-f]{12}$/);
      assert.ok(['search_files', 'current_time'].includes(call.name));
      if (call.name === 'search_files') {
        const args = call.arguments as { query: unknown; limit: unknown };
        assert.equal(typeof args.query, 'string');
        assert.ok((args.query as string).length <= 24);
        assert.ok(Number.isInteger(args.limit));
      } else {
        assert.deepEqual(call.arguments, {});
      }
    }
  });

  it('a tool result in the history is answered: the model continues after it with text', async () => {
    const first = await runtime.chat({ messages: question, maxTokens: 96, tools: [search], toolMode: 'required' });
    const call = first.toolCalls?.[0];
    assert.ok(call);
    const chunks: string[] = [];
    const answer = await runtime.chat(
      {
        messages: [...question, { role: 'assistant', content: '', toolCalls: [{ ...call, result: 'src/main.ts:1' }] }],
        maxTokens: 12,
        tools: [search],
      },
      { onText: (c) => chunks.push(c) },
    );
    assert.equal(answer.toolCalls, undefined);
    assert.ok(answer.stats.generatedTokens > 0);
    assert.equal(chunks.join(''), answer.text);
    // The call and its result were part of the prompt: it is longer than the question alone.
    const plain = await runtime.chat({ messages: question, maxTokens: 1 });
    assert.ok(answer.stats.promptTokens > plain.stats.promptTokens + 10, `${answer.stats.promptTokens} vs ${plain.stats.promptTokens}`);
  });

  it('cancelling during a forced call stops it with CANCELLED', async () => {
    const abort = new AbortController();
    const started = performance.now();
    setTimeout(() => abort.abort(), 150);
    await assert.rejects(
      runtime.chat({ messages: question, maxTokens: 2000, tools: [search], toolMode: 'required' }, { signal: abort.signal }),
      (err: unknown) => err instanceof EngineError && err.code === 'CANCELLED',
    );
    assert.ok(performance.now() - started < 10_000);
  });

  it('bad tool lists are refused with what is wrong', async () => {
    for (const tools of [[{ name: 'has space', description: '' }], [clock, clock], 'x'] as unknown as ToolSpec[][]) {
      await assert.rejects(
        runtime.chat({ messages: question, maxTokens: 4, tools }),
        (err: unknown) => err instanceof EngineError && err.code === 'BAD_REQUEST',
      );
    }
  });
});
