import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { buildPrompt, detectFormat, hunkDiff, promptText, type NextEditFormatName, type PromptInput } from '../../src/nextEdit/formats';
import type { EditHunk } from '../../src/nextEdit/history';

const formats: NextEditFormatName[] = ['zeta', 'instinct', 'sweep', 'instruct'];

const hunk = (n: number, oldText: string, newText: string): EditHunk => ({
  uri: `file:///work/src/f${n}.ts`,
  languageId: 'typescript',
  startLine: n,
  oldText,
  newText,
  offset: 0,
  at: n,
});

function input(history: EditHunk[], cursor = 9): PromptInput {
  return {
    path: 'src/main.ts',
    languageId: 'typescript',
    region: { startLine: 10, text: 'function total(items) {\n  let sum = 0;\n  return sum;\n}' },
    cursor,
    before: 'import { x } from "./x";',
    after: 'export default total;',
    startOfFile: true,
    history,
    pathOf: (uri) => uri.replace('file:///work/', ''),
  };
}

/** What a model that copies the region (cursor marker included where the format shows one) writes. */
function copyingModelOutput(format: NextEditFormatName, prompt: string, region: string, stop: string[]): string {
  const marker = { zeta: '<|user_cursor_is_here|>', instinct: '', sweep: '<|cursor|>', instruct: '' }[format];
  const text = marker ? region.slice(0, 9) + marker + region.slice(9) : region;
  assert.ok(prompt.length > 0);
  return text + '\n' + stop[0];
}

describe('next-edit prompt formats', () => {
  for (const format of formats) {
    test(`${format}: the region and cursor are in the prompt, history oldest first, the rewrite parses back`, () => {
      const history = [hunk(1, 'let a = 1;', 'let alpha = 1;'), hunk(2, 'use(a);', 'use(alpha);')];
      const built = buildPrompt(format, input(history));
      const p = promptText(built);
      assert.ok(p.includes('let sum = 0;'), 'region text in the prompt');
      assert.ok(/<\|user_cursor_is_here\|>|<\|cursor\|>/.test(p), 'a cursor marker');
      assert.ok(p.indexOf('let alpha = 1;') < p.indexOf('use(alpha);'), 'oldest edit first');
      assert.ok(p.indexOf('use(alpha);') < p.lastIndexOf('let sum = 0;'), 'history before the region');
      const region = input(history).region.text;
      let parsed;
      if (built.kind === 'raw') {
        const output = copyingModelOutput(format, p, region, built.stop);
        parsed = built.parse(output.slice(0, output.indexOf(built.stop[0]))); // the engine stops before the stop text
      } else {
        parsed = built.parse({ region });
      }
      assert.ok(parsed, 'parses');
      assert.equal(parsed.text, region);
      if (format === 'zeta' || format === 'sweep') assert.equal(parsed.cursor, 9);
    });

    test(`${format}: a new edit changes only the prompt's tail (the engine reuses the rest)`, () => {
      const older = [hunk(1, 'let a = 1;', 'let alpha = 1;')];
      const first = promptText(buildPrompt(format, input(older)));
      const second = promptText(buildPrompt(format, input([...older, hunk(2, 'use(a);', 'use(alpha);')])));
      let common = 0;
      while (common < first.length && first[common] === second[common]) common++;
      assert.ok(first.indexOf('let alpha = 1;') < common, 'the older hunk is inside the shared prefix');
    });
  }

  test('zeta: the prompt ends inside the response, right after the region start marker (prefill)', () => {
    const p = promptText(buildPrompt('zeta', input([])));
    assert.ok(p.endsWith('<|editable_region_start|>\n'));
    assert.ok(p.includes('### Response:\n```src/main.ts\n<|start_of_file|>\n'));
  });

  test('sweep: original / current / updated windows, the original without the latest edit', () => {
    const latest: EditHunk = { ...hunk(11, '  let s = 0;', '  let sum = 0;'), uri: 'file:///work/src/main.ts' };
    const p = promptText(buildPrompt('sweep', input([latest])));
    const original = p.slice(p.indexOf('<|file_sep|>original/src/main.ts:11:14'), p.indexOf('<|file_sep|>current/'));
    assert.ok(original.includes('  let s = 0;') && !original.includes('let sum'));
    assert.ok(p.endsWith('<|file_sep|>updated/src/main.ts:11:14\n'));
  });

  test('output that is the next section or a repetition of the prompt is rejected', () => {
    const zeta = buildPrompt('zeta', input([]));
    const instinct = buildPrompt('instinct', input([]));
    assert.ok(zeta.kind === 'raw' && instinct.kind === 'raw');
    assert.equal(zeta.parse('<|editable_region_start|>\nfoo'), undefined);
    assert.equal(instinct.parse('x\n<|editable_region_end|>'), undefined);
  });

  test('instruct: chat messages under a JSON schema; only a JSON object with the region as a string parses', () => {
    const built = buildPrompt('instruct', input([]));
    assert.equal(built.kind, 'structured');
    if (built.kind !== 'structured') return;
    assert.deepEqual(
      built.messages.map((m) => m.role),
      ['system', 'user'],
    );
    const schema = built.schema as { required: string[]; properties: { region: { type: string; maxLength: number } } };
    assert.deepEqual(schema.required, ['region']);
    assert.equal(schema.properties.region.type, 'string');
    assert.ok(schema.properties.region.maxLength > input([]).region.text.length, 'room for a longer rewrite');
    assert.deepEqual(built.parse({ region: 'let a = 1;\r\n' }), { text: 'let a = 1;' });
    assert.deepEqual(built.parse({ region: 'let a<|user_cursor_is_here|> = 1;' }), { text: 'let a = 1;', cursor: 5 });
    for (const bad of [undefined, null, 'let a = 1;', ['x'], { region: 3 }, { text: 'x' }, { region: '<|editable_region_start|>\nx' }])
      assert.equal(built.parse(bad), undefined, JSON.stringify(bad));
  });

  test('related excerpts go into the slot of the formats that have one, before the edit history', () => {
    const related = [{ path: 'src/types.ts', text: 'export interface Item { price: number }' }];
    const history = [hunk(1, 'let a = 1;', 'let alpha = 1;')];
    for (const format of ['instinct', 'sweep', 'instruct'] as const) {
      const p = promptText(buildPrompt(format, { ...input(history), related }));
      assert.ok(p.includes('export interface Item'), `${format}: excerpt in the prompt`);
      assert.ok(p.indexOf('export interface Item') < p.indexOf('let alpha = 1;'), `${format}: before the edits (stable part first)`);
    }
  });

  test('instinct: a fenced answer is unwrapped', () => {
    const built = buildPrompt('instinct', input([]));
    assert.ok(built.kind === 'raw');
    assert.deepEqual(built.parse('```ts\nconst a = 1;\n```'), { text: 'const a = 1;' });
  });

  test('hunkDiff writes a unified-diff hunk of whole lines', () => {
    assert.equal(hunkDiff(hunk(4, 'a\nb', 'a\nc\r\nd')), '@@ -5,2 +5,3 @@\n-a\n-b\n+a\n+c\n+d');
  });
});

