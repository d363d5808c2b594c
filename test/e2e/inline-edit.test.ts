// Inline edit and commit messages in the real workbench. The model is a scripted OpenAI-compatible
// server on 127.0.0.1 behind Enclave's own remote backend (real HTTP, real streaming), so the
// rewrite is known: two hunks, fenced like a real model's answer, streamed in small pieces — fast,
// or slowly enough to cancel or edit the document mid-stream. What is checked is mechanics: the
// document is untouched until a decision, holds exactly the original with the accepted hunks after
// it, and one Ctrl+Z brings the original back; the commit button fills the Source Control box from
// a real staged change whose prompt held the diff and only a summary of the lockfile.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';

import { cleanCommitMessage } from '../../src/commitMessage/core';
import { applyHunks, extractCode, lineHunks } from '../../src/inlineEdit/core';
import { fixturePaths, launch, makeWorkspace, type Workbench } from './harness';
import { LoopbackModel } from './loopbackModel';

const original = [
  'export function area(width: number, height: number) {',
  '  const w = width;',
  '  const h = height;',
  '  return w * h;',
  '}',
  '',
  'export function perimeter(width: number, height: number) {',
  '  return 2 * (width + height);',
  '}',
  '',
].join('\n');
const rewrite = [
  '```ts',
  'export function area(width: number, height: number) {',
  '  const w = Math.abs(width);',
  '  const h = height;',
  '  return w * h; // square units',
  '}',
  '```',
  'Both sides are now taken as lengths.',
].join('\n');
const commitAnswer = '```\nfeat: explain the shapes\n\nThe perimeter is documented now.\n```';

/** The scripted model: what it answers, how fast, and what it was asked. */
class ScriptedModel extends LoopbackModel {
  chunkDelayMs = 15;
  readonly chatRequests: { system: string; user: string }[] = [];
  protected async handle(req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
    if (req.url === '/v1/models')
      return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":[{"id":"scripted"}]}');
    if (req.url !== '/v1/chat/completions') return void res.writeHead(404).end();
    const messages = (JSON.parse(body) as { messages: { role: string; content: string }[] }).messages;
    const system = messages.find((m) => m.role === 'system')?.content ?? '';
    const user = messages.find((m) => m.role === 'user')?.content ?? '';
    this.chatRequests.push({ system, user });
    const answer = system.includes('commit messages') ? commitAnswer : rewrite;
    const pieces = Array.from({ length: Math.ceil(answer.length / 6) }, (_, i) => answer.slice(i * 6, i * 6 + 6));
    await this.streamAnswer(res, pieces, this.chunkDelayMs, 50);
  }
}

const file = 'src/shapes.ts';
const rulesMarker = 'Prefer early returns (rule 42).';
const oldRegion = original.split('\n').slice(0, 5);
const hunks = lineHunks(oldRegion, extractCode(rewrite, true));

/** The file as it is with the rewrite's hunks in `accepted` applied to the first five lines. */
function withHunks(accepted: number[]): string {
  const lines = original.split('\n');
  return [...applyHunks(oldRegion, hunks, new Set(accepted)), ...lines.slice(5)].join('\n');
}

async function saved(wb: Workbench): Promise<string> {
  await wb.press('Control+S');
  // Saving takes over a second on a loaded machine: wait until the tab is no longer dirty.
  await wb.page.locator('.part.editor .tab.active.dirty').waitFor({ state: 'detached', timeout: 30_000 });
  await new Promise((r) => setTimeout(r, 300));
  return readFileSync(join(wb.workspace, file), 'utf8');
}

/** The CodeLens links with exactly this title, top to bottom. */
async function lenses(wb: Workbench, title: string) {
  const links = wb.page.locator('.part.editor .codelens-decoration a').filter({ hasText: new RegExp(`^${title}$`) });
  const boxes = await Promise.all((await links.all()).map(async (l) => ({ link: l, y: (await l.boundingBox())?.y ?? 0 })));
  return boxes.sort((a, b) => a.y - b.y).map((b) => b.link);
}

async function startEdit(wb: Workbench, instruction: string): Promise<void> {
  // The last edit's CodeLens may linger a moment (the workbench debounces their updates) and would take the click.
  await waitForLens(wb, /Accept All|Enclave is editing/, 'hidden');
  await wb.page
    .locator('.part.editor .monaco-editor .view-lines')
    .first()
    .click({ position: { x: 5, y: 5 } });
  await wb.press('Control+Home');
  await wb.press('Alt+KeyI');
  // Other quick inputs (quick open) keep a hidden input in the DOM.
  const input = wb.page.locator('.quick-input-widget input:visible');
  // The input box takes a while on a loaded machine (the command goes through the extension host).
  await input.waitFor({ state: 'visible', timeout: 60_000 });
  await input.fill(instruction);
  await wb.press('Enter');
}

