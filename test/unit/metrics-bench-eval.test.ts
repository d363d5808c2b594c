import assert from 'node:assert/strict';
import { test } from 'node:test';

import { fimTemplate } from '../../src/completion/templates';
import { compareRuns, runBenchmark } from '../../src/metrics/benchmark';
import { cutCases, editSimilarity, evaluate, exactMatch, verdict, type ConfigScore } from '../../src/metrics/evaluate';
import { FakeBackend, fakeStats } from './fakes';

const source = [
  'export function area(width: number, height: number): number {',
  '  const result = width * height;',
  '  return result;',
  '}',
  '',
  'export class Counter {',
  '  private count = 0;',
  '  increment(): number {',
  '    this.count += 1;',
  '    return this.count;',
  '  }',
  '}',
  '',
].join('\n');
const files = [
  { path: 'src/b.ts', text: source },
  { path: 'src/a.ts', text: source.replace(/area/g, 'surface') },
  { path: 'tiny.ts', text: 'x\n' },
];

test('cases: the same seed cuts the same cases, another seed others; every case puts the file back together', () => {
  const one = cutCases(files, { seed: 7, max: 6 });
  assert.deepEqual(cutCases([...files].reverse(), { seed: 7, max: 6 }), one, 'independent of the order files come in');
  assert.notDeepEqual(cutCases(files, { seed: 8, max: 6 }), one);
  assert.ok(one.length >= 4);
  for (const c of one) {
    const file = files.find((f) => f.path === c.path)!;
    assert.ok(file.text.includes(c.prefix.slice(-40) + c.middle + c.suffix.slice(0, 40)), `case ${c.id} (${c.kind}) is a cut of ${c.path}`);
    assert.notEqual(c.middle.trim(), '');
  }
  assert.ok(!one.some((c) => c.path === 'tiny.ts'), 'files under 3 lines give no cases');
  const kinds = new Set(one.map((c) => c.kind));
  assert.ok(kinds.has('line') && kinds.has('span'), [...kinds].join());
});

test('a block case is the body under an opening line, ending before the dedent', () => {
  const blocks = cutCases(files, { seed: 1, max: 30, perFile: 30 }).filter((c) => c.kind === 'block');
  assert.ok(blocks.length > 0);
  for (const b of blocks) {
    assert.match(b.prefix, /[{:([]\s*\n$/, 'starts after an opener');
    assert.match(b.suffix, /^\n\s*[})\]]/, 'ends before the closing line');
  }
});

test('scores: exact match ignores trailing whitespace; similarity is 1 − edit distance / length', () => {
  assert.equal(exactMatch('return x;', 'return x;  \n'), true);
  assert.equal(exactMatch('return x;', 'return y;'), false);
  assert.equal(editSimilarity('return x;', 'return y;'), 1 - 1 / 9);
  assert.equal(editSimilarity('abc', ''), 0);
  assert.equal(editSimilarity('', ''), 1);
});

test('the verdict names the better configuration and by how many points', () => {
  const score = (label: string, exact: number, similarity: number): ConfigScore => ({
    id: label,
    label,
    cases: 10,
    failed: 0,
    exactMatch: exact,
    similarity,
  });
  assert.match(verdict([score('No adapter', 0.2, 0.5), score('mine', 0.3, 0.62)]), /mine.*No adapter.*\+12\.0.*\+10\.0/);
  assert.match(verdict([score('No adapter', 0.4, 0.7), score('mine', 0.3, 0.62)]), /^No adapter/);
});