describe('detectFormat', () => {
  test('from model names and file names', () => {
    assert.equal(detectFormat(['zeta', 'zeta-q8_0.gguf']), 'zeta');
    assert.equal(detectFormat(['Zed Industries Zeta']), 'zeta');
    assert.equal(detectFormat(['Instinct', 'instinct-Q4_K_M.gguf']), 'instinct');
    assert.equal(detectFormat(['Sweep Next Edit 1.5B', 'sweep-next-edit-1.5b.q8_0.gguf']), 'sweep');
    assert.equal(detectFormat(['', 'sweep-next-edit-v2-7B-Q4_K_M.gguf']), 'sweep');
    assert.equal(detectFormat(['Qwen2.5 Coder 1.5B Instruct', 'qwen2.5-coder-1.5b-instruct-q8_0.gguf']), 'instruct');
    assert.equal(detectFormat(['Enclave test model']), 'instruct');
  });

  test("from the GGUF's other metadata and special tokens", () => {
    assert.equal(detectFormat(['my-finetune', 'model.gguf', 'zed-industries/zeta']), 'zeta', 'repository');
    assert.equal(detectFormat(['Model', 'm.gguf', 'Instinct', 'Qwen2.5 Coder 7B']), 'instinct', 'basename');
    assert.equal(detectFormat(['Model', 'm.gguf', '<|im_start|>', '<|editable_region_start|>']), 'zeta', 'region markers as tokens');
    assert.equal(detectFormat(['Model', 'm.gguf', '<|im_start|>', '<|fim_prefix|>', '<|file_sep|>']), 'instruct', "Qwen's own tokens");
  });
});
