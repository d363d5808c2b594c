import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';

import { type Conversation, HistoryStore, titleFor, workspaceKey } from '../../src/chat/history';
import { nullLogger } from '../../src/logger';

async function tempDir(): Promise<string> {
  return fs.mkdtemp(path.join(tmpdir(), 'enclave-chat-history-'));
}

function conversation(id: string, updated = 1): Conversation {
  return {
    version: 1,
    id,
    title: 'How do I?',
    created: 1,
    updated,
    messages: [
      {
        id: 'u1',
        role: 'user',
        content: 'How do I?',
        time: 1,
        attachments: [{ id: 'a1', kind: 'file', label: 'a.ts', path: 'src/a.ts', content: 'let a = 1;\n' }],
      },
    ],
  };
}

test('every save is on disk as one whole JSON file, nothing left behind', async () => {
  const dir = path.join(await tempDir(), 'ws');
  const store = new HistoryStore(dir, { logger: nullLogger });
  const c = conversation('c1');
  await store.save(c);
  assert.deepEqual(JSON.parse(await fs.readFile(path.join(dir, 'c1.json'), 'utf8')), c);
  c.messages.push({ id: 'r1', role: 'assistant', content: 'Like this.', time: 2, status: 'complete' });
  await store.save(c);
  const fresh = new HistoryStore(dir, { logger: nullLogger });
  assert.deepEqual(await fresh.load('c1'), c);
  assert.deepEqual(await fs.readdir(dir), ['c1.json']);
});

test('rapid saves coalesce, and the last state wins', async () => {
  const dir = await tempDir();
  const store = new HistoryStore(dir, { logger: nullLogger });
  const c = conversation('c2');
  c.messages.push({ id: 'r1', role: 'assistant', content: '', time: 2, status: 'streaming' });
  const saves: Promise<void>[] = [];
  for (let i = 0; i < 50; i++) {
    c.messages[1].content += `${i} `;
    saves.push(store.save(c));
  }
  await Promise.all(saves);
  const onDisk = JSON.parse(await fs.readFile(path.join(dir, 'c2.json'), 'utf8')) as Conversation;
  assert.equal(onDisk.messages[1].content, c.messages[1].content);
  assert.deepEqual(await fs.readdir(dir), ['c2.json']);
});

test('a reply saved mid-stream comes back as interrupted, with its text', async () => {
  const dir = await tempDir();
  const store = new HistoryStore(dir, { logger: nullLogger });
  const c = conversation('c3');
  c.messages.push({ id: 'r1', role: 'assistant', content: 'The partial an', time: 2, status: 'streaming' });
  await store.save(c);
  // A new process (reload after a crash) reads it.
  const loaded = await new HistoryStore(dir, { logger: nullLogger }).load('c3');
  assert.equal(loaded?.messages[1].status, 'interrupted');
  assert.equal(loaded?.messages[1].content, 'The partial an');
  assert.match(loaded?.messages[1].error ?? '', /stopped before/);
});

test('a corrupt file is set aside with a warning, and the others still list', async () => {
  const dir = await tempDir();
  const warnings: string[] = [];
  const logged: string[] = [];
  const store = new HistoryStore(dir, {
    logger: { ...nullLogger, warn: (m) => logged.push(m) },
    onWarning: (m) => warnings.push(m),
    now: () => Date.UTC(2026, 0, 2, 3, 4, 5, 6),
  });
  await store.save(conversation('good', 5));
  await fs.writeFile(path.join(dir, 'broken.json'), '{"version":1,"id":"broken","title":"x",'); // truncated
  await fs.writeFile(path.join(dir, 'wrong.json'), JSON.stringify({ ...conversation('wrong'), messages: [{ role: 'hacker' }] }));
  const list = await store.list();
  assert.deepEqual(
    list.map((s) => s.id),
    ['good'],
  );
  assert.equal(warnings.length, 2);
  assert.equal(logged.length, 2);
  const names = (await fs.readdir(dir)).sort();
  assert.deepEqual(names, ['broken.corrupt-2026-01-02T03-04-05-006Z.json', 'good.json', 'wrong.corrupt-2026-01-02T03-04-05-006Z.json']);
  // The set-aside file keeps the original bytes.
  assert.equal(await fs.readFile(path.join(dir, names[0]), 'utf8'), '{"version":1,"id":"broken","title":"x",');
  assert.match(warnings.join('\n'), /broken\.corrupt-.*\.json/);
  // Listing again does not warn again.
  await store.list();
  assert.equal(warnings.length, 2);
});

