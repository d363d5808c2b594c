import assert from 'node:assert/strict';
import { test } from 'node:test';

import { DEFAULT_SYSTEM_PROMPT } from '../../src/chat/session';
import { parseUnifiedDiff } from '../../src/review/diff';
import { runReview, type ReviewInput } from '../../src/review/reviewer';
import { fitRules, systemWithRules, type RulesText } from '../../src/rules/prompt';
import { chatHarness, FakeBackend } from './fakes';

const rules: RulesText = { files: [{ path: 'AGENTS.md' }], text: '## AGENTS.md\n\nNever use var.\n' };
const countChars = (text: string) => text.length;

test('the system prompt carries the rules text and names their files; no rules leave it as it was', () => {
  const system = systemWithRules('You are a helper.', rules);
  assert.ok(system.startsWith('You are a helper.'));
  assert.ok(system.includes('Never use var.'));
  assert.ok(system.includes('AGENTS.md'));
  assert.equal(systemWithRules('You are a helper.', undefined), 'You are a helper.');
  assert.equal(systemWithRules('You are a helper.', { files: [], text: '  ' }), 'You are a helper.');
});

test('rules longer than their token share are cut at a line end to fit; short ones pass unchanged', async () => {
  assert.equal(await fitRules(rules, 1_000, countChars), rules);
  const long: RulesText = { files: [{ path: 'AGENTS.md' }], text: 'Rule line number such and such.\n'.repeat(200) };
  const fitted = await fitRules(long, 500, countChars);
  assert.ok(fitted);
  assert.ok(fitted.text.length <= 500, `${fitted.text.length}`);
  assert.ok(fitted.text.length > 250, 'keeps most of the share');
  assert.ok(fitted.text.startsWith('Rule line number such and such.\n'));
  assert.equal(await fitRules(undefined, 500, countChars), undefined);
  assert.equal(await fitRules(long, 0, countChars), undefined, 'no room at all: no rules rather than an overflow');
});

const controllerWith = (rules: () => Promise<RulesText | undefined>) => chatHarness({ rules });

test('chat: the rules reach the system message of every question and the view gets a rules chip', async () => {
  const { backend, posted, controller } = await controllerWith(async () => rules);
  await controller.postState();
  assert.deepEqual(posted.at(-1), { type: 'rules', files: ['AGENTS.md'] });
  await controller.send('hello');
  const system = backend.chatRequests[0].messages[0];
  assert.equal(system.role, 'system');
  assert.ok(system.content.includes('Never use var.'));
  assert.ok(!backend.chatRequests[0].messages.slice(1).some((m) => m.content.includes('Never use var.')));
});

test('chat: without rules (none, off, untrusted) or when reading them fails, the question still goes, with no chip', async () => {
  for (const rulesFor of [async () => undefined, () => Promise.reject(new Error('disk gone'))]) {
    const { backend, posted, controller } = await controllerWith(rulesFor);
    await controller.postState();
    assert.deepEqual(posted.at(-1), { type: 'rules', files: [] });
    await controller.send('hello');
    assert.equal(backend.chatRequests.length, 1);
    assert.equal(backend.chatRequests[0].messages[0].content, DEFAULT_SYSTEM_PROMPT);
  }
});

test('review: every request carries the rules in its instructions, and they count against the code budget', async () => {
  const backend = new FakeBackend({
    info: { contextSize: 4096, sequences: 1 },
    structured: () => ({ findings: [] }),
  });
  const input: ReviewInput = {
    title: 'a change',
    files: parseUnifiedDiff(
      ['diff --git a/a.ts b/a.ts', '--- a/a.ts', '+++ b/a.ts', '@@ -1,1 +1,2 @@', ' const a = 1;', '+var b = 2;', ''].join('\n'),
    ),
    readFile: async () => 'const a = 1;\nvar b = 2;\n',
  };
  await runReview(backend, input, { maxTokens: 128, contextLines: 2, rules });
  assert.equal(backend.structuredRequests.length, 1);
  const [system, user] = backend.structuredRequests[0].messages;
  assert.equal(system.role, 'system');
  assert.ok(system.content.includes('Never use var.'));
  assert.ok(!user.content.includes('Never use var.'));
  await runReview(backend, input, { maxTokens: 128, contextLines: 2 });
  assert.ok(!backend.structuredRequests[1].messages[0].content.includes('Never use var.'));
});
