import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { EngineError, type RequestOptions, type StructuredRequest } from '../../src/engine/protocol';
import { gitDiffArgs, parseUnifiedDiff, splitLines } from '../../src/review/diff';
import type { Finding } from '../../src/review/findings';
import { renderReport } from '../../src/review/report';
import { runReview, type ReviewInput, type ReviewProgress } from '../../src/review/reviewer';
import { validateReviewOutput } from '../../src/review/schema';
import { FakeBackend } from './fakes';
import { numberedLines, TempRepo } from './review-repo';

type Answer = (request: StructuredRequest, call: number, options: RequestOptions) => Promise<unknown> | unknown;

/**
 * A backend that answers each structured request with `answer` (by default, one finding on the
 * first added line the prompt shows) and records what it was asked.
 */
function reviewing(answer: Answer = firstAddedLine): FakeBackend {
  return new FakeBackend({
    info: { contextSize: 4096, sequences: 1 },
    structured: (request, options, call) => answer(request, call, options),
    stats: { promptTokens: 100, evaluatedTokens: 100, generatedTokens: 20, timeToFirstTokenMs: 5, totalMs: 200 },
  });
}

function promptOf(request: StructuredRequest): string {
  return request.messages.map((m) => m.content).join('\n');
}

function firstAddedLine(request: StructuredRequest): unknown {
  const prompt = promptOf(request);
  const file = /^File: (.*) \(/m.exec(prompt)![1];
  const line = Number(/^\+ +(\d+) \|/m.exec(prompt)![1]);
  return {
    findings: [
      { file, startLine: line, endLine: line, severity: 'warning', category: 'bug', message: `check line ${line}`, replacement: null },
    ],
  };
}

function waitForAbort(signal: AbortSignal | undefined): Promise<never> {
  return new Promise((_, reject) => {
    signal?.addEventListener('abort', () => reject(new EngineError('CANCELLED', 'cancelled')), { once: true });
  });
}

describe('runReview', () => {
  const repo = new TempRepo();
  let input: ReviewInput;
  before(() => {
    repo.write('src/a.ts', numberedLines(60, 'a'));
    repo.write('src/b.ts', numberedLines(300, 'b'));
    repo.write('yarn.lock', 'lock 1\n');
    repo.write('img.png', Buffer.from([0, 1, 2, 0, 3]));
    repo.commitAll();
    const a = splitLines(repo.read('src/a.ts'));
    a[9] = 'const a10 = null;';
    repo.write('src/a.ts', a.join('\n') + '\n');
    const b = splitLines(repo.read('src/b.ts'));
    b[19] = 'const b20 = -1;';
    b[249] = 'const b250 = -1;';
    repo.write('src/b.ts', b.join('\n') + '\n');
    repo.write('yarn.lock', 'lock 2\n');
    repo.write('img.png', Buffer.from([0, 9, 9, 0, 3]));
    input = {
      title: 'uncommitted changes',
      files: parseUnifiedDiff(repo.git(...gitDiffArgs('uncommitted'))),
      readFile: async (path) => repo.read(path),
    };
  });
  after(() => repo.dispose());

  test('reviews file by file, skips and lists binary and generated files, reports counts and speed', async () => {
    const backend = reviewing();
    const perFile: [string, readonly Finding[]][] = [];
    const progress: ReviewProgress[] = [];
    const result = await runReview(backend, input, {
      maxTokens: 256,
      contextLines: 3,
      onFileReviewed: (path, findings) => perFile.push([path, findings]),
      onProgress: (p) => progress.push(p),
    });
    assert.deepEqual(result.reviewed, ['src/a.ts', 'src/b.ts']);
    assert.deepEqual(result.skipped.map((s) => [s.path, s.reason]).sort(), [
      ['img.png', 'binary'],
      ['yarn.lock', 'generated'],
    ]);
    assert.deepEqual(
      result.findings.map((f) => [f.file, f.startLine]),
      [
        ['src/a.ts', 10],
        ['src/b.ts', 20],
      ],
    );
    assert.deepEqual(
      perFile.map(([p, f]) => [p, f.length]),
      [
        ['src/a.ts', 1],
        ['src/b.ts', 1],
      ],
    );
    assert.deepEqual(result.counts, { error: 0, warning: 2, info: 0 });
    assert.equal(result.cancelled, false);
    assert.equal(result.requests, backend.structuredRequests.length);
    assert.equal(result.generatedTokens, 20 * backend.structuredRequests.length);
    assert.ok(Math.abs(result.tokensPerSecond - 20 / 0.195) < 1e-9, '20 tokens in 195 ms of decoding');
    assert.ok(Math.abs(result.promptTokensPerSecond - 100 / 0.005) < 1e-6, '100 prompt tokens in 5 ms');
    assert.equal(result.changedLines, 3);
    assert.deepEqual(
      progress.map((p) => `${p.file} ${p.fileIndex + 1}/${p.fileCount}`),
      backend.structuredRequests.map((_, i) => (i === 0 ? 'src/a.ts 1/2' : 'src/b.ts 2/2')),
    );
    // Each request's schema pins the file and the lines it shows.
    const schema = backend.structuredRequests[0].schema as {
      properties: { findings: { items: { properties: { file: { enum: string[] }; startLine: { enum: number[] } } } } };
    };
    assert.deepEqual(schema.properties.findings.items.properties.file.enum, ['src/a.ts']);
    assert.deepEqual(schema.properties.findings.items.properties.startLine.enum, [7, 8, 9, 10, 11, 12, 13]);
    assert.equal(backend.structuredRequests[0].maxTokens, 256);
  });

  test('a finding off the change or malformed is left out and counted', async () => {
    const backend = reviewing((req, call) => {
      const good = firstAddedLine(req) as { findings: Record<string, unknown>[] };
      const f = good.findings[0];
      return {
        findings: [
          f,
          { ...f, startLine: (f.startLine as number) - 3, endLine: (f.startLine as number) - 3, message: 'far' },
          { ...f, severity: 'fatal' },
          { ...f, file: 'elsewhere.ts' },
        ].slice(0, call === 1 ? 4 : 1),
      };
    });
    const result = await runReview(
      backend,
      { ...input, files: input.files.filter((f) => f.path === 'src/a.ts') },
      { maxTokens: 256, contextLines: 3, tolerance: 1 },
    );
    assert.deepEqual(
      result.findings.map((f) => f.message),
      ['check line 10'],
    );
    assert.equal(result.dropped, 3);
  });

  test('cancelling in the middle of a file keeps only the files finished before', async () => {
    const controller = new AbortController();
    const committed: string[] = [];
    // src/b.ts needs two requests at this budget; cancel while its second one runs.
    const backend = reviewing(async (req, call, options) => {
      if (call === 3) {
        setTimeout(() => controller.abort(), 10);
        return waitForAbort(options.signal);
      }
      return firstAddedLine(req);
    });
    const result = await runReview(backend, input, {
      maxTokens: 256,
      contextLines: 3,
      budgetTokens: 60,
      signal: controller.signal,
      onFileReviewed: (path) => committed.push(path),
    });
    assert.equal(backend.structuredRequests.length, 3);
    assert.equal(result.cancelled, true);
    assert.deepEqual(committed, ['src/a.ts']);
    assert.deepEqual(result.reviewed, ['src/a.ts']);
    // The first request for src/b.ts answered, but its file never finished: nothing of it is kept.
    assert.deepEqual(
      result.findings.map((f) => f.file),
      ['src/a.ts'],
    );
    assert.deepEqual(result.counts, { error: 0, warning: 1, info: 0 });
    assert.deepEqual(result.failed, []);
  });

  test('cancelling right after an answer, before the next request, also commits nothing partial', async () => {
    const controller = new AbortController();
    const backend = reviewing((req, call) => {
      if (call === 2) controller.abort(); // answer arrives, but the user has cancelled meanwhile
      return firstAddedLine(req);
    });
    const result = await runReview(backend, input, { maxTokens: 256, contextLines: 3, budgetTokens: 60, signal: controller.signal });
    assert.equal(result.cancelled, true);
    assert.deepEqual(result.reviewed, ['src/a.ts']);
    assert.deepEqual(
      result.findings.map((f) => f.file),
      ['src/a.ts'],
    );
  });

  test('cancelled before it starts: no requests, no findings', async () => {
    const backend = reviewing();
    const result = await runReview(backend, input, { maxTokens: 256, contextLines: 3, signal: AbortSignal.abort() });
    assert.equal(backend.structuredRequests.length, 0);
    assert.equal(result.cancelled, true);
    assert.deepEqual(result.findings, []);
  });

  test('a failing request fails its file only; an engine crash stops the review', async () => {
    const flaky = reviewing((req) => {
      if (promptOf(req).includes('File: src/a.ts')) throw new EngineError('INTERNAL', 'Structured output did not parse');
      return firstAddedLine(req);
    });
    const result = await runReview(flaky, input, { maxTokens: 256, contextLines: 3 });
    assert.deepEqual(result.failed, [{ path: 'src/a.ts', error: 'Structured output did not parse' }]);
    assert.deepEqual(result.reviewed, ['src/b.ts']);

    const crashed = reviewing(() => {
      throw new EngineError('ENGINE_CRASHED', 'the engine process exited');
    });
    await assert.rejects(runReview(crashed, input, { maxTokens: 256, contextLines: 3 }), /exited/);
  });

  test('an answer that does not parse is asked for again, shorter', async () => {
    const backend = reviewing((req, call) => {
      if (call === 1) throw new EngineError('INTERNAL', 'Structured output did not parse (cut off at maxTokens 256).');
      return firstAddedLine(req);
    });
    const result = await runReview(
      backend,
      { ...input, files: input.files.filter((f) => f.path === 'src/a.ts') },
      { maxTokens: 256, contextLines: 3 },
    );
    assert.deepEqual(result.reviewed, ['src/a.ts']);
    assert.deepEqual(result.failed, []);
    assert.equal(backend.structuredRequests.length, 2);
    const maxItems = (r: (typeof backend.structuredRequests)[number]) =>
      (r.schema as { properties: { findings: { maxItems: number } } }).properties.findings.maxItems;
    assert.deepEqual(backend.structuredRequests.map(maxItems), [4, 1]);
  });

  test('then sampled instead of greedy; a third failure fails the file', async () => {
    const backend = reviewing((req, call) => {
      if (call <= 2) throw new EngineError('INTERNAL', 'Structured output did not parse');
      return firstAddedLine(req);
    });
    const result = await runReview(
      backend,
      { ...input, files: input.files.filter((f) => f.path === 'src/a.ts') },
      { maxTokens: 256, contextLines: 3 },
    );
    assert.deepEqual(result.reviewed, ['src/a.ts']);
    assert.deepEqual(
      backend.structuredRequests.map((r) => r.temperature),
      [0, 0, 0.8],
    );
    assert.equal(typeof backend.structuredRequests[2].seed, 'number', 'sampled with a fixed seed: the same review twice');
  });

  test('the markdown report summarises counts, findings by file and what was skipped', async () => {
    const backend = reviewing((req) => {
      const v = firstAddedLine(req) as { findings: Record<string, unknown>[] };
      v.findings[0] = { ...v.findings[0], severity: 'error', message: 'use *strict* <equality>', replacement: 'const x = ```y```;' };
      return v;
    });
    const result = await runReview(backend, input, { maxTokens: 256, contextLines: 3 });
    const md = renderReport(result);
    assert.match(md, /^# Enclave review: uncommitted changes/);
    assert.match(md, /2 findings \(2 errors, 0 warnings, 0 info\) in 2 files reviewed, 2 skipped\./);
    assert.match(md, /### src\/a\.ts\n\n- \*\*error\*\* \(bug\) line 10: use \\\*strict\\\* \\<equality\\>/);
    assert.match(md, / {2}````\n {2}const x = ```y```;\n {2}````/);
    assert.match(md, /- img\.png: binary/);
    assert.match(md, /- yarn\.lock: generated \(lockfile\)/);
  });

  test('what the fake answers is itself schema-valid (the tests above exercise real answers)', () => {
    const value = firstAddedLine({ messages: [{ role: 'user', content: 'File: x.ts (modified)\n+ 3 | y' }], schema: {}, maxTokens: 1 });
    assert.deepEqual(validateReviewOutput(value, { files: ['x.ts'], lines: [3] }).errors, []);
  });
});
