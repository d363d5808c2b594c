// Chat with codebase retrieval: the retrieved chunks show as chips while the question is written,
// a removed chip's chunk stays out of the prompt, the rest go with the question as 'codebase'
// attachments; rules files are never retrieved (they are in the system message already).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { PendingAttachment } from '../../src/chat/controller';
import type { StoredAttachment } from '../../src/chat/history';
import type { AttachmentView, HostMessage } from '../../src/chat/messages';
import { type ChatHit, retrieveForChat } from '../../src/codebase/chatRetrieval';
import { chatHarness } from './fakes';

const chunk = (id: string, path: string, startLine: number, content: string): StoredAttachment => ({
  id,
  kind: 'codebase',
  label: `${path.split('/').pop()}:${startLine + 1}-${startLine + 3}`,
  path,
  uri: `file:///w/${path}`,
  range: { startLine, startCharacter: 0, endLine: startLine + 2, endCharacter: 0 },
  content,
});
const money = chunk('r1', 'src/money.ts', 0, 'export function roundToCents(amount: number) {\n  return Math.round(amount * 100) / 100;\n}');
const tax = chunk('r2', 'src/tax.ts', 10, 'export const VAT_RATE = 0.2;\nexport function addVat(net: number) {\n  return net * 1.2;\n}');

const lastChips = (posted: HostMessage[]): AttachmentView[] => {
  for (let i = posted.length - 1; i >= 0; i--) {
    const m = posted[i];
    if (m.type === 'attachments' || m.type === 'state') return m.attachments;
  }
  return [];
};
const promptOf = (h: Awaited<ReturnType<typeof chatHarness>>) => JSON.stringify(h.backend.chatRequests.at(-1)?.messages);

test('retrieved chunks are attached to the question and reach the prompt', async () => {
  const asked: string[] = [];
  const h = await chatHarness({ retrieve: async (q) => (asked.push(q), [money]) });
  await h.controller.send('How are amounts rounded?');
  assert.deepEqual(asked, ['How are amounts rounded?']);
  const user = h.posted.find((m): m is Extract<HostMessage, { type: 'message' }> => m.type === 'message' && m.message.role === 'user');
  assert.deepEqual(
    user?.message.attachments?.map((a) => [a.kind, a.label]),
    [['codebase', 'money.ts:1-3']],
  );
  assert.ok(promptOf(h).includes('roundToCents'));
  assert.ok(promptOf(h).includes('src/money.ts, lines 1-3'));
});

test('a failing retrieval leaves the question unanswered by nothing: it is sent without chunks', async () => {
  const h = await chatHarness({
    retrieve: async () => {
      throw new Error('index broken');
    },
  });
  await h.controller.draft('Anything?');
  await h.controller.send('Anything?');
  assert.equal(h.backend.chatRequests.length, 1);
  assert.ok(!promptOf(h).includes('codebase'));
});

test('the draft shows its chunks as chips; a removed chip stays out of the prompt, the others go', async () => {
  const asked: string[] = [];
  const h = await chatHarness({ retrieve: async (q) => (asked.push(q), [money, tax]) });
  await h.controller.draft('How is VAT added to a rounded amount?');
  assert.deepEqual(
    lastChips(h.posted).map((c) => [c.kind, c.label]),
    [
      ['codebase', 'money.ts:1-3'],
      ['codebase', 'tax.ts:11-13'],
    ],
  );
  h.controller.removeAttachment(tax.id);
  assert.deepEqual(
    lastChips(h.posted).map((c) => c.label),
    ['money.ts:1-3'],
  );
  // Typing on finds the removed chunk again: it stays removed for this question.
  await h.controller.draft('How is VAT added to a rounded amount? And rounded?');
  assert.deepEqual(
    lastChips(h.posted).map((c) => c.label),
    ['money.ts:1-3'],
  );
  const calls = asked.length;
  await h.controller.send('How is VAT added to a rounded amount? And rounded?');
  assert.equal(asked.length, calls, 'the chips shown for this text are what is sent: no second retrieval');
  assert.ok(promptOf(h).includes('roundToCents'));
  assert.ok(!promptOf(h).includes('VAT_RATE'), 'the removed chunk is not in the prompt');
  assert.deepEqual(lastChips(h.posted), [], 'sent: the chips are gone');

  // The next question starts afresh: nothing excluded.
  await h.controller.send('And tax?');
  assert.ok(promptOf(h).includes('VAT_RATE'));
});

