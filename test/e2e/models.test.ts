// Models and adapters in the real workbench: the walkthrough opens; picking the local fixture model
// makes the engine load it; switching the workspace's LoRA adapter changes the adapter shown in
// the status bar and the one the engine reports, without reloading the model.
import * as assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { fixturePaths, launch, makeWorkspace, type Workbench } from './harness';

/** Runs "Enclave: Show Model Info" and returns the modal's text (the engine's own report). */
async function modelInfo(wb: Workbench): Promise<string> {
  await wb.runCommand('Enclave: Show Model Info');
  const dialog = wb.page.locator('.monaco-dialog-box');
  await dialog.filter({ hasText: 'Adapters:' }).waitFor({ timeout: 120_000 });
  const text = (await dialog.innerText()).replace(/\u00a0/g, ' ');
  await wb.press('Escape');
  await dialog.waitFor({ state: 'hidden', timeout: 10_000 });
  return text;
}

async function selectAdapter(wb: Workbench, name: string): Promise<void> {
  await wb.runCommand('Enclave: Select LoRA Adapter for This Workspace');
  const row = wb.page.locator('.quick-input-list .monaco-list-row').filter({ hasText: name }).first();
  await row.waitFor({ timeout: 30_000 });
  await row.click();
  // The scale input box: accept the default 1.
  const input = wb.page.locator('.quick-input-widget input');
  await wb.page
    .locator('.quick-input-widget')
    .filter({ hasText: `Scale for ${name}` })
    .waitFor({ timeout: 10_000 });
  await input.press('Enter');
}

