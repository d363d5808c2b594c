// Code review in the real workbench, end to end: a git workspace with an uncommitted change, the
// "Review Uncommitted Changes" command, the real engine on the fixture model, findings in the
// Problems panel on the changed lines, a quick fix applied, the report saved.
// The presentation's details (a known finding's diagnostic, its quick fix as one undo step,
// findings following edits) are checked by host/review.suite.ts inside the real extension host;
// the second test here runs that suite (the harness's runHostSuite).
// The fixture model has random weights and, left alone, mostly answers "no findings"; the
// extension host gets ENCLAVE_REVIEW_SCHEMA_LIMITS so the grammar asks for at least one finding
// with short strings. Everything else — git, chunking, the engine, validation, placement,
// diagnostics, the quick fix — is the product's own path; the finding's words are noise.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { changedLines, gitDiffArgs, parseUnifiedDiff, splitLines } from '../../src/review/diff';
import { fixturePaths, launch, makeWorkspace, runHostSuite } from './harness';

const original = Array.from({ length: 40 }, (_, i) => `export const price${i + 1} = ${(i + 1) * 100};`).join('\n') + '\n';

function changedFile(): string {
  const lines = splitLines(original);
  lines[5] = 'export const price6 = Number.NaN;';
  lines.splice(20, 0, 'export function total(a: number, b: number) {', '  return a - b;', '}');
  return lines.join('\n') + '\n';
}

