import assert from 'node:assert/strict';
import { test } from 'node:test';

import { buildPrompt, CharsPerTokenEstimator, selectFiles } from '../../src/completion/prompt';
import { fimTemplate } from '../../src/completion/templates';

const qwen = fimTemplate('qwen');
// One token per character makes budgets easy to reason about.
const perChar = { estimate: (text: string) => text.length };

const source = [
  "import { readFile } from 'node:fs/promises';",
  '',
  'export async function loadConfig(path: string) {',
  "  const text = await readFile(path, 'utf8');",
  '  return JSON.parse(text);',
  '}',
  '',
].join('\n');

function doc(text: string, offset: number, files: { path: string; text: string }[] = []) {
  return { text, offset, languageId: 'typescript', path: 'src/config.ts', repoName: 'app', files };
}

test('the whole file fits: prefix lines, the cursor line after <|fim_middle|>, the suffix', () => {
  const offset = source.indexOf('JSON.parse');
  const built = buildPrompt(qwen, doc(source, offset), { contextTokens: 4000, extraTokens: 0 }, perChar);
  assert.equal(built.linePrefix, '  return ');
  assert.equal(built.lineSuffix, 'JSON.parse(text);');
  assert.equal(built.prefix, source.slice(0, source.indexOf('  return')));
  assert.equal(built.suffix, source.slice(offset));
  assert.equal(built.windowStartLine, 0);
  assert.ok(built.prompt.endsWith('<|fim_middle|>  return '));
});

test('the prefix window is cut at a line boundary on a multiple of stepLines', () => {
  const lines = Array.from({ length: 100 }, (_, i) => `line${String(i).padStart(3, '0')}`); // 7 chars + \n
  const text = lines.join('\n');
  const offset = text.indexOf('line090');
  // 200 prefix tokens → 25 whole lines fit (65..89); the start snaps forward to line 72.
  const built = buildPrompt(qwen, doc(text, offset), { contextTokens: 400, extraTokens: 0, prefixShare: 0.5, stepLines: 8 }, perChar);
  assert.equal(built.windowStartLine, 72);
  assert.ok(built.prefix.startsWith('line072\n'));
  assert.ok(built.prefix.endsWith('line089\n'));
});

test('typing along a line and adding lines leaves the start of the prompt where it was', () => {
  const lines = Array.from({ length: 100 }, (_, i) => `line${String(i).padStart(3, '0')}`);
  let text = lines.join('\n') + '\n';
  const budget = { contextTokens: 400, extraTokens: 0, prefixShare: 0.5, stepLines: 16 };
  const first = buildPrompt(qwen, doc(text, text.length), budget, perChar);
  const starts = new Set<number>();
  for (const ch of 'const x = 1;\nconst y = 2;\n') {
    text += ch;
    const built = buildPrompt(qwen, doc(text, text.length), budget, perChar);
    starts.add(built.windowStartLine);
    if (ch !== '\n') {
      // Within a line only the end of the prompt changes.
      assert.ok(built.prompt.startsWith(first.prompt.slice(0, first.prompt.indexOf('<|fim_suffix|>'))));
    }
  }
  assert.equal(starts.size, 1, `window start moved: ${[...starts]}`);
});

test('the suffix window keeps whole lines within its budget', () => {
  const lines = Array.from({ length: 50 }, (_, i) => `row${String(i).padStart(2, '0')}`); // 5 chars + \n
  const text = lines.join('\n');
  const offset = text.indexOf('row10');
  const built = buildPrompt(qwen, doc(text, offset), { contextTokens: 100, extraTokens: 0, prefixShare: 0.8 }, perChar);
  // 20 suffix tokens: "row10" (5) then "\nrow11", "\nrow12" (6 each) fit, the next does not.
  assert.equal(built.suffix, 'row10\nrow11\nrow12\n');
});

test('extra files come first, in ring order, within their budget', () => {
  const files = [
    { path: 'a.ts', text: 'a'.repeat(50) },
    { path: 'b.ts', text: 'b'.repeat(50) },
    { path: 'c.ts', text: 'c'.repeat(50) },
  ];
  // Room for two: the newest two (b, c), still in ring order.
  assert.deepEqual(selectFiles(files, 120, perChar).map((f) => f.path), ['b.ts', 'c.ts']);
  const built = buildPrompt(qwen, doc(source, 10, files), { contextTokens: 4000, extraTokens: 120 }, perChar);
  assert.ok(built.prompt.startsWith('<|repo_name|>app\n<|file_sep|>b.ts\n'));
  assert.ok(built.prompt.indexOf('c.ts') < built.prompt.indexOf('<|file_sep|>src/config.ts'));
  assert.equal(buildPrompt(qwen, doc(source, 10, files), { contextTokens: 4000, extraTokens: 0 }, perChar).files.length, 0);
});

test('the chars-per-token estimate calibrates slowly toward measured prompts', () => {
  const estimator = new CharsPerTokenEstimator(4);
  assert.equal(estimator.estimate('x'.repeat(40)), 10);
  estimator.calibrate(2000, 1000); // measured 2 chars/token
  assert.ok(estimator.ratio < 4 && estimator.ratio > 3, `ratio ${estimator.ratio}`);
  estimator.calibrate(10, 100); // too small a sample: ignored
  const before = estimator.ratio;
  estimator.calibrate(50, 1);
  assert.equal(estimator.ratio, before);
});

test('cursor at the very start and very end of a document', () => {
  const start = buildPrompt(qwen, doc(source, 0), { contextTokens: 4000, extraTokens: 0 }, perChar);
  assert.equal(start.prefix + start.linePrefix, '');
  assert.equal(start.suffix, source);
  const end = buildPrompt(qwen, doc(source, source.length), { contextTokens: 4000, extraTokens: 0 }, perChar);
  assert.equal(end.prefix, source);
  assert.equal(end.suffix, '');
});
