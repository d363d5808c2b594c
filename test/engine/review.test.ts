// A structured review of a real git diff on the fixture model, through the real engine process.
// The model has random weights, so what it says is noise; the mechanics are checked: every answer
// matches its request's schema, every finding cites lines that exist, lie on the change and show
// the code the prompt showed, and a cancelled review keeps only whole files.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { EngineClient } from '../../src/engine/client';
import type { Backend, RequestOptions, StructuredRequest, StructuredResult } from '../../src/engine/protocol';
import { nullLogger } from '../../src/logger';
import { changedLines, gitDiffArgs, parseUnifiedDiff, splitLines } from '../../src/review/diff';
import { runReview, type ReviewInput } from '../../src/review/reviewer';
import { validateReviewOutput } from '../../src/review/schema';
import { numberedLines, TempRepo } from '../unit/review-repo';
import { buildBundles, fixtures, settingsFor, workerPath } from './helpers';

interface Exchange {
  request: StructuredRequest;
  result: StructuredResult;
}

/** The real engine, with every structured exchange recorded (nothing is changed on the way). */
function recording(backend: Backend, exchanges: Exchange[]): Backend {
  return new Proxy(backend, {
    get(target, prop, receiver) {
      if (prop === 'generateStructured') {
        return async (request: StructuredRequest, options?: RequestOptions) => {
          const result = await target.generateStructured(request, options);
          exchanges.push({ request, result });
          return result;
        };
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

type ItemSchema = { properties: { file: { enum: string[] }; startLine: { enum: number[] } } };
const schemaParts = (request: StructuredRequest) => {
  const findings = (request.schema as { properties: { findings: { maxItems: number; minItems?: number; items: ItemSchema } } }).properties
    .findings;
  return { files: findings.items.properties.file.enum, lines: findings.items.properties.startLine.enum, maxFindings: findings.maxItems };
};

describe('review on the fixture model through the engine process', () => {
  let engine: EngineClient;
  const repo = new TempRepo();
  let input: ReviewInput;

  before(async () => {
    buildBundles();
    const paths = await fixtures();
    engine = new EngineClient(settingsFor(paths, { sequences: 2, contextSize: 2048 }), nullLogger, { workerPath });

    repo.write('src/server.ts', numberedLines(80, 'port'));
    repo.write('src/util.py', 'def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n');
    repo.write('package-lock.json', '{}\n');
    repo.write('logo.png', Buffer.from([0x89, 0x50, 0, 1, 2]));
    repo.commitAll();
    const server = splitLines(repo.read('src/server.ts'));
    server[4] = 'const port5 = process.env.PORT ?? 5;';
    server.splice(40, 2, 'const secret = "hunter2";', 'eval(secret);', 'const port43 = 43;');
    repo.write('src/server.ts', server.join('\n') + '\n');
    repo.write('src/util.py', repo.read('src/util.py') + '\n\ndef div(a, b):\n    return a / b\n');
    repo.write('package-lock.json', '{"lockfileVersion": 3}\n');
    repo.write('logo.png', Buffer.from([0x89, 0x50, 0, 9, 9]));
    input = {
      title: 'uncommitted changes',
      files: parseUnifiedDiff(repo.git(...gitDiffArgs('uncommitted'))),
      readFile: async (p) => repo.read(p),
    };
  });

  after(async () => {
    await engine?.dispose();
    repo.dispose();
  });

  it('answers match their schema and findings cite changed lines that show the code the prompt showed', async () => {
    const exchanges: Exchange[] = [];
    // At least one finding per answer, so that there are findings to place (a random model
    // otherwise tends to answer with an empty list); everything else is the product's defaults.
    const result = await runReview(recording(engine, exchanges), input, {
      maxTokens: 768,
      contextLines: 5,
      tolerance: 3,
      schemaLimits: { minFindings: 1, maxMessageChars: 48, maxReplacementChars: 48 },
    });

    assert.deepEqual(result.failed, []);
    assert.deepEqual([...result.reviewed].sort(), ['src/server.ts', 'src/util.py']);
    assert.deepEqual(result.skipped.map((s) => `${s.path}: ${s.reason}`).sort(), ['logo.png: binary', 'package-lock.json: generated']);
    assert.ok(exchanges.length >= 2, 'one request per reviewed file at least');
    assert.equal(result.requests, exchanges.length);
    assert.ok(
      result.generatedTokens > 0 && result.tokensPerSecond > 0,
      `${result.generatedTokens} tokens at ${result.tokensPerSecond} tokens/s`,
    );

    let answered = 0;
    for (const { request, result: answer } of exchanges) {
      const parts = schemaParts(request);
      // The grammar held: the raw answer is valid against the very schema the request carried.
      assert.deepEqual(validateReviewOutput(answer.value, parts).errors, [], answer.text);
      assert.deepEqual(JSON.parse(answer.text), answer.value);
      answered += (answer.value as { findings: unknown[] }).findings.length;
      assert.ok((answer.value as { findings: unknown[] }).findings.length >= 1);
      // Every line the schema lets the model cite is shown in the prompt with the file's own text.
      const prompt = request.messages.map((m) => m.content).join('\n');
      const file = splitLines(repo.read(parts.files[0]));
      for (const n of parts.lines) {
        const shown = new RegExp(`^[+ ] +${n} \\| (.*)$`, 'm').exec(prompt);
        assert.ok(shown, `line ${n} is in the prompt`);
        assert.equal(shown[1], file[n - 1]);
      }
    }
    console.log(
      `review: ${exchanges.length} requests, ${answered} findings answered, ${result.findings.length} kept, ${result.tokensPerSecond.toFixed(1)} tokens/s`,
    );

    const diffs = new Map(input.files.map((f) => [f.path, f]));
    for (const f of result.findings) {
      const lines = splitLines(repo.read(f.file));
      assert.ok(
        f.startLine >= 1 && f.startLine <= f.endLine && f.endLine <= lines.length,
        `${f.file}:${f.startLine}-${f.endLine} within the file`,
      );
      const near = changedLines(diffs.get(f.file)!).some((r) => f.startLine <= r.end + 3 && f.endLine >= r.start - 3);
      assert.ok(near, `${f.file}:${f.startLine}-${f.endLine} is on the change`);
      assert.equal(f.outsideChange, false);
      assert.ok(f.message.trim().length > 0);
    }
    // Nothing the model answered was lost except by the documented rules (de-duplication).
    assert.ok(answered >= exchanges.length);
    assert.ok(result.findings.length > 0, 'findings reached the result');
    assert.ok(result.findings.length + result.dropped <= answered);
  });

  it('greedy decoding makes the same review twice', async () => {
    const options = { maxTokens: 768, contextLines: 5, schemaLimits: { minFindings: 1, maxMessageChars: 48, maxReplacementChars: 48 } };
    const first = await runReview(engine, input, options);
    const second = await runReview(engine, input, options);
    assert.ok(first.findings.length > 0);
    assert.deepEqual(
      second.findings.map((f) => f.id),
      first.findings.map((f) => f.id),
    );
  });

  it('cancelling during generation stops the engine request and keeps only whole files', async () => {
    const controller = new AbortController();
    const exchanges: Exchange[] = [];
    const committed: string[] = [];
    const backend = recording(engine, exchanges);
    const watched: Backend = new Proxy(backend, {
      get(target, prop, receiver) {
        if (prop === 'generateStructured') {
          return (request: StructuredRequest, options?: RequestOptions) => {
            // Cancel while the second file's request is generating.
            if (committed.length === 1) setTimeout(() => controller.abort(), 50);
            return target.generateStructured(request, options);
          };
        }
        return Reflect.get(target, prop, receiver);
      },
    });
    const started = performance.now();
    const result = await runReview(watched, input, {
      maxTokens: 768,
      contextLines: 5,
      signal: controller.signal,
      onFileReviewed: (p) => committed.push(p),
    });
    assert.equal(result.cancelled, true);
    assert.equal(result.reviewed.length, 1);
    assert.deepEqual(result.reviewed, committed);
    assert.ok(result.findings.every((f) => f.file === committed[0]));
    // The engine is still usable after the cancelled request.
    assert.ok((await engine.countTokens('still alive')) > 0);
    console.log(`review: cancelled after ${(performance.now() - started).toFixed(0)} ms`);
  });
});