async function waitForLens(wb: Workbench, title: string | RegExp, state: 'visible' | 'hidden' = 'visible'): Promise<void> {
  await wb.page.locator('.part.editor .codelens-decoration a').filter({ hasText: title }).first().waitFor({ state, timeout: 60_000 });
}

test('inline edit: streamed rewrite, per-hunk and all-hunk decisions, one undo step, cancel; commit message from a staged change', async (t) => {
  const model = new ScriptedModel();
  await model.start();
  t.after(() => model.close());
  const workspace = makeWorkspace({
    files: {
      [file]: original,
      'package-lock.json': '{\n  "lockfileVersion": 2\n}\n',
      'AGENTS.md': `# Rules\n\n${rulesMarker}\n`,
      'src/big.ts': Array.from({ length: 50_000 }, (_, i) => `export const v${i} = ${i};`).join('\n') + '\n',
    },
  });
  const wb = await launch({
    name: 'inline-edit',
    workspace,
    settings: {
      'enclave.backend.kind': 'remote',
      'enclave.backend.remoteUrl': model.url,
      'enclave.backend.remoteModel': 'scripted',
      'enclave.completion.enabled': false,
      // Next-edit predictions would go to the same scripted server (the instruct fallback is a chat request).
      'enclave.nextEdit.enabled': false,
      'editor.codeLens': true,
    },
  });
  t.after(() => wb.close());
  assert.equal(hunks.length, 2, 'the scripted rewrite changes two separate lines');
  await wb.openFile('shapes.ts');

  await wb.step('accept one hunk, reject the other', async () => {
    await startEdit(wb, 'take absolute values');
    await waitForLens(wb, 'Accept All');
    await wb.screenshot('proposal');
    assert.equal(await saved(wb), original, 'nothing is written while the proposal is shown');
    const accepts = await lenses(wb, 'Accept');
    assert.equal(accepts.length, 2, 'one Accept per hunk');
    await accepts[0].click();
    // CodeLens updates are debounced by the workbench: wait for the decided hunk's buttons to go.
    const deadline = Date.now() + 20_000;
    while ((await lenses(wb, 'Reject')).length !== 1 && Date.now() < deadline) await wb.page.waitForTimeout(250);
    await wb.screenshot('one-accepted');
    const rejects = await lenses(wb, 'Reject');
    assert.equal(rejects.length, 1, 'the decided hunk has no buttons left');
    await rejects[0].click();
    await wb.waitForLog(/applied 1 hunk\(s\)/);
    await waitForLens(wb, 'Accept All', 'hidden');
    assert.equal(await saved(wb), withHunks([0]));
    const request = model.chatRequests.at(-1)!;
    assert.ok(
      request.user.includes('take absolute values') && request.user.includes(oldRegion[1]),
      `the instruction and the region reached the model: ${JSON.stringify(model.chatRequests.map((r) => r.user.slice(0, 300)))}`,
    );
    assert.ok(request.system.includes(rulesMarker), "the project's rules reached the prompt");
  });

  await wb.step('one undo step back to the original', async () => {
    await wb.page
      .locator('.part.editor .monaco-editor .view-lines')
      .first()
      .click({ position: { x: 5, y: 5 } });
    await wb.press('Control+Z');
    assert.equal(await saved(wb), original);
  });

  await wb.step('accept all with the keyboard, then undo', async () => {
    await startEdit(wb, 'take absolute values');
    await waitForLens(wb, 'Accept All');
    await wb.press('Control+Enter');
    await wb.waitForLog(/applied 2 hunk\(s\)/);
    await waitForLens(wb, 'Accept All', 'hidden');
    assert.equal(await saved(wb), withHunks([0, 1]));
    await wb.press('Control+Z');
    assert.equal(await saved(wb), original);
  });

  await wb.step('reject all with Escape', async () => {
    await startEdit(wb, 'take absolute values');
    await waitForLens(wb, 'Accept All');
    await wb.press('Escape');
    await waitForLens(wb, 'Accept All', 'hidden');
    assert.equal(await saved(wb), original);
  });

  await wb.step('Escape while streaming stops the request and writes nothing', async () => {
    model.chunkDelayMs = 400;
    const abortedBefore = model.aborted;
    await startEdit(wb, 'take absolute values');
    await waitForLens(wb, /Enclave is editing/);
    await wb.screenshot('streaming');
    await wb.press('Escape');
    await waitForLens(wb, /Enclave is editing/, 'hidden');
    await wb.page.waitForTimeout(800);
    assert.equal(model.aborted, abortedBefore + 1, 'the model request was aborted');
    assert.equal(await saved(wb), original);
  });

  await wb.step('typing while streaming cancels the edit; only the typing is in the document', async () => {
    await startEdit(wb, 'take absolute values');
    await waitForLens(wb, /Enclave is editing/);
    await wb.press('Control+End');
    // One word: VS Code's undo splits typed text at word boundaries.
    await wb.typeText('typed');
    await waitForLens(wb, /Enclave is editing/, 'hidden');
    await wb.page.waitForTimeout(1500);
    assert.equal(await saved(wb), `${original}typed`);
    await wb.press('Control+Z');
    assert.equal(await saved(wb), original);
    model.chunkDelayMs = 15;
  });

  await wb.step('a 50,000-line selection is refused before anything is asked or sent', async () => {
    const requestsBefore = model.chatRequests.length;
    await wb.openFile('big.ts');
    await wb.page
      .locator('.part.editor .monaco-editor .view-lines')
      .first()
      .click({ position: { x: 5, y: 5 } });
    await wb.press('Control+A');
    await wb.press('Alt+KeyI');
    await wb.waitForLog(/refused: 50000 lines/);
    await wb.page.locator('.notifications-toasts .notification-toast').first().waitFor({ state: 'visible', timeout: 10_000 });
    await wb.screenshot('refused');
    assert.equal(await wb.page.locator('.quick-input-widget input:visible').count(), 0, 'no instruction is asked for');
    assert.equal(model.chatRequests.length, requestsBefore);
    await wb.press('Escape');
  });

  await wb.step('commit message from the staged change', async () => {
    writeFileSync(join(workspace, file), original.replace('return 2 * (width + height);', 'return 2 * width + 2 * height;'));
    writeFileSync(join(workspace, 'package-lock.json'), '{\n  "lockfileVersion": 3,\n  "requires": true\n}\n');
    execFileSync('git', ['add', file, 'package-lock.json'], { cwd: workspace });
    const requestsBefore = model.chatRequests.length;
    await wb.press('Control+Shift+G');
    const button = wb.page.locator('.action-label[aria-label*="Write Commit Message"]').first();
    await button.waitFor({ state: 'visible', timeout: 30_000 });
    await wb.screenshot('scm');
    await button.click();
    const box = wb.page.locator('.scm-editor .monaco-editor .view-lines').first();
    const expected = cleanCommitMessage(commitAnswer);
    // The message streams into the box: wait for its first and its last line.
    await wb.page.waitForFunction(
      (lines) =>
        lines.every((line) =>
          [...document.querySelectorAll('.scm-editor .view-line')].some((l) => (l.textContent ?? '').replace(/\u00a0/g, ' ') === line),
        ),
      [expected.split('\n')[0], expected.split('\n').at(-1)],
      { timeout: 60_000 },
    );
    await wb.screenshot('commit-message');
    const shown = (await box.locator('.view-line').allTextContents()).map((l) => l.replace(/\u00a0/g, ' '));
    assert.deepEqual(shown, expected.split('\n'));
    const request = model.chatRequests.slice(requestsBefore).find((r) => r.system.includes('commit messages'));
    assert.ok(request, 'the commit message came from the model');
    assert.ok(request.user.includes('+  return 2 * width + 2 * height;'), 'the staged diff is in the prompt');
    assert.match(request.user, /package-lock\.json: \d+ lines changed/, 'the lockfile is summarised');
    assert.ok(!request.user.includes('"requires"'), 'the lockfile is not pasted');
    assert.ok(request.system.includes('- initial'), "the repository's own subjects are in the prompt");
    assert.ok(request.system.includes(rulesMarker), "the project's rules reached the prompt");
  });
});

