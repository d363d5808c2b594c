// The @enclave participant's core: VS Code's chat turns and slash commands become the prompt the
// sidebar chat would send (planReply), rules included.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { StoredAttachment } from '../../src/chat/history';
import { participantQuestion, participantTurns } from '../../src/chat/participantTurns';
import { editorPrompt } from '../../src/chat/prompts';
import { planReply } from '../../src/chat/session';

const count = (text: string) => Math.ceil(text.length / 4);
const backend = (contextSize: number) => ({ info: async () => ({ contextSize }) }) as Parameters<typeof planReply>[0]['backend'];

const cart: StoredAttachment = {
  id: 'file-1',
  kind: 'file',
  label: 'cart.ts',
  path: 'src/cart.ts',
  language: 'typescript',
  content: 'export const total = (xs: number[]) => xs.reduce((a, b) => a + b, 0);\n',
};

test('a slash command asks the prepared question about the code in focus, then what was typed', () => {
  const focus = { file: 'src/cart.ts', languageId: 'typescript' };
  assert.equal(participantQuestion('', 'explain', focus), editorPrompt('explain', 'src/cart.ts', 'typescript'));
  const withText = participantQuestion('  and mention the edge cases ', 'tests', focus);
  assert.ok(withText.startsWith(editorPrompt('tests', 'src/cart.ts', 'typescript')));
  assert.ok(withText.endsWith('\n\nand mention the edge cases'));
  const diagnostics = [{ line: 3, character: 1, severity: 'error' as const, message: 'x is not defined' }];
  assert.match(participantQuestion('', 'fix', { ...focus, diagnostics }), /line 4, column 2, error: x is not defined/);
});

test('no command, or a command the participant does not declare, sends the text as typed', () => {
  assert.equal(participantQuestion('  What does this do? ', undefined), 'What does this do?');
  assert.equal(participantQuestion('hello', 'toString'), 'hello');
  assert.equal(participantQuestion('hello', 'unknown'), 'hello');
});

test('earlier turns go before the question; empty replies are left out; only the question carries attachments', () => {
  const turns = participantTurns(
    [
      { role: 'user', text: 'first question' },
      { role: 'assistant', text: 'first answer' },
      { role: 'user', text: '', command: 'explain' },
      { role: 'assistant', text: '' },
    ],
    'second question',
    [cart],
    1000,
  );
  assert.deepEqual(
    turns.map((t) => [t.role, t.content.split('\n')[0]]),
    [
      ['user', 'first question'],
      ['assistant', 'first answer'],
      ['user', editorPrompt('explain', 'the attached code', '')],
      ['user', 'second question'],
    ],
  );
  assert.deepEqual(turns.at(-1)?.attachments, [cart]);
  assert.ok(turns.slice(0, -1).every((t) => t.attachments === undefined));
});

test('planReply: the system message holds the rules, the last message the attachment and the question', async () => {
  const plan = await planReply({
    backend: backend(4096),
    turns: participantTurns(
      [
        { role: 'user', text: 'hi' },
        { role: 'assistant', text: 'hello' },
      ],
      'What is total?',
      [cart],
      0,
    ),
    maxTokens: 256,
    countTokens: count,
    rules: { files: [{ path: 'AGENTS.md' }], text: 'Rule: answer in one line.' },
  });
  assert.equal(plan.messages[0].role, 'system');
  assert.match(plan.messages[0].content, /AGENTS\.md[\s\S]*Rule: answer in one line\./);
  assert.deepEqual(
    plan.messages.map((m) => m.role),
    ['system', 'user', 'assistant', 'user'],
  );
  const last = plan.messages.at(-1)!.content;
  assert.ok(last.includes(cart.content.trim()) && last.endsWith('What is total?'));
  assert.equal(plan.maxTokens, 256);
});

test('planReply: a context too small for the rules shortens them instead of failing the question', async () => {
  const plan = await planReply({
    backend: backend(512),
    turns: participantTurns([], 'Short question?', [], 0),
    maxTokens: 64,
    countTokens: count,
    rules: { files: [{ path: 'AGENTS.md' }], text: 'Rule line.\n'.repeat(400) },
  });
  const rules = plan.messages[0].content.split('follow them:\n\n')[1] ?? '';
  assert.ok(rules.startsWith('Rule line.\n') && rules.includes('shortened'), 'the rules are there, shortened');
  assert.ok(count(rules) <= 512 * 0.25, `the rules take at most a quarter of the context (${count(rules)} tokens)`);
  assert.equal(plan.messages.at(-1)?.content, 'Short question?');
});
