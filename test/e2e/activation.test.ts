// Enclave in the real workbench: activation, its activity-bar container and chat view, its
// commands in the palette, its log channel. Relies only on the extension's contributions.
import * as assert from 'node:assert/strict';
import { test } from 'node:test';

import { extensionId, launch } from './harness';

test('Enclave activates in code-server and shows its contributions', async (t) => {
  const wb = await launch({ name: 'activation' });
  t.after(() => wb.close());
  await wb.screenshot('activated');
  assert.match(wb.exthostLog(), new RegExp(`_doActivateExtension ${extensionId.replace('.', '\\.')}`));
  assert.doesNotMatch(wb.exthostLog(), new RegExp(`Activating extension '${extensionId}' failed`, 'i'));

  await t.test('the activity bar has the Enclave container with the chat view', () =>
    wb.step('chat-view', async () => {
      const item = wb.page.locator('.activitybar .action-label[aria-label^="Enclave"]');
      await item.waitFor({ timeout: 30_000 });
      await item.click();
      // A container with one view shows "<container>: <view>" as the side bar's title.
      await wb.page
        .locator('.part.sidebar .composite.title')
        .filter({ hasText: /Enclave/i })
        .filter({ hasText: /Chat/i })
        .waitFor({ timeout: 30_000 });
      // The view's webview: VS Code's outer iframe for this extension, then its content frame.
      await wb.chatFrame().locator('body').waitFor({ state: 'attached', timeout: 30_000 });
      await wb.screenshot('chat-view');
    }),
  );

  await t.test('the palette lists Enclave commands', async () => {
    for (const title of [
      'Enclave: Show Log',
      'Enclave: New Chat',
      'Enclave: Review Uncommitted Changes',
      'Enclave: Toggle Inline Completions',
    ]) {
      const labels = await wb.paletteEntries(title);
      assert.ok(labels.includes(title), `"${title}" not in the palette: ${labels.join(' | ')}`);
    }
    await wb.page.keyboard.press('F1');
    await wb.page.locator('.quick-input-widget input').fill('>Enclave:');
    await wb.page.locator('.quick-input-list .monaco-list-row').first().waitFor();
    await wb.screenshot('palette');
    await wb.press('Escape');
  });

  await t.test('"Enclave: Show Log" shows the Enclave log channel', () =>
    wb.step('log-channel', async () => {
      await wb.runCommand('Enclave: Show Log');
      // Monaco renders spaces as U+00A0, which \s matches.
      await wb.page
        .locator('.part.panel .view-lines')
        .filter({ hasText: /activated\s+in/ })
        .first()
        .waitFor({ timeout: 30_000 });
      const channel = await wb.page
        .locator('.part.panel select[aria-label="Switch Output"]')
        .first()
        .evaluate((select) => (select as HTMLSelectElement).selectedOptions[0]?.textContent);
      assert.equal(channel, 'Enclave');
      await wb.screenshot('log-channel');
      assert.match(wb.enclaveLog(), /\[main\] activated in [\d.]+ ms/);
    }),
  );
});
