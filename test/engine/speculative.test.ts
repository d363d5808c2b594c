// Speculative decoding is exact at every agreement level, for FIM and chat (issue 14): on the
// wide-margin target, drafts agreeing on every token (wideDraft), on half of them (wideDraftHalf)
// and on almost none (the random draft model) give token-for-token the plain greedy output.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import type { ChatMessage } from '../../src/engine/protocol';
import { EngineRuntime } from '../../src/engine/runtime';
import type { FixturePaths } from '../fixtures/generate';
import { fimPrompt, fixtures, repetitiveCode, samplePrefixes, settingsFor } from './helpers';

let paths: FixturePaths;
const runtimes: EngineRuntime[] = [];

before(async () => {
  paths = await fixtures();
});

after(async () => {
  for (const runtime of runtimes) await runtime.dispose();
});

async function load(draft: 'wideDraft' | 'wideDraftHalf' | 'draft'): Promise<EngineRuntime> {
  const runtime = await EngineRuntime.load(
    settingsFor(paths, { modelPath: paths.wide, draftModelPath: paths[draft], speculative: 'draft', sequences: 2 }),
  );
  runtimes.push(runtime);
  return runtime;
}

const chatMessages = (question: string): ChatMessage[] => [
  { role: 'system', content: 'You answer questions about code.' },
  { role: 'user', content: question },
];

const levels = [
  { name: 'every token', draft: 'wideDraft', drafts: true },
  { name: 'half the tokens', draft: 'wideDraftHalf', drafts: false },
  { name: 'almost no token (random draft)', draft: 'draft', drafts: false },
] as const;

for (const level of levels) {
  describe(`a draft agreeing on ${level.name}`, () => {
    let runtime: EngineRuntime;
    before(async () => {
      runtime = await load(level.draft);
    });

    it('FIM: the same tokens as plain decoding', async () => {
      let accepted = 0;
      for (const [i, prefix] of [repetitiveCode(2)].entries()) {
        const prompt = fimPrompt(prefix, '\n}\n');
        const plain = await runtime.completeFim({ documentKey: `p${i}`, prompt, maxTokens: 32, speculative: 'off' });
        const spec = await runtime.completeFim({ documentKey: `s${i}`, prompt, maxTokens: 32, speculative: 'draft' });
        assert.equal(spec.text, plain.text);
        assert.equal(spec.stats.generatedTokens, plain.stats.generatedTokens);
        accepted += spec.stats.draft?.accepted ?? 0;
      }
      if (level.drafts) assert.ok(accepted > 0, 'draft tokens were accepted');
    });

    it('chat: the same answer as LlamaChat without the draft, over two turns', async () => {
      const first = chatMessages('What does this function return?\n' + samplePrefixes[1]);
      const plain = await runtime.chat({ messages: first, maxTokens: 24, speculative: 'off' });
      const chunks: string[] = [];
      const spec = await runtime.chat({ messages: first, maxTokens: 24, speculative: 'draft' }, { onText: (c) => chunks.push(c) });
      assert.equal(plain.stats.draft, undefined, 'the plain request did not draft');
      assert.equal(spec.text, plain.text);
      assert.equal(chunks.join(''), spec.text, 'the streamed text adds up to the answer');
      assert.equal(spec.stats.promptTokens, plain.stats.promptTokens, 'the chat is rendered and tokenized alike');
      assert.ok(spec.stats.draft, 'the greedy chat drafted');
      if (level.drafts) assert.ok(spec.stats.draft.accepted > 0, 'draft tokens were accepted');

      // The next turn reuses the cached conversation and stays identical.
      const second = [...first, { role: 'assistant' as const, content: spec.text }, { role: 'user' as const, content: 'And why?' }];
      const plain2 = await runtime.chat({ messages: second, maxTokens: 8, speculative: 'off' });
      const spec2 = await runtime.chat({ messages: second, maxTokens: 8, speculative: 'draft' });
      assert.equal(spec2.text, plain2.text);
      assert.ok(spec2.stats.reusedTokens > 0, 'the conversation so far came from the KV cache');
    });
  });
}

describe('where speculative chat would not be exact', () => {
  it('sampling (temperature > 0) and grammars decode without the draft', async () => {
    const runtime = runtimes[0] ?? (await load('wideDraft'));
    const sampled = await runtime.chat({ messages: chatMessages('Hello?'), maxTokens: 8, temperature: 0.8, speculative: 'draft' });
    assert.equal(sampled.stats.draft, undefined);
    const structured = await runtime.generateStructured({
      messages: chatMessages('A number, please.'),
      schema: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] },
      maxTokens: 24,
    });
    assert.equal(structured.stats.draft, undefined);
  });
});
