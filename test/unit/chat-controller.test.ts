import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';

import { ChatController, type PendingAttachment } from '../../src/chat/controller';
import { HistoryStore } from '../../src/chat/history';
import type { HostMessage } from '../../src/chat/messages';
import { parseHostMessage } from '../../src/chat/messages';
import { type Backend, type ChatRequest, EngineError, type GenerationResult, type RequestOptions } from '../../src/engine/protocol';
import { nullLogger } from '../../src/logger';
import { chatHarness } from './fakes';

type Script = (request: ChatRequest, options: RequestOptions) => Promise<GenerationResult>;

const stats = (stopReason: 'eos' | 'abort' = 'eos') => ({
  promptTokens: 10,
  evaluatedTokens: 10,
  reusedTokens: 0,
  generatedTokens: 3,
  timeToFirstTokenMs: 1,
  totalMs: 5,
  queuedMs: 0,
  stopReason,
});

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await tick(2);
  }
}

const setup = (script: Script, contextSize?: number) => chatHarness({ chat: script, contextSize });

test('a reply streams chunk by chunk and is saved complete', async () => {
  const { backend, posted, controller, onDisk } = await setup(async (_req, { onText }) => {
    for (const c of ['Hel', 'lo', '!']) onText?.(c);
    return { text: 'Hello!', stats: stats() };
  });
  await controller.send('hi there');
  const chunks = posted.filter((m) => m.type === 'chunk').map((m) => (m as { text: string }).text);
  assert.deepEqual(chunks, ['Hel', 'lo', '!']);
  assert.equal(backend.chatRequests[0].temperature, 0.1);
  assert.deepEqual(backend.chatRequests[0].messages.at(-1), { role: 'user', content: 'hi there' });
  assert.equal(backend.chatRequests[0].messages[0].role, 'system');
  const saved = await onDisk();
  assert.equal(saved.title, 'hi there');
  assert.deepEqual(
    saved.messages.map((m) => [m.role, m.content, m.status]),
    [
      ['user', 'hi there', undefined],
      ['assistant', 'Hello!', 'complete'],
    ],
  );
  assert.equal(saved.messages[1].stats?.generatedTokens, 3);
  assert.deepEqual(
    posted.filter((m) => m.type === 'busy').map((m) => (m as { busy: boolean }).busy),
    [true, false],
  );
  assert.equal(controller.busy, false);
});

test('the partial reply is on disk while it streams (a crash loses at most one save interval)', async () => {
  let release!: () => void;
  const { dir, controller, onDisk } = await setup(async (_req, { onText }) => {
    onText?.('first part ');
    await new Promise<void>((r) => (release = r));
    return { text: 'first part done', stats: stats() };
  });
  const done = controller.send('q');
  await until(() => release !== undefined);
  // Written by the throttled save while the engine is still generating.
  let midway = await onDisk();
  for (let i = 0; i < 500 && midway.messages[1].content === ''; i++) {
    await tick(10);
    midway = await onDisk();
  }
  assert.equal(midway.messages[1].status, 'streaming');
  assert.equal(midway.messages[1].content, 'first part ');
  // Read back by a fresh store (the window reloaded after a crash): interrupted, text kept.
  const reloaded = await new HistoryStore(dir, { logger: nullLogger }).load(midway.id);
  assert.equal(reloaded?.messages[1].status, 'interrupted');
  release();
  await done;
  assert.equal((await onDisk()).messages[1].status, 'complete');
});

test('Stop ends the reply at once, reaches the engine, and keeps the text so far', async () => {
  let signal!: AbortSignal;
  let emit!: (t: string) => void;
  const { controller, posted, onDisk, backend } = await setup(
    (_req, { onText, signal: s }) =>
      new Promise((_resolve, reject) => {
        signal = s!;
        emit = onText!;
        onText?.('partial ');
        s?.addEventListener('abort', () => setTimeout(() => reject(new EngineError('CANCELLED', 'cancelled')), 50));
      }),
  );
  const done = controller.send('q');
  await until(() => backend.chatRequests.length === 1);
  const started = Date.now();
  await controller.stop();
  assert.ok(Date.now() - started < 40, 'stop does not wait for the engine');
  assert.equal(signal.aborted, true);
  assert.equal(controller.busy, false);
  emit('late chunk');
  await done;
  const last = posted.filter((m) => m.type === 'message').at(-1) as { message: { status: string; content: string } };
  assert.equal(last.message.status, 'stopped');
  assert.equal(last.message.content, 'partial ');
  assert.equal(posted.filter((m) => m.type === 'chunk').length, 1);
  const saved = await onDisk();
  assert.equal(saved.messages[1].status, 'stopped');
  assert.equal(saved.messages[1].content, 'partial ');
});

test('an engine crash mid-reply saves the partial reply as interrupted and says so', async () => {
  const { controller, posted, onDisk } = await setup(async (_req, { onText }) => {
    onText?.('half of ');
    throw new EngineError('ENGINE_CRASHED', 'the engine process exited with code 134');
  });
  await controller.send('q');
  const saved = await onDisk();
  assert.equal(saved.messages[1].status, 'interrupted');
  assert.equal(saved.messages[1].content, 'half of ');
  assert.match(saved.messages[1].error ?? '', /engine stopped while answering.*code 134.*partial reply is kept/);
  const shown = posted.filter((m) => m.type === 'message').at(-1) as { message: { status: string; error: string } };
  assert.equal(shown.message.status, 'interrupted');
  assert.equal(controller.busy, false);
});