test('evaluate runs every case with every configuration, switching adapters in between', async () => {
  const switched: string[][] = [];
  const cases = cutCases(files, { seed: 3, max: 4 });
  // With the adapter the model answers each case right; without it, never.
  const backend = new FakeBackend({
    fim: (request) =>
      request.documentKey.includes(':with:') ? cases.find((c) => request.documentKey.endsWith(`:${c.id}`))!.middle : 'nope',
    setAdapters: (adapters) => (switched.push(adapters.map((a) => a.path)), { adapters, switchMs: 1, modelReloaded: false }),
  });
  const result = await evaluate(
    backend,
    cases,
    [
      { id: 'none', label: 'No adapter', adapters: [] },
      { id: 'with', label: 'with', adapters: [{ path: '/a.gguf', scale: 1 }] },
    ],
    { template: fimTemplate('qwen') },
  );
  assert.deepEqual(switched, [[], ['/a.gguf']]);
  assert.equal(backend.fimRequests.length, cases.length * 2);
  assert.equal(result.scores.length, 2);
  assert.deepEqual(
    result.scores.map((s) => [s.cases, s.exactMatch, s.similarity]),
    [
      [cases.length, 0, result.scores[0].similarity],
      [cases.length, 1, 1],
    ],
  );
  assert.ok(result.scores[0].similarity < 0.5);
  assert.ok(backend.fimRequests.every((r) => r.prompt.includes('<|fim_middle|>')));
});

test('benchmark: prompt sizes capped by the context, each request a fresh KV key, a cancel keeps what ran, marked partial', async () => {
  const controller = new AbortController();
  let calls = 0;
  const backend = new FakeBackend({
    info: { contextSize: 2048, modelName: 'Fixture', gpu: 'cpu', adapters: [] },
    countTokens: (text) => Math.ceil(text.length / 4),
    fim: (request) => {
      if (++calls === 3) controller.abort();
      return {
        text: 'x',
        stats: fakeStats({
          evaluatedTokens: Math.ceil(request.prompt.length / 4),
          generatedTokens: request.maxTokens,
          timeToFirstTokenMs: 10,
          totalMs: 10 + request.maxTokens,
        }),
      };
    },
  });
  const progress: string[] = [];
  const run = await runBenchmark(backend, {
    enclaveVersion: '0.1.0',
    signal: controller.signal,
    onProgress: (_d, _t, label) => progress.push(label),
  });
  assert.equal(run.partial, true);
  assert.deepEqual(
    run.cases.map((c) => c.id),
    ['prompt-512', 'prompt-2048', 'prompt-8192'],
  );
  assert.ok(run.cases[1].promptTokens! < 2048 && run.cases[1].note, 'capped, and says so');
  assert.ok(run.notes.some((n) => /context/.test(n)));
  assert.equal(new Set(backend.fimRequests.map((r) => r.documentKey)).size, backend.fimRequests.length);
  assert.equal(progress.length, 3);
});

test('benchmark: a whole run measures every case; the next run is compared case by case', async () => {
  const backend = new FakeBackend({
    info: { contextSize: 16384, modelName: 'Fixture', gpu: 'cpu', adapters: [] },
    fim: (request) => ({
      text: 'x',
      stats: fakeStats({
        generatedTokens: request.maxTokens,
        timeToFirstTokenMs: 10,
        totalMs: 10 + request.maxTokens,
        draft: request.speculative === 'auto' ? { accepted: 5, rejected: 1, rounds: 2 } : undefined,
      }),
    }),
    chat: () => 'a clamp keeps a value in a range',
  });
  const first = await runBenchmark(backend, { enclaveVersion: '0.1.0' });
  assert.equal(first.partial, false);
  assert.deepEqual(
    first.cases.map((c) => c.id),
    [
      'prompt-512',
      'prompt-2048',
      'prompt-8192',
      'decode',
      'concurrent-1',
      'concurrent-2',
      'concurrent-4',
      'speculative-off',
      'speculative-auto',
    ],
  );
  assert.equal(backend.chatRequests.length, 2, 'a chat beside the completions at 2 and 4');
  assert.equal(first.cases.find((c) => c.id === 'speculative-auto')?.draftAccepted, 5);
  const second = {
    ...first,
    cases: first.cases.map((c) => (c.id === 'decode' ? { ...c, decodeTokensPerSecond: c.decodeTokensPerSecond! * 2 } : c)),
  };
  const compared = compareRuns(second, first);
  assert.equal(compared.find((c) => c.id === 'decode')?.ratio, 2);
  assert.equal(compared.find((c) => c.id === 'prompt-512')?.ratio, 1);
  assert.equal(compareRuns(first, undefined)[0].previous, undefined);
});
