// Property-based fuzzing (fast-check) of the parsers that read what Enclave does not control: the
// chat webview messages both ways, the unified-diff parser, the GGUF/adapter header readers, the
// OpenAI wire schemas. Never a crash or a hang: a clear result or a clear error. Runs are bounded.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import fc from 'fast-check';

import { parseHostMessage, parseWebviewMessage } from '../../src/chat/messages';
import { inspectAdapter, validateAdapter } from '../../src/engine/adapterValidation';
import { parseChatRequest, parseCompletionRequest, WireValidationError } from '../../src/engine/openaiWire';
import { GgufError, hasGgufMagic, readGgufHeader } from '../../src/gguf';
import { changedLines, mapLineThroughDiff, parseUnifiedDiff, selectReviewable } from '../../src/review/diff';
import { ensureFixtures, type FixturePaths } from '../fixtures/generate';

/** Valid messages to mutate: the fuzzer starts near the accepted shapes, where bugs hide. */
const webviewSamples: unknown[] = [
  { type: 'ready' },
  { type: 'send', text: 'hello' },
  { type: 'openChat', id: 'abc_1' },
  { type: 'apply', code: 'x = 1', messageId: 'm1', language: 'python' },
  { type: 'openLink', href: 'https://example.com/a' },
];
const hostSamples: unknown[] = [
  { type: 'chunk', messageId: 'm1', text: 'pi' },
  { type: 'busy', busy: true },
  { type: 'notice', level: 'info', text: 'hi' },
  { type: 'chats', chats: [{ id: 'c1', title: 't', updated: 1, messages: 2 }] },
];

/** A copy of `value` with one field set to something arbitrary (or added, or removed). */
function mutate(samples: unknown[]) {
  return fc
    .tuple(
      fc.constantFrom(...samples),
      fc.constantFrom('type', 'text', 'id', 'href', 'code', 'busy', 'level', 'chats', 'extra', 'messageId'),
      fc.option(fc.anything({ maxDepth: 2 })),
    )
    .map(([sample, key, value]) => {
      const copy = structuredClone(sample) as Record<string, unknown>;
      if (value === null) delete copy[key];
      else copy[key] = value;
      return copy;
    });
}

describe('fuzzing the chat webview messages, both ways', () => {
  for (const [direction, parse, samples] of [
    ['webview → host', parseWebviewMessage, webviewSamples],
    ['host → webview', parseHostMessage, hostSamples],
  ] as const) {
    it(`${direction}: any value is accepted as a known message or refused with a reason, never thrown on`, () => {
      for (const sample of samples) assert.equal(parse(sample).ok, true, JSON.stringify(sample));
      fc.assert(
        fc.property(fc.oneof(fc.anything({ maxDepth: 3 }), mutate(samples)), (value) => {
          const result = parse(value);
          if (result.ok)
            assert.ok(
              samples.some((s) => (s as { type: string }).type === (value as { type: string }).type) ||
                typeof (value as { type: unknown }).type === 'string',
            );
          else assert.ok(typeof result.problem === 'string' && result.problem.length > 0);
        }),
        { numRuns: 2000 },
      );
    });
  }

  it('refuses an unexpected extra field (nothing unknown crosses the boundary)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...webviewSamples),
        fc
          .string({ minLength: 1, maxLength: 10 })
          .filter((k) => !['type', 'text', 'id', 'code', 'messageId', 'language', 'href'].includes(k) && k !== '__proto__'),
        fc.jsonValue(),
        (sample, key, value) => {
          assert.equal(parseWebviewMessage({ ...(sample as object), [key]: value }).ok, false);
        },
      ),
      { numRuns: 300 },
    );
  });
});

const diffLine = fc.oneof(
  fc.constantFrom(
    'diff --git a/x.ts b/x.ts',
    'diff --git "a/sp ace.ts" "b/sp ace.ts"',
    '--- a/x.ts',
    '+++ b/x.ts',
    '--- /dev/null',
    '+++ /dev/null',
    'new file mode 100644',
    'deleted file mode 100644',
    'rename from a.ts',
    'rename to b.ts',
    'similarity index 90%',
    'Binary files a/x.png and b/x.png differ',
    'index 0000000..1111111 100644',
    '\\ No newline at end of file',
    'GIT binary patch',
    '@@ -0,0 +0,0 @@',
    '@@ -1 +1 @@',
  ),
  fc.tuple(fc.nat(1e6), fc.nat(1e6), fc.nat(1e6), fc.nat(1e6)).map(([a, b, c, d]) => `@@ -${a},${b} +${c},${d} @@ fn()`),
  fc.string({ maxLength: 30 }).map((s) => `+${s}`),
  fc.string({ maxLength: 30 }).map((s) => `-${s}`),
  fc.string({ maxLength: 30 }).map((s) => ` ${s}`),
  fc.string({ maxLength: 40 }),
);

