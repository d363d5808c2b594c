// Chat with codebase retrieval: the retrieved chunks go with the question as 'codebase' attachments
// (chips on the question, valid for the webview) and into the prompt the model gets.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';

import { ChatController } from '../../src/chat/controller';
import { HistoryStore, type StoredAttachment } from '../../src/chat/history';
import { type HostMessage, parseHostMessage } from '../../src/chat/messages';
import type { ChatRequest } from '../../src/engine/protocol';
import { nullLogger } from '../../src/logger';
import { FakeBackend, fakeStats } from './fakes';

const found: StoredAttachment = {
  id: 'r1',
  kind: 'codebase',
  label: 'money.ts:1-3',
  path: 'src/money.ts',
  range: { startLine: 0, startCharacter: 0, endLine: 2, endCharacter: 0 },
  content: 'export function roundToCents(amount: number) {\n  return Math.round(amount * 100) / 100;\n}',
};

async function setup(retrieve: (q: string) => Promise<StoredAttachment[]>) {
  const dir = await fs.mkdtemp(path.join(tmpdir(), 'enclave-codebase-chat-'));
  const requests: ChatRequest[] = [];
  const backend = new FakeBackend({
    chat: async (request) => {
      requests.push(request);
      return {
        text: 'ok',
        stats: fakeStats({ promptTokens: 1, evaluatedTokens: 1, generatedTokens: 1, timeToFirstTokenMs: 1, totalMs: 1 }),
      };
    },
  });
  const posted: HostMessage[] = [];
  const controller = new ChatController({
    store: new HistoryStore(dir, { logger: nullLogger }),
    backend: () => backend,
    settings: () => ({ maxTokens: 64, temperature: 0 }),
    post: (m) => {
      const parsed = parseHostMessage(JSON.parse(JSON.stringify(m)));
      assert.ok(parsed.ok, parsed.ok ? '' : parsed.problem);
      posted.push(m);
    },
    logger: nullLogger,
    retrieve,
  });
  return { controller, requests, posted };
}

test('retrieved chunks are attached to the question and reach the prompt', async () => {
  const asked: string[] = [];
  const { controller, requests, posted } = await setup(async (q) => (asked.push(q), [found]));
  await controller.send('How are amounts rounded?');
  assert.deepEqual(asked, ['How are amounts rounded?']);
  const user = posted.find((m): m is Extract<HostMessage, { type: 'message' }> => m.type === 'message' && m.message.role === 'user');
  assert.deepEqual(
    user?.message.attachments?.map((a) => [a.kind, a.label]),
    [['codebase', 'money.ts:1-3']],
  );
  const prompt = JSON.stringify(requests[0].messages);
  assert.ok(prompt.includes('roundToCents'), prompt);
  assert.ok(prompt.includes('src/money.ts, lines 1-3'));
});

test('a failing retrieval leaves the question unanswered by nothing: it is sent without chunks', async () => {
  const { controller, requests } = await setup(async () => {
    throw new Error('index broken');
  });
  await controller.send('Anything?');
  assert.equal(requests.length, 1);
  assert.ok(!JSON.stringify(requests[0].messages).includes('codebase'));
});
