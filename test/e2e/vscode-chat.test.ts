// Enclave in VS Code's own chat view (not Enclave's sidebar), in code-server 4.139 with AI features
// on and no GitHub sign-in. What works there without Copilot is a chat participant: `@enclave`
// answers through the sidebar chat's path (rules, planReply, the backend). The model is a scripted
// OpenAI-compatible server on 127.0.0.1 behind Enclave's own remote backend (real HTTP, real SSE
// streaming), so every prompt Enclave sends is recorded and the answer is known. A question
// without `@enclave` goes to Copilot's agent, which asks for a GitHub sign-in (docs/ARCHITECTURE.md).
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { launch, makeWorkspace, type Workbench } from './harness';
import { LoopbackModel } from './loopbackModel';

const RULE = 'Rule-c41d: answer in British English.';
const CODE = 'export const answerZq9 = 6 * 7;\n';
const ANSWER = ['The ', 'answer ', 'is ', 'forty-two.'];

interface Message {
  role: string;
  content: string;
}

/** The scripted model: a short answer in four SSE chunks, or (slow) a long one to stop midway. */
class ScriptedModel extends LoopbackModel {
  slow = false;
  readonly requests: Message[][] = [];
  protected async handle(req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
    if (req.url === '/v1/models')
      return void res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ data: [{ id: 'scripted', max_model_len: 8192 }] }));
    if (req.url !== '/v1/chat/completions') return void res.writeHead(404).end();
    this.requests.push((JSON.parse(body) as { messages: Message[] }).messages);
    const words = this.slow ? Array.from({ length: 400 }, (_, i) => `w${i} `) : ANSWER;
    await this.streamAnswer(res, words, this.slow ? 100 : 30, 20);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, timeoutMs: number, probe: () => T | undefined | false): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/** Types into VS Code's chat input and sends (Escape first closes a suggestion list). */
async function ask(wb: Workbench, text: string): Promise<void> {
  await wb.page.locator('.part.auxiliarybar .interactive-input-part .monaco-editor').first().click();
  await wb.press('Control+End'); // after a sticky "@enclave " already in the input
  await wb.page.keyboard.type(text, { delay: 20 });
  await wb.press('Escape');
  await wb.press('Enter');
}

/** The text of the last response in the chat view. */
function lastResponse(wb: Workbench) {
  return wb.page.locator('.part.auxiliarybar .interactive-item-container.interactive-response').last();
}