describe('fuzzing the diff parser', () => {
  it('any text — diff-like or not, CRLF or LF — parses without throwing into consistent files and ranges', () => {
    fc.assert(
      fc.property(fc.array(diffLine, { maxLength: 60 }), fc.boolean(), fc.nat(2000), (lines, crlf, probe) => {
        const files = parseUnifiedDiff(lines.join(crlf ? '\r\n' : '\n'));
        const { review, skipped } = selectReviewable(files, () => []);
        assert.equal(review.length + skipped.length, files.length);
        for (const file of files) {
          for (const range of changedLines(file)) assert.ok(range.start <= range.end && range.start >= 0, JSON.stringify(range));
          const mapped = mapLineThroughDiff(file, probe);
          assert.ok(mapped === undefined || Number.isInteger(mapped));
        }
      }),
      { numRuns: 1500 },
    );
  });
});

/** A reader that never answers is a defect too: fail with the case instead of hanging the run. */
function withinSeconds<T>(seconds: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${seconds} s for ${what}`)), seconds * 1000);
  });
  return Promise.race([work, limit]).finally(() => clearTimeout(timer));
}

describe('fuzzing the GGUF and adapter header readers', () => {
  let fx: FixturePaths;
  let dir: string;
  let adapter: Buffer;
  before(async () => {
    fx = await ensureFixtures();
    dir = await mkdtemp(join(tmpdir(), 'enclave-fuzz-gguf-'));
    adapter = await readFile(fx.loraMismatch);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  // Truncations anywhere, and corruptions of the header, where lengths and counts live.
  const damaged = () =>
    fc.oneof(
      // (The last bytes may be alignment padding no tensor needs: cut before them.)
      fc.nat(adapter.length - 65).map((end) => ({ what: `truncated at ${end}`, bytes: adapter.subarray(0, end) })),
      fc
        .array(fc.tuple(fc.nat(Math.min(adapter.length, 4096) - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 })
        .map((edits) => {
          const bytes = Buffer.from(adapter);
          for (const [at, value] of edits) bytes[at] = value;
          return { what: `bytes ${JSON.stringify(edits)}`, bytes };
        }),
      fc
        .uint8Array({ maxLength: 512 })
        .map((random) => ({ what: 'random bytes', bytes: Buffer.concat([Buffer.from('GGUF'), Buffer.from(random)]) })),
    );

  it('damaged adapter files give a clear refusal from both validators, never a crash or a hang', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(damaged(), async ({ what, bytes }) => {
        const file = join(dir, `case-${n++}.gguf`);
        await writeFile(file, bytes);
        const inspected = await withinSeconds(10, what, inspectAdapter(file));
        if (!inspected.ok) assert.ok(inspected.reason.length > 10, what);
        const engine = await withinSeconds(10, what, validateAdapter(file, fx.loraA));
        if (!engine.ok) assert.ok(engine.reason.length > 10, what);
        // A prefix of the file can never be a whole, valid adapter.
        if (what.startsWith('truncated')) assert.equal(inspected.ok, false, what);
        assert.equal(typeof (await hasGgufMagic(file)), 'boolean');
        const header = await withinSeconds(
          10,
          what,
          readGgufHeader(file).catch((err: unknown) => err),
        );
        if (header instanceof Error) assert.ok(header instanceof GgufError, `${what}: ${header.message}`);
        await rm(file);
      }),
      { numRuns: 25 },
    );
  });
});

describe('fuzzing the OpenAI wire schemas', () => {
  it('any JSON value is a typed request or a WireValidationError naming a field — nothing else is thrown', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.jsonValue(),
          fc.record(
            {
              messages: fc.jsonValue(),
              prompt: fc.jsonValue(),
              n: fc.jsonValue(),
              max_tokens: fc.jsonValue(),
              temperature: fc.jsonValue(),
            },
            { requiredKeys: [] },
          ),
        ),
        (value) => {
          for (const parse of [parseChatRequest, parseCompletionRequest]) {
            try {
              parse(value);
            } catch (err) {
              assert.ok(err instanceof WireValidationError, String(err));
              assert.match(err.message, /`[^`]+`/);
            }
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
