// Codebase context in the real workbench. The prompts are observed where they leave the editor: the
// backend is a stand-in OpenAI-compatible server on 127.0.0.1 that records every request.
//  - completion: the prompt for a keystroke in report.ts holds the declaration of StockLevel from
//    inventory.ts (never opened), found through the built-in TypeScript language server;
//  - chat: a question about restocking retrieves a chunk of inventory.ts from the index, shown as a
//    "Codebase" chip on the question and sent in the prompt; written again in a new chat, its chunks
//    show as chips before it is sent, and the one the user removes does not reach the prompt.
import * as assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';

import { launch, makeWorkspace } from './harness';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const inventory = `// Warehouse stock.

/** How many units of one product a warehouse holds. */
export interface StockLevel {
  warehouseCode: string;
  unitsOnHand: number;
  reorderPoint: number;
}

/** The level below which a warehouse reorders: a week of average demand plus safety stock. */
export function restockThreshold(level: StockLevel, weeklyDemand: number): number {
  return Math.max(level.reorderPoint, Math.ceil(weeklyDemand * 1.2));
}
`;
const report = `import type { StockLevel } from './inventory';

export function describeLevel(level: StockLevel): string {
  const units = level.unitsOnHand;
  return \`\${level.warehouseCode}: \${units}\`;
}
`;

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => resolve(text));
  });
}

test('codebase context: a definition from another file in the completion prompt, a retrieved chunk in chat', async (t) => {
  const completionPrompts: string[] = [];
  const chatPrompts: string[] = [];
  const server = createServer((req, res) => {
    void body(req).then((text) => {
      const json = (value: unknown) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      const usage = { prompt_tokens: 10, completion_tokens: 1, total_tokens: 11 };
      if (req.url?.endsWith('/models'))
        return json({ object: 'list', data: [{ id: 'qwen2.5-coder-1.5b', object: 'model', max_model_len: 8192 }] });
      if (req.url?.endsWith('/v1/completions')) {
        completionPrompts.push((JSON.parse(text) as { prompt: string }).prompt);
        return json({ choices: [{ index: 0, text: 'length', finish_reason: 'stop' }], usage });
      }
      if (req.url?.endsWith('/chat/completions')) {
        chatPrompts.push(text);
        return json({
          choices: [{ index: 0, message: { role: 'assistant', content: 'It takes the larger of the two.' }, finish_reason: 'stop' }],
          usage,
        });
      }
      res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const port = (server.address() as AddressInfo).port;

  const workspace = makeWorkspace({ files: { 'src/inventory.ts': inventory, 'src/report.ts': report } });
  const wb = await launch({
    name: 'codebase',
    workspace,
    settings: {
      'enclave.backend.kind': 'remote',
      'enclave.backend.remoteUrl': `http://127.0.0.1:${port}/v1`,
      'enclave.completion.debounceMs': 0,
      'editor.inlineSuggest.enabled': true,
      'editor.quickSuggestions': { other: false, comments: false, strings: false },
      'editor.suggestOnTriggerCharacters': false,
      // The index's own chunk for the names near the cursor would bring inventory.ts (one chunk: the
      // whole file) into the prompt too; off, the definition can only have come from the language server.
      'enclave.index.completion': false,
    },
  });
  t.after(() => wb.close());

  await t.test('the completion prompt holds the StockLevel declaration from inventory.ts, not the whole file', () =>
    wb.step('definition', async () => {
      await wb.openFile('report.ts');
      // The end of line 4 (`const units = level.unitsOnHand;`), then a new line that uses the type.
      await wb.press('Control+Home');
      for (let i = 0; i < 3; i++) await wb.press('ArrowDown');
      await wb.press('End');
      await wb.typeText('\n');
      // The TypeScript server starts with the first file: the first lookups may miss their budget,
      // and a later keystroke finds the answers cached.
      const deadline = Date.now() + 120_000;
      const wanted = (p: string) => p.includes('unitsOnHand: number;') && p.includes('export interface StockLevel');
      let typed = 0;
      while (!completionPrompts.some(wanted)) {
        if (Date.now() > deadline)
          throw new Error(`no prompt with the definition among ${completionPrompts.length}: ${completionPrompts.at(-1)}`);
        await wb.typeText(typed++ % 2 ? 'l' : ' ');
        await sleep(1500);
      }
      await wb.screenshot('definition');
      const prompt = completionPrompts.find(wanted)!;
      assert.ok(prompt.indexOf('export interface StockLevel') < prompt.indexOf('describeLevel'), 'other files go before the current one');
      assert.ok(!prompt.includes('restockThreshold(level'), 'only the definition, not the whole file');
    }),
  );

  await t.test('a chat question retrieves a chunk of inventory.ts: a Codebase chip and the prompt', () =>
    wb.step('chat', async () => {
      const chat = wb.chatFrame();
      await wb.press('Escape');
      await wb.press('Control+Alt+I');
      await chat.locator('#input').waitFor({ timeout: 60_000 });
      // The index builds a few seconds after activation; ask until it answers from it.
      const question = 'How is the restock threshold computed from weekly demand?';
      await chat.locator('#input').fill(question);
      await chat.locator('#input').press('Enter');
      const chip = chat.locator('article.message.user .chip-codebase .chip-label', { hasText: 'inventory.ts' });
      await chip.first().waitFor({ timeout: 60_000 });
      await wb.screenshot('chat-chip');
      const deadline = Date.now() + 30_000;
      while (!chatPrompts.some((p) => p.includes('restockThreshold') && p.includes('weeklyDemand * 1.2'))) {
        if (Date.now() > deadline) throw new Error(`no chat prompt with the chunk: ${chatPrompts.at(-1)}`);
        await sleep(300);
      }
    }),
  );

  await t.test('the chunks show as chips while the question is written; a removed one stays out of the prompt', () =>
    wb.step('chat-remove-chip', async () => {
      const chat = wb.chatFrame();
      // A new chat: the first question's chunks would otherwise come along in its history.
      await chat.locator('#new-chat').click();
      await chat.locator('#input').fill('How is the restock threshold computed from weekly demand?');
      const pending = chat.locator('#chips .chip-codebase', { hasText: 'inventory.ts' });
      await pending.first().waitFor({ timeout: 30_000 });
      await wb.screenshot('chat-chips-before-send');
      while ((await pending.count()) > 0) {
        await pending.first().locator('.chip-remove').click();
        await sleep(300);
      }
      const before = chatPrompts.length;
      await chat.locator('#input').press('Enter');
      const deadline = Date.now() + 30_000;
      while (chatPrompts.length === before) {
        if (Date.now() > deadline) throw new Error('the question did not reach the server');
        await sleep(300);
      }
      await wb.screenshot('chat-chip-removed');
      const prompt = chatPrompts.at(-1)!;
      assert.ok(prompt.includes('restock threshold computed'), 'the question was sent');
      assert.ok(
        !prompt.includes('weeklyDemand * 1.2') && !prompt.includes('unitsOnHand: number'),
        `the removed chunk is not in the prompt: ${prompt}`,
      );
      assert.equal(await chat.locator('article.message.user').last().locator('.chip-codebase', { hasText: 'inventory.ts' }).count(), 0);
    }),
  );
});