test('inline edit on the real engine: the random-weight model’s streamed rewrite is shown, applied whole, undone in one step', async (t) => {
  const fixtures = await fixturePaths();
  const wb = await launch({
    name: 'inline-edit-engine',
    workspace: makeWorkspace({ files: { [file]: original } }),
    // enclave.model.path is machine-overridable: the model comes through the environment, as in completion.test.ts.
    env: { ENCLAVE_MODEL: fixtures.model },
    settings: { 'enclave.engine.gpu': 'cpu', 'enclave.engine.contextSize': 2048, 'enclave.completion.enabled': false },
  });
  t.after(() => wb.close());
  await wb.openFile('shapes.ts');
  await startEdit(wb, 'take absolute values');
  // Random weights write random text: what is checked is that the document takes exactly what was proposed.
  const proposal = await wb.waitForLog(/proposal: (\d+) hunk\(s\), \+(\d+) -(\d+) lines/, 300_000);
  assert.ok(Number(proposal[1]) >= 1, 'random text differs from the code');
  await waitForLens(wb, 'Accept All');
  await wb.screenshot('proposal');
  assert.equal(await saved(wb), original, 'nothing is written while the proposal is shown');
  await wb.press('Control+Enter');
  await wb.waitForLog(/applied \d+ hunk\(s\)/);
  const text = await saved(wb);
  const lines = original.split('\n');
  assert.equal(
    text.split('\n').length,
    lines.length + Number(proposal[2]) - Number(proposal[3]),
    'the lines proposed replaced the lines struck',
  );
  assert.ok(text.endsWith(lines.slice(5).join('\n')), 'the code after the edited block is untouched');
  assert.notEqual(text, original);
  await wb.press('Control+Z');
  assert.equal(await saved(wb), original, 'one undo step restores the original');
});