test("VS Code's chat view: @enclave answers through Enclave's chat path; Stop cancels the request", async (t) => {
  const model = new ScriptedModel();
  await model.start();
  t.after(() => model.close());
  // Listing Enclave's models reads only the settings: the file is never opened (prompts go to the
  // scripted server), but its name is what the model picker shows.
  const modelDir = mkdtempSync(join(tmpdir(), 'enclave-vscode-chat-'));
  t.after(() => rmSync(modelDir, { recursive: true, force: true }));
  const modelFile = join(modelDir, 'qwen2.5-coder-0.5b-instruct-q8_0.gguf');
  writeFileSync(modelFile, 'GGUF');
  const workspace = makeWorkspace({ files: { 'AGENTS.md': `# Conventions\n\n${RULE}\n`, 'src/answer.ts': CODE } });
  t.after(() => rmSync(workspace, { recursive: true, force: true }));
  const options = {
    name: 'vscode-chat',
    workspace,
    settings: {
      'chat.disableAIFeatures': false,
      'enclave.model.path': modelFile,
      'enclave.backend.kind': 'remote',
      'enclave.backend.remoteUrl': model.url,
      'enclave.backend.remoteModel': 'scripted',
      'enclave.completion.enabled': false,
      'enclave.nextEdit.enabled': false,
      // Retrieval would add workspace chunks to the question; this test checks the question's own path.
      'enclave.index.chat': false,
    },
  };
  const wb = await launch(options).catch((err: unknown) => {
    console.log(`[e2e vscode-chat] launch failed once (${String(err).split('\n')[0]}); starting again`);
    return launch(options);
  });
  t.after(() => wb.close());
  // A fresh code-server window applies the remote backend only after a reload (rules.test.ts).
  await wb.page.reload();
  await wb.page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
  await until(
    'Enclave to activate again after the reload',
    90_000,
    () => wb.exthostLog().split('_doActivateExtension enclave-dev.enclave').length > 2,
  );
  await wb.runCommand('Chat: Open Chat (Ask)');

  await t.test("the model picker offers Enclave's model without any sign-in", async () => {
    const picker = wb.page.locator('.part.auxiliarybar .model-picker-item .model-picker-name');
    await wb.step('picker', () => picker.filter({ hasText: 'qwen2.5-coder-0.5b-instruct-q8_0' }).waitFor({ timeout: 60_000 }));
    await picker.click();
    const row = wb.page.locator('.action-widget .monaco-list-row').filter({ hasText: 'qwen2.5-coder-0.5b-instruct-q8_0' });
    await wb.step('picker-list', () => row.first().waitFor({ timeout: 10_000 }));
    await wb.screenshot('model-picker');
    await wb.press('Escape');
  });

  await t.test('@enclave: the question reaches the model with the project rules; the streamed answer shows in the chat view', async () => {
    await ask(wb, '@enclave What is the answer to everything?');
    await wb.step('answer', () =>
      lastResponse(wb)
        .filter({ hasText: ANSWER.join('') })
        .waitFor({ timeout: 60_000 }),
    );
    const messages = model.requests.at(-1);
    assert.ok(messages, 'the model was asked');
    assert.equal(messages[0].role, 'system');
    assert.ok(messages[0].content.includes(RULE), 'the rules of AGENTS.md are in the system message');
    assert.equal(messages.at(-1)?.content, 'What is the answer to everything?');
    await wb.screenshot('answered');
  });

  await t.test('a follow-up to @enclave carries the conversation so far', async () => {
    const before = model.requests.length;
    // The participant is sticky: the input starts with "@enclave" again.
    await ask(wb, 'And why?');
    await wb.step('follow-up', () => until('the follow-up request', 60_000, () => model.requests.length > before));
    const messages = model.requests.at(-1)!.slice(1);
    assert.deepEqual(
      messages.map((m) => [m.role, m.content]),
      [
        ['user', 'What is the answer to everything?'],
        ['assistant', ANSWER.join('')],
        ['user', 'And why?'],
      ],
    );
    await lastResponse(wb)
      .filter({ hasText: ANSWER.join('') })
      .waitFor({ timeout: 60_000 });
  });

  await t.test('@enclave /explain asks about the selected code and sends it along', async () => {
    await wb.openFile('answer.ts');
    await wb.page.locator('.part.editor .monaco-editor .view-lines').first().click();
    await wb.press('Control+A');
    const before = model.requests.length;
    await ask(wb, '/explain');
    await wb.step('explain', () => until('the /explain request', 60_000, () => model.requests.length > before));
    const question = model.requests.at(-1)!.at(-1)!.content;
    assert.match(question, /Explain what the selected code from src\/answer\.ts does/);
    assert.ok(question.includes(CODE.trim()), 'the selected code goes with the question');
    await lastResponse(wb)
      .filter({ hasText: ANSWER.join('') })
      .waitFor({ timeout: 60_000 });
    await wb.screenshot('explained');
  });

  await t.test("Stop (the chat view's Cancel) ends the request at the model midway", async () => {
    model.slow = true;
    await ask(wb, 'Tell me a long story.');
    await wb.step('streaming', () => lastResponse(wb).filter({ hasText: 'w5 ' }).waitFor({ timeout: 60_000 }));
    await wb.page.locator('.part.auxiliarybar .interactive-input-part .action-label[aria-label^="Cancel"]').first().click();
    await wb.step('cancelled', () => until('the request to be closed', 30_000, () => model.aborted > 0));
    await sleep(1_000);
    const shown = await lastResponse(wb).innerText();
    assert.ok(!shown.includes('w399'), 'the answer stopped before its end');
    await wb.screenshot('stopped');
  });
});