test('models and adapters in code-server', async (t) => {
  const fixtures = await fixturePaths();
  const workspace = makeWorkspace();
  mkdirSync(join(workspace, '.enclave', 'adapters'), { recursive: true });
  copyFileSync(fixtures.loraA, join(workspace, '.enclave', 'adapters', 'lora-a.gguf'));
  copyFileSync(fixtures.loraB, join(workspace, '.enclave', 'adapters', 'lora-b.gguf'));
  copyFileSync(fixtures.loraMismatch, join(workspace, '.enclave', 'adapters', 'lora-mismatch.gguf'));
  const wb = await launch({ name: 'models', workspace, settings: { 'enclave.engine.threads': 1, 'enclave.engine.batchSize': 128 } });
  t.after(() => wb.close());

  await t.test('the walkthrough opens with its steps', () =>
    wb.step('walkthrough', async () => {
      await wb.runCommand('Welcome: Open Walkthrough...');
      const row = wb.page.locator('.quick-input-list .monaco-list-row').filter({ hasText: 'Set up Enclave' }).first();
      await row.waitFor({ timeout: 30_000 });
      await row.click();
      const page = wb.page.locator('.part.editor');
      await page.getByText('Measure this machine').first().waitFor({ timeout: 30_000 });
      await page.getByText('Choose the completion model').first().waitFor();
      await wb.screenshot('walkthrough');
      // Its first step measures this machine in a node-llama-cpp child process and recommends a model.
      await page.locator('.monaco-button').filter({ hasText: 'Measure This Machine' }).first().click();
      await wb.waitForLog(/\[models\] machine: .*\d+ GB RAM, \d+ cores/, 60_000);
      await wb.waitForLog(/\[models\] recommended: (0\.5|1\.5|3|7|14|32)B (Q4_K_M|Q5_K_M|Q8_0): /, 10_000);
      await wb.page.locator('.notifications-toasts').filter({ hasText: 'Recommended:' }).first().waitFor({ timeout: 30_000 });
      await wb.screenshot('measured');
    }),
  );

  await t.test('picking the local fixture model makes the engine load it', () =>
    wb.step('pick-model', async () => {
      await wb.runCommand('Enclave: Use a Local Model File (GGUF)');
      // code-server's simple file dialog: a quick input holding a path.
      const input = wb.page.locator('.quick-input-widget input');
      await input.waitFor({ state: 'visible' });
      await input.fill(fixtures.model);
      // Let the dialog list the folder before accepting the file it names.
      await wb.page.locator('.quick-input-list .monaco-list-row').filter({ hasText: 'model.gguf' }).first().waitFor({ timeout: 30_000 });
      await wb.page.locator('.quick-input-widget .monaco-button').filter({ hasText: 'OK' }).click();
      await input.waitFor({ state: 'hidden', timeout: 30_000 });
      const recorded = await wb.waitForLog(
        /\[models\]\s+completion: model\.gguf \(sha256 ([0-9a-f]{12})…, from local file, added \d{4}-\d\d-\d\d\) (\S+)/,
        60_000,
      );
      assert.equal(recorded[2], fixtures.model);
      const info = await modelInfo(wb);
      assert.match(info, new RegExp(`File: ${fixtures.model.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
      assert.match(info, /Adapters: none/);
      await wb.screenshot('model-loaded');
    }),
  );

  await t.test('a second model goes into the experimental profile; rollback returns to the stable one', () =>
    wb.step('profiles', async () => {
      await wb.runCommand('Enclave: Use a Local Model File (GGUF)');
      const input = wb.page.locator('.quick-input-widget input');
      await input.waitFor({ state: 'visible' });
      await input.fill(fixtures.draft);
      await wb.page.locator('.quick-input-list .monaco-list-row').filter({ hasText: 'draft.gguf' }).first().waitFor({ timeout: 30_000 });
      await wb.page.locator('.quick-input-widget .monaco-button').filter({ hasText: 'OK' }).click();
      const experimental = wb.page.locator('.quick-input-list .monaco-list-row').filter({ hasText: 'Experimental' }).first();
      await experimental.waitFor({ timeout: 60_000 });
      await wb.screenshot('profile-choice');
      await experimental.click();
      await wb.waitForLog(/\[models\] completion model set to draft\.gguf: experimental profile active/, 60_000);

      await wb.runCommand('Enclave: Roll Back to the Stable Model');
      await wb.waitForLog(/\[models\] rolled back: stable profile active\n.*\[models\]\s+completion: model\.gguf /, 30_000);
      await wb.screenshot('rolled-back');
    }),
  );

  await t.test('switching the adapter changes the status bar and the engine report without a reload', () =>
    wb.step('adapters', async () => {
      const before = await modelInfo(wb);
      const loaded = before.match(/Loaded in (\d+) ms/)?.[1];
      assert.ok(loaded, before);

      await selectAdapter(wb, 'lora-a');
      await wb.page.locator('.statusbar-item').filter({ hasText: 'lora-a' }).first().waitFor({ timeout: 30_000 });
      await wb.waitForLog(/\[adapters\] selected \S*lora-a\.gguf: adapters \S*lora-a\.gguf ×1 in \d+ ms, model not reloaded/, 60_000);
      const withA = await modelInfo(wb);
      assert.match(withA, /Adapters: \S*lora-a\.gguf ×1/);
      assert.equal(withA.match(/Loaded in (\d+) ms/)?.[1], loaded, 'the model was not reloaded');
      await wb.screenshot('adapter-a');

      await selectAdapter(wb, 'lora-b');
      await wb.page.locator('.statusbar-item').filter({ hasText: 'lora-b' }).first().waitFor({ timeout: 30_000 });
      await wb.waitForLog(/\[adapters\] selected \S*lora-b\.gguf: adapters \S*lora-b\.gguf ×1 in \d+ ms, model not reloaded/, 60_000);
      const withB = await modelInfo(wb);
      assert.match(withB, /Adapters: \S*lora-b\.gguf ×1/);
      assert.equal(withB.match(/Loaded in (\d+) ms/)?.[1], loaded, 'the model was not reloaded');
      await wb.screenshot('adapter-b');
    }),
  );

  await t.test('a mismatched adapter is listed with the reason and not applied', () =>
    wb.step('adapter-mismatch', async () => {
      await wb.runCommand('Enclave: Select LoRA Adapter for This Workspace');
      const row = wb.page.locator('.quick-input-list .monaco-list-row').filter({ hasText: 'lora-mismatch' }).first();
      await row.waitFor({ timeout: 30_000 });
      assert.match(await row.innerText(), /does not fit model\.gguf/);
      await wb.screenshot('adapter-mismatch-listed');
      await wb.press('Escape');
      await wb.page.locator('.statusbar-item').filter({ hasText: 'lora-b' }).first().waitFor({ timeout: 10_000 });
    }),
  );
});