test('delete removes the file; ids that are not plain names are refused', async () => {
  const dir = await tempDir();
  const store = new HistoryStore(dir, { logger: nullLogger });
  await store.save(conversation('gone'));
  await store.delete('gone');
  assert.deepEqual(await store.list(), []);
  await assert.rejects(store.load('../escape'), /invalid conversation id/);
  await assert.rejects(store.save({ ...conversation('x'), id: '../../x' }), /invalid conversation id/);
});

test('list is sorted by last update; missing folder lists nothing', async () => {
  const dir = await tempDir();
  const store = new HistoryStore(path.join(dir, 'not-yet'), { logger: nullLogger });
  assert.deepEqual(await store.list(), []);
  await store.save(conversation('old', 1));
  await store.save(conversation('new', 9));
  assert.deepEqual(
    (await store.list()).map((s) => [s.id, s.messages]),
    [
      ['new', 1],
      ['old', 1],
    ],
  );
});

test('workspace keys are stable, distinct and file-name safe', () => {
  const a = workspaceKey('file:///home/me/proj', 'proj');
  assert.equal(a, workspaceKey('file:///home/me/proj', 'proj'));
  assert.notEqual(a, workspaceKey('file:///home/you/proj', 'proj'));
  assert.match(workspaceKey('file:///x', 'my ../ weird:name'), /^[A-Za-z0-9_-]+$/);
  assert.equal(workspaceKey(undefined, undefined), 'no-workspace');
});

test('titles come from the first question', () => {
  assert.equal(titleFor({ messages: [] }), 'New chat');
  assert.equal(titleFor({ messages: [{ id: 'a', role: 'user', content: '\n  Why is this slow?\nmore', time: 0 }] }), 'Why is this slow?');
  assert.equal(titleFor({ messages: [{ id: 'a', role: 'user', content: 'x'.repeat(100), time: 0 }] }).length, 60);
});

test('listing reads a file again only when it changed, including changes by another process', async () => {
  const dir = await tempDir();
  const store = new HistoryStore(dir, { logger: nullLogger });
  const c = conversation('cached', 1);
  await store.save(c);
  assert.equal((await store.list())[0].messages, 1);
  // Another window (or a test) writes the file directly.
  const other = {
    ...c,
    title: 'Renamed elsewhere',
    messages: [...c.messages, { id: 'r', role: 'assistant' as const, content: 'x', time: 2 }],
  };
  await fs.writeFile(path.join(dir, 'cached.json'), JSON.stringify(other));
  const [summary] = await store.list();
  assert.equal(summary.title, 'Renamed elsewhere');
  assert.equal(summary.messages, 2);
  await fs.rm(path.join(dir, 'cached.json'));
  assert.deepEqual(await store.list(), []);
});

test(
  'history files are readable by this user only (0600 in a 0700 folder), whatever the umask',
  { skip: process.platform === 'win32' && 'POSIX modes' },
  async () => {
    const dir = path.join(await tempDir(), 'ws');
    await fs.mkdir(dir, { mode: 0o755 });
    const previous = process.umask(0o022);
    try {
      const store = new HistoryStore(dir, { logger: nullLogger });
      await store.save(conversation('c1'));
      await store.flush();
      assert.equal((await fs.stat(path.join(dir, 'c1.json'))).mode & 0o777, 0o600);
      assert.equal((await fs.stat(dir)).mode & 0o777, 0o700);
    } finally {
      process.umask(previous);
    }
  },
);
