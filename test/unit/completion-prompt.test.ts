import assert from 'node:assert/strict';
import { test } from 'node:test';

import { buildPrompt, CharsPerTokenEstimator, maxAnchoredLines, selectFiles } from '../../src/completion/prompt';
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
  assert.deepEqual(
    selectFiles(files, 120, perChar).map((f) => f.path),
    ['b.ts', 'c.ts'],
  );
  const built = buildPrompt(qwen, doc(source, 10, files), { contextTokens: 4000, extraTokens: 120 }, perChar);
  assert.ok(built.prompt.startsWith('<|repo_name|>app\n<|file_sep|>b.ts\n'));
  assert.ok(built.prompt.indexOf('c.ts') < built.prompt.indexOf('<|file_sep|>src/config.ts'));
  assert.equal(buildPrompt(qwen, doc(source, 10, files), { contextTokens: 4000, extraTokens: 0 }, perChar).files.length, 0);
});

test('the chars-per-token estimate takes the first measurement, then calibrates slowly', () => {
  const estimator = new CharsPerTokenEstimator(4);
  assert.equal(estimator.estimate('x'.repeat(40)), 10);
  estimator.calibrate(2000, 1000); // measured 2 chars/token
  assert.equal(estimator.ratio, 2);
  estimator.calibrate(3000, 1000); // measured 3 chars/token
  assert.ok(estimator.ratio > 2 && estimator.ratio < 2.5, `ratio ${estimator.ratio}`);
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

// A document long enough that both windows are cut by the budget: the cursor sits mid-file.
const longSource = Array.from({ length: 400 }, (_, i) => `  const value${i} = compute(${i}, options.scale * ${i % 7});`).join('\n');

/** The estimator as it was: an average that converges from the default over many calls. */
class AveragingEstimator {
  ratio = 3.2;
  estimate(text: string) {
    return Math.ceil(text.length / this.ratio);
  }
  calibrate(chars: number, tokens: number) {
    this.ratio = this.ratio * 0.8 + (chars / tokens) * 0.2;
  }
}

test('calibration over a typing sequence does not move the windows of a document', () => {
  const budget = { contextTokens: 1536, extraTokens: 0 };
  const typed = 'if (value10 > 3) {\n    return value11;\n  }\n  ';
  const at = longSource.indexOf('  const value250');
  const run = (estimator: AveragingEstimator | CharsPerTokenEstimator, hinted: boolean) => {
    let hint: { startLine: number; suffixLines: number } | undefined;
    const starts: number[] = [];
    const suffixes: number[] = [];
    for (let n = 0; n <= typed.length; n++) {
      const text = longSource.slice(0, at) + typed.slice(0, n) + longSource.slice(at);
      const built = buildPrompt(qwen, doc(text, at + n), budget, estimator, hinted ? hint : undefined);
      hint = { startLine: built.windowStartLine, suffixLines: built.suffixLines };
      starts.push(built.windowStartLine);
      suffixes.push(built.suffixLines);
      // The engine counts 2.9 characters per token where the default assumes 3.2.
      estimator.calibrate(built.prompt.length, Math.round(built.prompt.length / 2.9));
    }
    // Moves after the second prompt (the first one was sized before any measurement).
    const moves = (values: number[]) => values.filter((v, i) => i > 1 && v !== values[i - 1]).length;
    return { prefixMoves: moves(starts), suffixMoves: moves(suffixes), starts, suffixes, ratio: estimator.ratio };
  };
  const averaging = run(new AveragingEstimator(), false);
  assert.ok(averaging.ratio < 3, 'the average converged');
  assert.ok(
    averaging.prefixMoves + averaging.suffixMoves > 0,
    `${averaging.starts.join(',')} / ${averaging.suffixes.join(',')}: without a hint the converging average moves the windows (the test can fail)`,
  );
  for (const [name, estimator] of [
    ['averaging', new AveragingEstimator()],
    ['shipped', new CharsPerTokenEstimator()],
  ] as const) {
    const kept = run(estimator, true);
    assert.equal(kept.prefixMoves, 0, `${name}: prefix window start moved: ${kept.starts.join(', ')}`);
    // The lines after the cursor's line stay the same lines while the user types above them.
    assert.equal(kept.suffixMoves, 0, `${name}: suffix window moved: ${kept.suffixes.join(', ')}`);
  }
});

test('a previous window is dropped when it no longer fits the budget, or fills too little of it', () => {
  const offset = longSource.indexOf('  const value250');
  const estimator = { estimate: (t: string) => Math.ceil(t.length / 3) };
  const budget = { contextTokens: 1600, extraTokens: 0 };
  const fresh = buildPrompt(qwen, doc(longSource, offset), budget, estimator);
  // Too far back: more than the budget.
  const far = buildPrompt(qwen, doc(longSource, offset), budget, estimator, { startLine: 0, suffixLines: 1000 });
  assert.equal(far.windowStartLine, fresh.windowStartLine);
  assert.equal(far.suffixLines, fresh.suffixLines);
  // Too close: a few lines of the budget.
  const near = buildPrompt(qwen, doc(longSource, offset), budget, estimator, { startLine: 248, suffixLines: 2 });
  assert.equal(near.windowStartLine, fresh.windowStartLine);
  assert.equal(near.suffixLines, fresh.suffixLines);
  // Within the band: kept even though the fresh window would start elsewhere.
  const within = buildPrompt(qwen, doc(longSource, offset), budget, estimator, {
    startLine: fresh.windowStartLine + 3,
    suffixLines: fresh.suffixLines - 2,
  });
  assert.equal(within.windowStartLine, fresh.windowStartLine + 3);
  assert.equal(within.suffixLines, fresh.suffixLines - 2);
  assert.ok(within.estimatedTokens <= 1600 * 1.15);
  // A window above the cursor's line is not a prefix window any more.
  const below = buildPrompt(qwen, doc(longSource, offset), budget, estimator, { startLine: 300, suffixLines: fresh.suffixLines });
  assert.equal(below.windowStartLine, fresh.windowStartLine);
});

test('lines typed since the anchor stay after <|fim_middle|>: typing, Enter included, only appends to the prompt', () => {
  const budget = { contextTokens: 1536, extraTokens: 0 };
  const estimator = { estimate: (t: string) => Math.ceil(t.length / 3) };
  const at = longSource.indexOf('  const value250');
  const typed = 'if (value10 > 3) {\n    return value11;\n  }\n  ';
  const run = (hinted: boolean) => {
    let hint: { startLine: number; suffixLines: number; anchorLine?: number } | undefined;
    const prompts: string[] = [];
    for (let n = 0; n <= typed.length; n++) {
      const text = longSource.slice(0, at) + typed.slice(0, n) + longSource.slice(at);
      const built = buildPrompt(qwen, doc(text, at + n), budget, estimator, hinted ? hint : undefined);
      hint = { startLine: built.windowStartLine, suffixLines: built.suffixLines, anchorLine: built.anchorLine };
      prompts.push(built.prompt);
    }
    return prompts;
  };
  const appends = (prompts: string[]) => prompts.every((p, i) => i === 0 || p.startsWith(prompts[i - 1]));
  const anchored = run(true);
  assert.ok(appends(anchored), 'every prompt extends the previous one');
  assert.ok(anchored.at(-1)!.endsWith('<|fim_middle|>' + typed));
  // Without a previous anchor the finished line moves before <|fim_suffix|>: not an append.
  assert.ok(!appends(run(false)));
});

test('the anchor moves to the cursor line after maxAnchoredLines lines or when the cursor leaves', () => {
  const budget = { contextTokens: 1536, extraTokens: 0 };
  const estimator = { estimate: (t: string) => Math.ceil(t.length / 3) };
  const at = longSource.indexOf('  const value250');
  const cursorLine = 250;
  const typedLines = 'x = 1;\n'.repeat(maxAnchoredLines);
  const text = longSource.slice(0, at) + typedLines + longSource.slice(at);
  const hint = (anchorLine: number) => ({ startLine: cursorLine - 100, suffixLines: 20, anchorLine });
  const kept = buildPrompt(qwen, doc(text, at + 'x = 1;\n'.length * (maxAnchoredLines - 1)), budget, estimator, hint(cursorLine));
  assert.equal(kept.anchorLine, cursorLine);
  assert.ok(kept.prompt.endsWith('<|fim_middle|>' + 'x = 1;\n'.repeat(maxAnchoredLines - 1)));
  const full = buildPrompt(qwen, doc(text, at + typedLines.length), budget, estimator, hint(cursorLine));
  assert.equal(full.anchorLine, cursorLine + maxAnchoredLines);
  assert.ok(full.prompt.endsWith('<|fim_middle|>'));
  const above = buildPrompt(qwen, doc(text, longSource.indexOf('  const value240')), budget, estimator, hint(cursorLine));
  assert.equal(above.anchorLine, 240);
});
