// The metrics dashboard, "Benchmark This Machine" and "Evaluate on This Repository" in the real
// workbench with the real engine on the fixture model: completions shown and accepted (Tab) appear
// in the dashboard with the numbers the test produced, its charts render (uPlot canvases in the
// webview), the benchmark fills its table, and the evaluation compares no adapter with two.
import * as assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import type { FrameLocator } from 'playwright-core';

import { extensionId, fixturePaths, launch, makeWorkspace, type Workbench } from './harness';

/** Types one character at a time until a suggestion shows (random weights sometimes suggest nothing). */
async function typeUntilGhost(wb: Workbench, chars: string, waitMs = 8_000): Promise<string> {
  for (const ch of chars) {
    await wb.typeText(ch);
    const ghost = await wb.waitForGhostText(waitMs).catch(() => '');
    if (ghost.trim()) return ghost;
  }
  throw new Error(`no suggestion after typing ${JSON.stringify(chars)}`);
}

/** The dashboard's content frame (the only Enclave webview this test opens). */
function dashboard(wb: Workbench): FrameLocator {
  return wb.page.frameLocator(`iframe.webview.ready[src*="extensionId=${extensionId}"]`).first().frameLocator('#active-frame');
}

async function metric(frame: FrameLocator, key: string): Promise<string> {
  return (await frame.locator(`[data-metric="${key}"]`).textContent({ timeout: 30_000 })) ?? '';
}

test('metrics dashboard, benchmark and repository evaluation in code-server', async (t) => {
  const fixtures = await fixturePaths();
  const workspace = makeWorkspace();
  mkdirSync(join(workspace, '.enclave', 'adapters'), { recursive: true });
  copyFileSync(fixtures.loraA, join(workspace, '.enclave', 'adapters', 'lora-a.gguf'));
  copyFileSync(fixtures.loraB, join(workspace, '.enclave', 'adapters', 'lora-b.gguf'));
  const wb = await launch({
    name: 'metrics',
    workspace,
    env: { ENCLAVE_MODEL: fixtures.model },
    settings: {
      'enclave.engine.gpu': 'cpu',
      'enclave.engine.contextSize': 2048,
      'enclave.engine.batchSize': 256,
      'enclave.completion.maxTokens': 12,
      'enclave.completion.maxLines': 1,
      'enclave.metrics.slo.completionP95Ms': 750,
      'editor.inlineSuggest.enabled': true,
      'editor.quickSuggestions': { other: false, comments: false, strings: false },
      'editor.suggestOnTriggerCharacters': false,
    },
  });
  t.after(() => wb.close());
  const accepted = 2;

  await t.test('completions shown and accepted with Tab are counted on the dashboard, charts drawn', () =>
    wb.step('dashboard', async () => {
      await wb.openFile('cart.ts');
      await wb.press('Control+End');
      await wb.typeText('\n\nexport function firstOf(cart: Cart) {\n');
      for (let i = 0; i < accepted; i++) {
        await typeUntilGhost(wb, i === 0 ? 'return c' : 'xyzwvu');
        await wb.press('Tab');
        await new Promise((r) => setTimeout(r, 400));
        await wb.press('Escape');
        await wb.press('End');
        await wb.typeText('\n');
      }
      await wb.screenshot('accepted');
      await wb.runCommand('Enclave: Show Metrics Dashboard');
      const frame = dashboard(wb);
      await frame.locator('#chart-activity canvas').first().waitFor({ timeout: 30_000 });
      await frame.locator('#chart-latency canvas').first().waitFor();
      // Suggestions shown while typing may keep coming; the accepted count is exactly what Tab did.
      await waitFor(async () => (await metric(frame, 'accepted')) === String(accepted), 20_000, 'accepted count');
      const shown = Number(await metric(frame, 'shown'));
      assert.ok(shown >= accepted, `shown ${shown} ≥ accepted ${accepted}`);
      assert.match(await metric(frame, 'latencyP95'), /^\d+ ms$/);
      assert.match(await metric(frame, 'acceptanceRate'), /^\d+\.\d %$/);
      const languages = await frame.locator('table[data-group="language"] td:first-child').allTextContents();
      assert.deepEqual(languages, ['typescript']);
      // The SLO line from the setting is a series of the latency chart.
      await frame.locator('#chart-latency .u-legend').filter({ hasText: 'SLO 750 ms' }).waitFor();
      await wb.screenshot('dashboard');
    }),
  );

  await t.test('Benchmark This Machine runs on the fixture model and fills its table and chart', () =>
    wb.step('benchmark', async () => {
      await wb.runCommand('Enclave: Benchmark This Machine');
      const frame = dashboard(wb);
      const rows = frame.locator('#benchmark-table tr');
      await waitFor(async () => (await rows.count()) === 1 + 9, 240_000, 'the benchmark table');
      const labels = await frame.locator('#benchmark-table td:first-child').allTextContents();
      assert.deepEqual(labels.slice(0, 3), ['Prompt 512 tokens', 'Prompt 2048 tokens', 'Prompt 8192 tokens']);
      // The 2048-token context caps the larger prompts, and the table says so.
      const notes = await frame.locator('#benchmark-table td:last-child').allTextContents();
      assert.match(notes[2], /capped|skipped/);
      await frame.locator('#chart-benchmark canvas').first().waitFor();
      assert.equal(await frame.locator('[data-partial]').count(), 0, 'a whole run is not marked partial');
      await frame.locator('#benchmark').scrollIntoViewIfNeeded();
      await wb.screenshot('benchmark');
    }),
  );

  await t.test('Evaluate on This Repository compares no adapter with the two adapters', () =>
    wb.step('evaluate', async () => {
      await wb.runCommand('Enclave: Evaluate on This Repository');
      const frame = dashboard(wb);
      const rows = frame.locator('#evaluation-table tr');
      await waitFor(async () => (await rows.count()) === 1 + 3, 300_000, 'the evaluation table');
      const configs = await frame.locator('#evaluation-table td:first-child').allTextContents();
      assert.deepEqual(configs, ['No adapter', 'lora-a', 'lora-b']);
      const cases = await frame.locator('#evaluation-table td:nth-child(2)').allTextContents();
      assert.ok(
        cases.every((c) => Number(c) > 0 && c === cases[0]),
        `every configuration ran the same cases: ${cases.join()}`,
      );
      assert.match((await frame.locator('#evaluation-verdict').textContent()) ?? '', /No adapter|lora-a|lora-b/);
      await frame.locator('#chart-evaluation canvas').first().waitFor();
      await frame.locator('#evaluation').scrollIntoViewIfNeeded();
      await wb.screenshot('evaluation');
    }),
  );
});

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out waiting for ${what}`);
}