test('no engine at all is an error in the conversation, not a silent failure', async () => {
  const { controller, onDisk } = await setup(async () => ({ text: '', stats: stats() }));
  (controller as unknown as { options: { backend: () => Backend } }).options.backend = () => {
    throw new Error('The engine is not wired yet.');
  };
  await controller.send('q');
  const saved = await onDisk();
  assert.equal(saved.messages[1].status, 'error');
  assert.match(saved.messages[1].error ?? '', /not wired yet/);
});

test('a question too large for the context is reported on the reply', async () => {
  const { controller, backend, onDisk } = await setup(async () => ({ text: 'x', stats: stats() }), 512);
  await controller.send('z'.repeat(4000));
  assert.equal(backend.chatRequests.length, 0);
  const saved = await onDisk();
  assert.equal(saved.messages[1].status, 'error');
  assert.match(saved.messages[1].error ?? '', /context holds 512/);
});

test('trimmed history shows a note on the reply', async () => {
  const { controller, onDisk } = await setup(async () => ({ text: 'ok', stats: stats() }), 600);
  for (let i = 0; i < 6; i++) await controller.send(`question ${i} ${'x'.repeat(300)}`);
  const saved = await onDisk();
  const notes = saved.messages.filter((m) => m.note).map((m) => m.note);
  assert.ok(notes.length > 0);
  assert.match(notes.at(-1)!, /earlier messages? left out to fit the model's 600-token context/);
});

test('Regenerate replaces the last reply', async () => {
  let n = 0;
  const { controller, onDisk, backend } = await setup(async (_req, { onText }) => {
    const text = `reply ${++n}`;
    onText?.(text);
    return { text, stats: stats() };
  });
  await controller.send('q');
  await controller.regenerate();
  const saved = await onDisk();
  assert.deepEqual(
    saved.messages.map((m) => m.content),
    ['q', 'reply 2'],
  );
  assert.deepEqual(backend.chatRequests[1].messages, backend.chatRequests[0].messages);
});

test('attachments: the editor chip can be removed, explicit ones go with one question only', async () => {
  const { controller, backend, posted, onDisk } = await setup(async () => ({ text: 'ok', stats: stats() }));
  const attachment = (id: string, label: string, content: string): PendingAttachment => ({
    view: { id, kind: 'file', label },
    resolve: () => ({ id, kind: 'file', label, path: label, content }),
  });
  controller.setAuto(attachment('auto-a', 'a.ts', 'A'));
  controller.addAttachment(attachment('f-b', 'b.ts', 'B'));
  const chips = (posted.filter((m) => m.type === 'attachments').at(-1) as { attachments: { id: string; auto?: boolean }[] }).attachments;
  assert.deepEqual(
    chips.map((c) => [c.id, c.auto ?? false]),
    [
      ['auto-a', true],
      ['f-b', false],
    ],
  );
  await controller.send('with both');
  assert.match(backend.chatRequests[0].messages.at(-1)!.content, /File a\.ts:\n```\nA\n```\n\nFile b\.ts:\n```\nB\n```\n\nwith both/);
  assert.deepEqual(
    controller.attachmentViews().map((v) => v.id),
    ['auto-a'],
  );
  controller.removeAttachment('auto-a');
  assert.deepEqual(controller.attachmentViews(), []);
  await controller.send('with none');
  assert.equal(backend.chatRequests[1].messages.at(-1)!.content, 'with none');
  // A different selection brings the chip back.
  controller.setAuto(attachment('auto-a2', 'a.ts:1-2', 'A1'));
  assert.deepEqual(
    controller.attachmentViews().map((v) => v.id),
    ['auto-a2'],
  );
  const saved = await onDisk();
  assert.deepEqual(
    saved.messages[0].attachments?.map((a) => a.label),
    ['a.ts', 'b.ts'],
  );
});

test('chats survive a restart: restore opens the latest, open and delete work', async () => {
  const { controller, store } = await setup(async () => ({ text: 'ok', stats: stats() }));
  await controller.send('first chat');
  const firstId = controller.current.id;
  await controller.newChat();
  await controller.send('second chat');
  const secondId = controller.current.id;
  assert.notEqual(firstId, secondId);

  const posted: HostMessage[] = [];
  const again = new ChatController({
    store,
    backend: () => assert.fail('no engine needed'),
    settings: () => ({ maxTokens: 1, temperature: 0 }),
    post: (m) => posted.push(m),
    logger: nullLogger,
  });
  await again.restore();
  assert.equal(again.current.id, secondId);
  const state = (await again.state()) as Extract<HostMessage, { type: 'state' }>;
  assert.deepEqual(
    state.chats.map((c) => c.title),
    ['second chat', 'first chat'],
  );
  await again.open(firstId);
  assert.equal(again.current.messages[0].content, 'first chat');
  await again.delete(firstId);
  assert.deepEqual(
    (await store.list()).map((c) => c.id),
    [secondId],
  );
  assert.equal(again.current.messages.length, 0);
});

test('the state tells the view where questions go (remote host, or this machine)', async () => {
  const dir = await fs.mkdtemp(path.join(tmpdir(), 'enclave-chat-destination-'));
  const store = new HistoryStore(dir, { logger: nullLogger });
  let where: string | undefined = 'gpu-box.example:8443';
  const controller = new ChatController({
    store,
    backend: () => assert.fail('no engine needed'),
    settings: () => ({ maxTokens: 1, temperature: 0 }),
    post: () => {},
    destination: () => where,
    logger: nullLogger,
  });
  await controller.restore();
  const remote = (await controller.state()) as Extract<HostMessage, { type: 'state' }>;
  assert.equal(remote.destination, 'gpu-box.example:8443');
  assert.equal(parseHostMessage(JSON.parse(JSON.stringify(remote))).ok, true);
  where = undefined;
  assert.equal(((await controller.state()) as Extract<HostMessage, { type: 'state' }>).destination, '');
});