test('review of uncommitted changes: findings on the changed lines, a quick fix, a saved report', async (t) => {
  const fixtures = await fixturePaths();
  const workspace = makeWorkspace({ files: { 'src/pricing.ts': original } });
  writeFileSync(join(workspace, 'src/pricing.ts'), changedFile());
  const diff = parseUnifiedDiff(execFileSync('git', gitDiffArgs('uncommitted'), { cwd: workspace, encoding: 'utf8' }));
  assert.deepEqual(
    diff.map((f) => f.path),
    ['src/pricing.ts'],
  );
  const changed = changedLines(diff[0]);

  const wb = await launch({
    name: 'review',
    workspace,
    settings: {
      'enclave.model.path': fixtures.model,
      'enclave.engine.gpu': 'cpu',
      'enclave.engine.contextSize': 2048,
      'enclave.review.maxTokens': 512,
      'enclave.completion.enabled': false,
    },
    env: { ENCLAVE_REVIEW_SCHEMA_LIMITS: JSON.stringify({ minFindings: 1, maxFindings: 2, maxMessageChars: 24, maxReplacementChars: 16 }) },
  });
  t.after(() => wb.close());
  await wb.openFile('pricing.ts');

  const findings = await wb.step('review', async () => {
    await wb.runCommand('Enclave: Review Uncommitted Changes');
    await wb.page
      .locator('.notifications-toasts')
      .filter({ hasText: 'Enclave: reviewing uncommitted changes' })
      .first()
      .waitFor({ timeout: 30_000 })
      .catch(() => undefined);
    await wb.screenshot('reviewing');
    const done = await wb.waitForLog(
      /review done: uncommitted changes: (\d+) findings .*reviewed (\d+), skipped (\d+), failed (\d+)/,
      300_000,
    );
    await wb.screenshot('reviewed');
    assert.equal(done[4], '0', `a file failed:\n${wb.enclaveLog()}`);
    assert.equal(done[2], '1');
    const list = [...wb.enclaveLog().matchAll(/finding (\S+):(\d+)-(\d+) (error|warning|info) (\w+)( \(fix\))?/g)].map((m) => ({
      file: m[1],
      start: Number(m[2]),
      end: Number(m[3]),
      severity: m[4],
      fix: Boolean(m[6]),
    }));
    assert.equal(list.length, Number(done[1]));
    assert.ok(list.length >= 1, 'the grammar asked for at least one finding');
    for (const f of list) {
      assert.equal(f.file, 'src/pricing.ts');
      assert.ok(
        changed.some((r) => f.start <= r.end + 3 && f.end >= r.start - 3),
        `finding at ${f.start}-${f.end} is off the change ${JSON.stringify(changed)}`,
      );
    }
    return list;
  });

  await t.test('the findings are in the Problems panel on their lines', () =>
    wb.step('problems', async () => {
      const rows = (await wb.problems()).filter((r) => r.includes('Enclave review'));
      await wb.screenshot('problems');
      assert.equal(rows.length, findings.length, `rows: ${JSON.stringify(rows)}`);
      const lines = rows.map((r) => Number(/line (\d+)/i.exec(r)?.[1])).sort((a, b) => a - b);
      assert.deepEqual(
        lines,
        findings.map((f) => f.start).sort((a, b) => a - b),
        `rows: ${JSON.stringify(rows)}`,
      );
    }),
  );

  // The grammar allows a replacement (≤ 16 characters) or null; the engine accepts a replacement
  // at its limit that holds an astral character, so the first answer is kept with its fix.
  await t.test('a quick fix replaces the finding lines in one edit', () =>
    wb.step('quick-fix', async () => {
      const fix = findings.find((f) => f.fix);
      assert.ok(fix, `no finding carries a replacement:\n${wb.enclaveLog()}`);
      await wb.page.locator('.part.editor .monaco-editor .view-lines').first().click();
      await wb.press('Control+G');
      await wb.page.keyboard.type(String(fix.start));
      await wb.press('Enter');
      // The go-to-line box gives the focus back to the editor, then the light bulb shows.
      await wb.page
        .locator('.quick-input-widget')
        .waitFor({ state: 'hidden', timeout: 10_000 })
        .catch(() => undefined);
      await wb.page
        .locator('.part.editor .lightBulbWidget')
        .first()
        .waitFor({ state: 'visible', timeout: 15_000 })
        .catch(() => undefined);
      await wb.press('Control+.');
      const action = wb.page.locator('.action-widget .monaco-list-row').filter({ hasText: 'Enclave: apply the suggested fix' }).first();
      await action.waitFor({ timeout: 15_000 });
      await wb.screenshot('code-actions');
      await action.click();
      await wb.press('Control+S');
      // The save reaches the disk once the workbench's save participants are done (slow under load).
      const saved = () => readFileSync(join(workspace, 'src/pricing.ts'), 'utf8');
      for (const until = Date.now() + 15_000; saved() === changedFile() && Date.now() < until;)
        await new Promise((r) => setTimeout(r, 250));
      const after = splitLines(saved());
      const before = splitLines(changedFile());
      // Lines outside the finding are untouched; the finding's lines changed.
      assert.deepEqual(after.slice(0, fix.start - 1), before.slice(0, fix.start - 1));
      const tail = before.length - fix.end;
      assert.deepEqual(after.slice(after.length - tail), before.slice(before.length - tail));
      assert.notDeepEqual(after.slice(fix.start - 1, after.length - tail), before.slice(fix.start - 1, fix.end));
      // The applied finding is gone from the Problems panel, and so is any other finding whose
      // lines the replacement changed; the rest stay.
      const untouched = findings.filter((f) => f !== fix && (f.end < fix.start || f.start > fix.end));
      const rows = (await wb.problems()).filter((r) => r.includes('Enclave review'));
      assert.equal(rows.length, untouched.length, `rows: ${JSON.stringify(rows)}`);
      await wb.screenshot('fixed');
    }),
  );

  await t.test('the report is saved as markdown', () =>
    wb.step('report', async () => {
      await wb.runCommand('Enclave: Save Review Report');
      // code-server's save dialog is a quick input prefilled with the default path.
      const input = wb.page.locator('.quick-input-widget input');
      await input.waitFor({ state: 'visible', timeout: 15_000 });
      await wb.screenshot('save-dialog');
      await wb.press('Enter');
      const path = join(workspace, 'enclave-review.md');
      for (let i = 0; i < 40 && !existsSync(path); i++) await new Promise((r) => setTimeout(r, 250));
      const report = readFileSync(path, 'utf8');
      assert.match(report, /^# Enclave review: uncommitted changes/);
      assert.match(report, new RegExp(`${findings.length} findings?`));
      assert.match(report, /### src\/pricing\.ts/);
    }),
  );

  await t.test('Clear Review Findings empties the Problems panel', () =>
    wb.step('clear', async () => {
      await wb.runCommand('Enclave: Clear Review Findings');
      await new Promise((r) => setTimeout(r, 500));
      const rows = (await wb.problems()).filter((r) => r.includes('Enclave review'));
      assert.deepEqual(rows, []);
    }),
  );
});

test('the presentation suite passes inside the real extension host', async () => {
  const { exitCode, output } = await runHostSuite({ name: 'review-host', suites: ['review'] });
  assert.equal(exitCode, 0, `the host suite failed (exit ${exitCode}):\n${output}`);
  const passing = Number(/(\d+) passing/.exec(output)?.[1] ?? 0);
  assert.ok(passing > 0, `mocha reported no passing tests:\n${output}`);
  assert.doesNotMatch(output, /\d+ failing/);
});
