import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { StoredMessage } from '../../src/chat/history';
import { buildPrompt, MESSAGE_OVERHEAD_TOKENS, PROMPT_MARGIN_TOKENS, PromptTooLargeError, renderUserContent } from '../../src/chat/session';

/** One token per 4 characters, like a rough BPE; counted calls are recorded. */
function counter() {
  const calls: string[] = [];
  const count = async (text: string) => {
    calls.push(text);
    return Math.ceil(text.length / 4);
  };
  return { count, calls };
}

let seq = 0;
const user = (content: string, extra: Partial<StoredMessage> = {}): StoredMessage => ({
  id: `u${++seq}`,
  role: 'user',
  content,
  time: seq,
  ...extra,
});
const assistant = (content: string, extra: Partial<StoredMessage> = {}): StoredMessage => ({
  id: `a${++seq}`,
  role: 'assistant',
  content,
  time: seq,
  status: 'complete',
  ...extra,
});

function total(messages: { content: string }[]): number {
  return messages.reduce((n, m) => n + Math.ceil(m.content.length / 4) + MESSAGE_OVERHEAD_TOKENS, 0);
}

test('a short conversation goes in whole, in order, with the attachments before the question', async () => {
  const turns = [
    user('What does a do?'),
    assistant('It adds.'),
    user('And b?', {
      attachments: [
        {
          id: 'x',
          kind: 'selection',
          label: 'b.ts:2-3',
          path: 'src/b.ts',
          language: 'ts',
          range: { startLine: 1, startCharacter: 0, endLine: 2, endCharacter: 0 },
          content: 'function b() {}\n',
        },
      ],
    }),
  ];
  const plan = await buildPrompt({ system: 'SYS', turns, contextSize: 4096, maxTokens: 512, countTokens: counter().count });
  assert.deepEqual(
    plan.messages.map((m) => m.role),
    ['system', 'user', 'assistant', 'user'],
  );
  assert.equal(plan.messages[0].content, 'SYS');
  assert.equal(plan.messages[3].content, 'Selected code from src/b.ts, lines 2-3:\n```ts\nfunction b() {}\n```\n\nAnd b?');
  assert.equal(plan.droppedMessages, 0);
  assert.equal(plan.note, undefined);
  assert.equal(plan.maxTokens, 512);
  assert.equal(plan.promptTokens, total(plan.messages));
});

test('older turns are dropped first, newest kept, with a visible note and a summary', async () => {
  const turns: StoredMessage[] = [];
  for (let i = 0; i < 20; i++) turns.push(user(`question number ${i} ${'q'.repeat(200)}`), assistant(`answer ${i} ${'a'.repeat(400)}`));
  turns.push(user('the last question'));
  const contextSize = 1024;
  const maxTokens = 256;
  const plan = await buildPrompt({ system: 'SYS', turns, contextSize, maxTokens, countTokens: counter().count });
  assert.equal(plan.messages.at(-1)?.content, 'the last question');
  assert.ok(plan.droppedMessages > 0 && plan.droppedMessages % 2 === 0, `dropped ${plan.droppedMessages}`);
  const kept = plan.messages.slice(1, -1);
  assert.equal(kept.length, 40 - plan.droppedMessages);
  // The kept turns are the most recent ones, still paired.
  assert.match(kept.at(-2)?.content ?? '', /^question number 19 /);
  assert.match(kept.at(-1)?.content ?? '', /^answer 19 /);
  assert.equal(plan.summarized, true);
  assert.match(plan.messages[0].content, /^SYS\n\nEarlier in this conversation/);
  assert.match(plan.messages[0].content, /- question number \d+ q+/);
  assert.match(plan.note ?? '', new RegExp(`^${plan.droppedMessages} earlier messages left out to fit the model's 1024-token context`));
  // The budget holds: prompt + reply fit the context.
  assert.equal(plan.promptTokens, total(plan.messages));
  assert.ok(plan.promptTokens + plan.maxTokens + PROMPT_MARGIN_TOKENS <= contextSize);
  assert.ok(plan.promptTokens + maxTokens + PROMPT_MARGIN_TOKENS <= contextSize);
});

