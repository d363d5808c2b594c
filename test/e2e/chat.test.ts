// The chat in the real workbench (code-server + Chromium) with the real engine on the fixture
// model (random weights: the reply is nonsense, its mechanics are real). One workbench, in order:
// open the view, ask, watch the reply stream, stop it, insert and apply a code block from a past
// chat, reload the window and find the history, then ask about a selection from the editor.
import * as assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import type { Conversation } from '../../src/chat/history';
import { extensionId, fixturePaths, launch } from './harness';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined | false> | T | undefined | false): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}

test('chat: streamed reply, stop, insert and apply a code block, history after reload', async (t) => {
  const fixtures = await fixturePaths();
  const wb = await launch({
    name: 'chat',
    settings: {
      'enclave.model.path': fixtures.model,
      'enclave.chat.maxTokens': 4000,
      'enclave.completion.enabled': false,
      // This test counts the attachments it makes; retrieval from the codebase index is
      // codebase.test.ts's subject.
      'enclave.index.chat': false,
    },
    // A fresh code-server window does not apply enclave.model.path from the user settings until
    // it is reloaded (seen 2026-11-26); the environment fallback makes the first window work.
    env: { ENCLAVE_MODEL: fixtures.model },
  });
  t.after(() => wb.close());
  const chat = wb.chatFrame();
  const historyRoot = join(wb.userDataDir, 'User', 'globalStorage', extensionId, 'chat');
  const historyFiles = () => {
    if (!existsSync(historyRoot)) return [];
    return readdirSync(historyRoot).flatMap((ws) => readdirSync(join(historyRoot, ws)).map((f) => join(historyRoot, ws, f)));
  };

  /** The reply that follows the question with this text (not whatever reply was last before it). */
  const replyTo = (question: string | RegExp) =>
    chat.locator('article.message.user', { hasText: question }).last().locator('xpath=following-sibling::article[1]');

  await wb.openFile('money.ts');
  let stoppedText = '';

  await t.test('Ctrl+Alt+I opens the chat with the current file attached', async () => {
    await wb.press('Control+Alt+I');
    await chat.locator('#input').waitFor({ timeout: 60_000 });
    await chat.locator('#chips .chip-label', { hasText: 'money.ts' }).waitFor({ timeout: 30_000 });
    await wb.screenshot('chat-open');
  });

  await t.test('a question gets a reply that streams from the engine, and Stop ends it at once', async () => {
    await chat.locator('#input').fill('What does toCents do?');
    await chat.locator('#input').press('Enter');
    await chat.locator('article.message.user .message-content', { hasText: 'What does toCents do?' }).waitFor();
    await chat.locator('article.message.user .chip-label', { hasText: 'money.ts' }).waitFor();
    const reply = chat.locator('article.message.assistant').last();
    const content = reply.locator('.message-content');
    // The engine starts and loads the model on this first request.
    const first = await until('the first streamed text', 120_000, async () => {
      const text = (await content.textContent()) ?? '';
      const failed = await reply.locator('.message-error').count();
      if (failed > 0) throw new Error(`the reply failed: ${await reply.locator('.message-error').textContent()}`);
      return text.length > 0 && text;
    });
    const later = await until('more streamed text', 30_000, async () => {
      const text = (await content.textContent()) ?? '';
      return text.length > first.length + 10 && text;
    });
    assert.ok(later.length > first.length);
    assert.equal(await chat.locator('#stop').isVisible(), true);
    await wb.screenshot('streaming');

    await chat.locator('#stop').click();
    await reply.locator('.message-status', { hasText: 'Stopped.' }).waitFor({ timeout: 5_000 });
    await chat.locator('#send').waitFor({ state: 'visible' });
    stoppedText = (await content.textContent()) ?? '';
    await sleep(1_500);
    assert.equal((await content.textContent()) ?? '', stoppedText, 'nothing arrives after Stop');
    await wb.screenshot('stopped');

    const files = historyFiles().filter((f) => f.endsWith('.json'));
    assert.equal(files.length, 1, files.join(', '));
    const saved = JSON.parse(readFileSync(files[0], 'utf8')) as Conversation;
    assert.equal(saved.messages[0].content, 'What does toCents do?');
    assert.equal(saved.messages[0].attachments?.[0].label, 'money.ts');
    assert.match(saved.messages[0].attachments?.[0].content ?? '', /export function toCents/);
    assert.equal(saved.messages[1].status, 'stopped');
    assert.ok(saved.messages[1].content.length > 0);
  });

  await t.test('a code block from a past chat is inserted at the cursor and applied through a diff', async () => {
    // A past chat whose reply has code blocks (the fixture model's replies have none).
    const folder = join(historyRoot, readdirSync(historyRoot)[0]);
    const hourAgo = Date.now() - 3_600_000;
    const past: Conversation = {
      version: 1,
      id: 'seeded-code',
      title: 'Seeded chat with code',
      created: hourAgo,
      updated: hourAgo,
      messages: [
        { id: 'seed-u', role: 'user', content: 'Give me code', time: hourAgo },
        {
          id: 'seed-a',
          role: 'assistant',
          status: 'complete',
          time: hourAgo,
          content:
            'A constant:\n\n```ts\nexport const ENCLAVE_INSERTED = 42;\n```\n\nAnd a fix:\n\n```ts\nexport function toCents(amount: number): Cents {\n  return Math.round(amount * 1000) / 10;\n}\n```\n',
        },
      ],
    };
    writeFileSync(join(folder, 'seeded-code.json'), JSON.stringify(past));
    await chat.locator('#new-chat').click();
    await chat.locator('#toggle-history').click();
    await chat.locator('.history-open[data-chat="seeded-code"]').click();
    const blocks = chat.locator('article[data-id="seed-a"] .code-block');
    await blocks.nth(1).waitFor({ timeout: 10_000 });

    await blocks.nth(0).locator('button[data-action="insert"]').click();
    await until('the inserted code in the editor', 10_000, async () =>
      (await wb.readEditorText()).includes('export const ENCLAVE_INSERTED = 42;'),
    );
    await wb.screenshot('inserted');

    await blocks.nth(1).locator('button[data-action="apply"]').click();
    await wb.page.locator('.editor-instance .monaco-diff-editor, .monaco-diff-editor').first().waitFor({ timeout: 15_000 });
    await wb.page.locator('.part.editor .tab.active', { hasText: "Enclave's change" }).waitFor({ timeout: 15_000 });
    const accept = wb.page.locator('.notifications-toasts .monaco-button', { hasText: 'Accept' });
    await accept.waitFor({ timeout: 15_000 });
    await wb.screenshot('diff');
    await accept.click();
    await until(
      'the diff to close',
      10_000,
      async () => (await wb.page.locator('.part.editor .tab', { hasText: "Enclave's change" }).count()) === 0,
    );
    const applied = await until('the applied change', 10_000, async () => {
      const text = await wb.readEditorText();
      return text.includes('Math.round(amount * 1000) / 10') && text;
    });
    assert.ok(!applied.includes('Math.round(amount * 100);'), 'the old body is replaced');
    assert.ok(applied.includes('export function formatCents'), 'the rest of the file is kept');
    assert.ok(applied.includes('export const ENCLAVE_INSERTED = 42;'), 'the earlier insert is kept');
    await wb.screenshot('applied');

    // One undo step takes the whole change back.
    await wb.page.locator('.part.editor .monaco-editor .view-lines').first().click();
    await wb.press('Control+Z');
    await until('the undone change', 10_000, async () => (await wb.readEditorText()).includes('Math.round(amount * 100);'));
    assert.ok((await wb.readEditorText()).includes('export const ENCLAVE_INSERTED = 42;'), 'only the apply was undone');
    await wb.press('Control+S');
    // Saved (the undone text on disk, the tab clean) before the reload, so the workbench does
    // not restore an older backup of the unsaved buffer.
    await until('the save', 15_000, () =>
      readFileSync(join(wb.workspace, 'src', 'money.ts'), 'utf8').includes('Math.round(amount * 100);'),
    );
    await until('a clean tab', 15_000, async () => (await wb.page.locator('.part.editor .tab.active.dirty').count()) === 0);
    await sleep(1_500);
  });

  await t.test('after a window reload the chat and its history are still there', async () => {
    await wb.page.reload();
    await wb.page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
    await wb.press('Control+Alt+I');
    await chat.locator('article.message.user .message-content', { hasText: 'What does toCents do?' }).waitFor({ timeout: 90_000 });
    const reply = chat.locator('article.message.assistant').last();
    await reply.locator('.message-status', { hasText: 'Stopped.' }).waitFor();
    assert.equal(((await reply.locator('.message-content').textContent()) ?? '').trim(), stoppedText.trim());
    const onDisk = readFileSync(join(wb.workspace, 'src', 'money.ts'), 'utf8');
    assert.ok(
      onDisk.includes('export const ENCLAVE_INSERTED = 42;\n/** Amounts') && onDisk.includes('Math.round(amount * 100);'),
      'the insert was saved, the apply undone',
    );
    await chat.locator('#toggle-history').click();
    await chat.locator('.history-open[data-chat="seeded-code"]').waitFor();
    assert.equal(await chat.locator('.history-item').count(), 2);
    await wb.screenshot('after-reload');
    await chat.locator('#toggle-history').click();
  });

  await t.test('"Explain Selection" asks about the selected lines', async () => {
    await wb.openFile('money.ts');
    await wb.page.locator('.part.editor .monaco-editor .view-lines').first().click();
    await wb.press('Control+Home');
    for (let i = 0; i < 3; i++) await wb.press('Shift+ArrowDown');
    await wb.runCommand('Enclave: Explain Selection');
    const question = chat.locator('article.message.user').last();
    await question
      .locator('.message-content', { hasText: /^Explain what the selected code from src\/money\.ts does/ })
      .waitFor({ timeout: 30_000 });
    assert.equal(await question.locator('.chip-label').textContent(), 'money.ts:1-3');
    const reply = replyTo(/Explain what the selected code/);
    await until(
      'the explanation to stream',
      60_000,
      async () => ((await reply.locator('.message-content').textContent()) ?? '').length > 0,
    );
    await chat.locator('#stop').click();
    await reply.locator('.message-status', { hasText: 'Stopped.' }).waitFor({ timeout: 5_000 });
    await wb.screenshot('explain');
  });

  await t.test('an engine crash mid-reply keeps the partial reply, marked interrupted; Regenerate works after the restart', async () => {
    await chat.locator('#input').fill('Tell me a long story');
    await chat.locator('#input').press('Enter');
    const reply = replyTo('Tell me a long story');
    const content = reply.locator('.message-content');
    await until('streamed text', 60_000, async () => ((await content.textContent()) ?? '').length > 20);
    // The engine process of this workbench (forked from its extension host), found by its path.
    const extensionDir = join(wb.tempDir, 'extensions');
    const engines = readdirSync('/proc').filter((pid) => {
      if (!/^\d+$/.test(pid)) return false;
      try {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        return cmdline.includes(extensionDir) && cmdline.includes('worker.js');
      } catch {
        return false;
      }
    });
    assert.equal(engines.length, 1, `engine processes: ${engines.join(', ')}`);
    process.kill(Number(engines[0]), 'SIGKILL');
    await reply.locator('.message-error', { hasText: /engine stopped while answering/ }).waitFor({ timeout: 30_000 });
    const partial = ((await content.textContent()) ?? '').trim();
    assert.ok(partial.length > 20, 'the partial reply is still shown');
    await wb.screenshot('engine-crashed');
    const file = historyFiles().find((f) =>
      JSON.parse(readFileSync(f, 'utf8')).messages.some((m: { content: string }) => m.content === 'Tell me a long story'),
    );
    assert.ok(file, 'the conversation is on disk');
    const saved = JSON.parse(readFileSync(file, 'utf8')) as Conversation;
    const last = saved.messages.at(-1)!;
    assert.equal(last.status, 'interrupted');
    assert.ok(last.content.length > 20);

    const crashedId = await reply.getAttribute('data-id');
    await chat.locator('#regenerate').click();
    const again = replyTo('Tell me a long story');
    await until('the new reply', 10_000, async () => (await again.getAttribute('data-id')) !== crashedId);
    assert.equal(await chat.locator(`article[data-id="${crashedId}"]`).count(), 0, 'the interrupted reply is replaced');
    await until('a new reply from the restarted engine', 120_000, async () => {
      if ((await again.locator('.message-error').count()) > 0)
        throw new Error(`regenerate failed: ${await again.locator('.message-error').textContent()}`);
      return ((await again.locator('.message-content').textContent()) ?? '').length > 0;
    });
    await chat.locator('#stop').click();
    await again.locator('.message-status', { hasText: 'Stopped.' }).waitFor({ timeout: 5_000 });
  });

  await t.test('"Fix Problems in Selection" puts the selection\'s diagnostics in the question', async () => {
    await wb.openFile('money.ts');
    await wb.page.locator('.part.editor .monaco-editor .view-lines').first().click();
    await wb.press('Control+End');
    await wb.typeText("\nexport const broken: number = 'not a number';");
    await until('the TypeScript error', 120_000, async () =>
      (await wb.problems()).some((row) => /not assignable to type 'number'/.test(row)),
    );
    await wb.page.locator('.part.editor .monaco-editor .view-lines').first().click();
    await wb.press('Control+End');
    await wb.press('Shift+Home');
    await wb.runCommand('Enclave: Fix Problems in Selection');
    const question = chat.locator('article.message.user').last().locator('.message-content');
    await question.filter({ hasText: /^Fix these problems/ }).waitFor({ timeout: 30_000 });
    assert.match(
      (await question.textContent()) ?? '',
      /- line \d+, column \d+, error: Type 'string' is not assignable to type 'number'\. \(ts 2322\)/,
    );
    const reply = replyTo(/Fix these problems/);
    await until('the reply to start', 60_000, async () => ((await reply.locator('.message-content').textContent()) ?? '').length > 0);
    await chat.locator('#stop').click();
    await reply.locator('.message-status', { hasText: 'Stopped.' }).waitFor({ timeout: 5_000 });
    await wb.screenshot('fix');
    assert.doesNotMatch(wb.enclaveLog(), /\[chat\].*ignored a malformed message/);
  });
});