test('a question sent before its draft was retrieved is retrieved at once, still without removed chunks', async () => {
  const h = await chatHarness({ retrieve: async () => [money, tax] });
  await h.controller.draft('rounding');
  h.controller.removeAttachment(money.id);
  await h.controller.send('rounding and tax');
  assert.ok(promptOf(h).includes('VAT_RATE'));
  assert.ok(!promptOf(h).includes('roundToCents'));
});

test('a late answer for an older draft does not replace the chips of a newer one', async () => {
  const answers: Array<(found: StoredAttachment[]) => void> = [];
  const h = await chatHarness({ retrieve: () => new Promise((resolve) => answers.push(resolve)) });
  const first = h.controller.draft('rounding');
  const second = h.controller.draft('tax');
  answers[1]([tax]);
  await second;
  answers[0]([money]);
  await first;
  assert.deepEqual(
    lastChips(h.posted).map((c) => c.label),
    ['tax.ts:11-13'],
  );
  await h.controller.draft('');
  assert.deepEqual(lastChips(h.posted), [], 'an emptied input clears the chips');
});

test('no chip for a chunk of a file the question has attached anyway', async () => {
  const h = await chatHarness({ retrieve: async () => [money, tax] });
  const attached: PendingAttachment = {
    view: { id: 'f1', kind: 'file', label: 'money.ts', detail: 'src/money.ts' },
    resolve: () => ({ id: 'f1', kind: 'file', label: 'money.ts', path: 'src/money.ts', content: 'export const whole = 1;' }),
  };
  h.controller.addAttachment(attached);
  await h.controller.draft('rounding');
  assert.deepEqual(
    lastChips(h.posted).map((c) => c.label),
    ['money.ts', 'tax.ts:11-13'],
  );
});

const hit = (path: string): ChatHit => ({ path, uri: `file:///w/${path}`, startLine: 0, endLine: 3, text: `text of ${path}` });

test('retrieval for chat: never a rules file, still up to the limit; off unless the question says #codebase', async () => {
  const queries: Array<[string, number]> = [];
  const search = async (query: string, limit: number) => {
    queries.push([query, limit]);
    return ['AGENTS.md', 'src/a.ts', '.github/copilot-instructions.md', 'src/b.ts', 'src/c.ts'].map(hit).slice(0, limit);
  };
  const rulesFiles = async () => ['file:///w/AGENTS.md', 'file:///w/.github/copilot-instructions.md'];
  const found = await retrieveForChat('how does a work', { enabled: () => true, search, rulesFiles, limit: 3 });
  assert.deepEqual(
    found.map((a) => [a.kind, a.path]),
    [
      ['codebase', 'src/a.ts'],
      ['codebase', 'src/b.ts'],
      ['codebase', 'src/c.ts'],
    ],
  );
  assert.deepEqual(queries, [['how does a work', 5]]);

  assert.deepEqual(await retrieveForChat('how does a work', { enabled: () => false, search, rulesFiles }), []);
  const explicit = await retrieveForChat('#codebase how does a work', { enabled: () => false, search, rulesFiles });
  assert.ok(explicit.length > 0);
  assert.ok(!queries.at(-1)?.[0].includes('#codebase'));

  // Rules that cannot be read leave retrieval as it is.
  const unread = await retrieveForChat('x', { enabled: () => true, search, rulesFiles: () => Promise.reject(new Error('gone')), limit: 1 });
  assert.deepEqual(
    unread.map((a) => a.path),
    ['AGENTS.md'],
  );
});