test('an older question keeps its words but loses its attachment before being dropped', async () => {
  const big = 'x'.repeat(2000);
  const turns = [
    user('look at this', { attachments: [{ id: 'f', kind: 'file', label: 'big.ts', path: 'big.ts', content: big }] }),
    assistant('ok'),
    user('now?'),
  ];
  const plan = await buildPrompt({ system: 'S', turns, contextSize: 512, maxTokens: 128, countTokens: counter().count });
  assert.equal(plan.droppedMessages, 0);
  assert.equal(plan.messages[1].content, '(Attached earlier: big.ts)\n\nlook at this');
});

test("the question's own attachment is shortened to fit, and that is said", async () => {
  const lines = Array.from({ length: 400 }, (_, i) => `line ${i} of the file`).join('\n');
  const turns = [user('explain', { attachments: [{ id: 'f', kind: 'file', label: 'huge.ts', path: 'src/huge.ts', content: lines }] })];
  const { count, calls } = counter();
  const plan = await buildPrompt({ system: 'S', turns, contextSize: 1024, maxTokens: 256, countTokens: count });
  const last = plan.messages.at(-1)?.content ?? '';
  assert.match(last, /^File src\/huge.ts:\n```\nline 0 of the file\n/);
  assert.match(last, /\(shortened to fit the context\)\n\nexplain$/);
  assert.ok(last.length < lines.length);
  assert.deepEqual(plan.truncated, ['huge.ts']);
  assert.match(plan.note ?? '', /Shortened to fit the context: huge.ts\./);
  assert.ok(plan.promptTokens + 256 + PROMPT_MARGIN_TOKENS <= 1024);
  // It used the room: most of the budget went to the file, in a handful of counts.
  assert.ok(plan.promptTokens > 1024 - 256 - PROMPT_MARGIN_TOKENS - 120, `${plan.promptTokens}`);
  assert.ok(calls.length < 30, `${calls.length} counts`);
});

test('a question that cannot fit at all is an error that says what to do', async () => {
  const turns = [user('q'.repeat(8000))];
  await assert.rejects(
    buildPrompt({ system: 'S', turns, contextSize: 1024, maxTokens: 256, countTokens: counter().count }),
    (err: unknown) => {
      assert.ok(err instanceof PromptTooLargeError);
      assert.match(err.message, /context holds 1024.*enclave\.engine\.contextSize/s);
      return true;
    },
  );
});

test('the reply budget shrinks to what the context can hold', async () => {
  const plan = await buildPrompt({ system: 'S', turns: [user('hi')], contextSize: 512, maxTokens: 4096, countTokens: counter().count });
  assert.equal(plan.maxTokens, 512 - plan.promptTokens - PROMPT_MARGIN_TOKENS);
});

test('failed empty replies are skipped; stopped partial replies are kept', async () => {
  const turns = [
    user('one'),
    assistant('', { status: 'error', error: 'x' }),
    user('two'),
    assistant('half an ans', { status: 'stopped' }),
    user('three'),
  ];
  const plan = await buildPrompt({ system: 'S', turns, contextSize: 4096, maxTokens: 256, countTokens: counter().count });
  assert.deepEqual(
    plan.messages.map((m) => `${m.role}:${m.content}`),
    ['system:S', 'user:one', 'user:two', 'assistant:half an ans', 'user:three'],
  );
});

test('code fences in attachments cannot close the block they are in', () => {
  const content = renderUserContent({
    content: 'q',
    attachments: [{ id: 'a', kind: 'file', label: 'r.md', path: 'r.md', content: '```js\nx\n```' }],
  });
  assert.equal(content, 'File r.md:\n````\n```js\nx\n```\n````\n\nq');
});

test('the token count comes from the injected counter (a different tokenizer gives a different plan)', async () => {
  const turns: StoredMessage[] = [];
  for (let i = 0; i < 10; i++) turns.push(user(`q${i} ${'w '.repeat(50)}`), assistant(`a${i} ${'w '.repeat(50)}`));
  turns.push(user('last'));
  const coarse = await buildPrompt({ system: 'S', turns, contextSize: 1024, maxTokens: 256, countTokens: (t) => Math.ceil(t.length / 4) });
  const fine = await buildPrompt({ system: 'S', turns, contextSize: 1024, maxTokens: 256, countTokens: (t) => t.length });
  assert.equal(coarse.droppedMessages, 0);
  assert.ok(fine.droppedMessages > coarse.droppedMessages);
});
