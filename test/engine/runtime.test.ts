// The engine runtime in-process on the generated fixture models: speculative equivalence, KV
// reuse, the LRU prompt cache, cancellation, structured output, LoRA switching, load errors.
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { EngineError, type FimRequest } from '../../src/engine/protocol';
import { EngineRuntime } from '../../src/engine/runtime';
import type { FixturePaths } from '../fixtures/generate';
import { fimPrompt, fixtures, repetitiveCode, samplePrefixes, settingsFor } from './helpers';

let paths: FixturePaths;
let runtime: EngineRuntime;
/**
 * The wide-margin model with a draft that agrees on half the tokens: where tests compare outputs
 * (speculative = plain, KV reuse = cold), so that no CPU variant's rounding can flip a greedy pick.
 */
let wide: EngineRuntime;
let tmp: string;

before(async () => {
  paths = await fixtures();
  tmp = await mkdtemp(join(tmpdir(), 'enclave-engine-'));
  runtime = await EngineRuntime.load(settingsFor(paths, { draftModelPath: paths.draft, speculative: 'auto', sequences: 4 }));
  wide = await EngineRuntime.load(
    settingsFor(paths, { modelPath: paths.wide, draftModelPath: paths.wideDraftHalf, speculative: 'auto', sequences: 4 }),
  );
});

after(async () => {
  await wide?.dispose();
  await runtime?.dispose();
  await rm(tmp, { recursive: true, force: true });
});

function fim(documentKey: string, prompt: string, extra: Partial<FimRequest> = {}): FimRequest {
  return { documentKey, prompt, maxTokens: 24, ...extra };
}

describe('speculative decoding', () => {
  it('draft model and prompt lookup give token-for-token the same greedy output as plain decoding', async () => {
    let drafted = 0;
    let accepted = 0;
    for (const [i, prefix] of samplePrefixes.entries()) {
      const prompt = fimPrompt(prefix, '\n}\n');
      const plain = await wide.completeFim(fim(`plain-${i}`, prompt, { speculative: 'off', maxTokens: 40 }));
      for (const mode of ['draft', 'lookup'] as const) {
        const spec = await wide.completeFim(fim(`${mode}-${i}`, prompt, { speculative: mode, maxTokens: 40 }));
        assert.equal(spec.text, plain.text, `${mode} on prompt ${i}`);
        assert.equal(spec.stats.generatedTokens, plain.stats.generatedTokens);
        assert.equal(spec.stats.stopReason, plain.stats.stopReason);
        assert.ok(spec.stats.draft, 'draft stats are reported');
        drafted += spec.stats.draft.accepted + spec.stats.draft.rejected;
        accepted += spec.stats.draft.accepted;
      }
    }
    assert.ok(drafted > 0, 'tokens were drafted and verified');
    const metrics = await wide.metrics();
    assert.equal(metrics.draftAccepted, accepted);
  });

  it("prompt lookup drafts from an earlier occurrence of the prompt's end and stays identical", async () => {
    // The prompt's last tokens (<|fim_suffix|><|fim_middle|>) occur earlier, followed by the
    // model's own greedy output there: lookup proposes that continuation.
    const base = fimPrompt(repetitiveCode(2), '');
    const first = await wide.completeFim(fim('echo', base, { speculative: 'off', maxTokens: 16 }));
    const echo = base + first.text + '<|file_sep|>' + base;
    const plain = await wide.completeFim(fim('echo-plain', echo, { speculative: 'off', maxTokens: 16 }));
    const lookup = await wide.completeFim(fim('echo-lookup', echo, { speculative: 'lookup', maxTokens: 16 }));
    assert.equal(lookup.text, plain.text);
    assert.ok((lookup.stats.draft?.accepted ?? 0) + (lookup.stats.draft?.rejected ?? 0) > 0, 'lookup drafted');
  });

  it('backs off to plain decoding for a document whose drafts never agree', async () => {
    // The random draft never agrees with the random target. After its first failed draft the
    // document waits ≥ 64 tokens between attempts (each verify costs more than a plain step), so
    // 160 tokens spend at most three short drafts; doubling from 4 would make six attempts.
    let rejected = 0;
    let accepted = 0;
    for (let i = 0; i < 4; i++) {
      const spec = await runtime.completeFim(
        fim('never-agrees', fimPrompt(samplePrefixes[1], ''), { speculative: 'draft', maxTokens: 40 }),
      );
      assert.equal(spec.stats.generatedTokens, 40);
      rejected += spec.stats.draft?.rejected ?? 0;
      accepted += spec.stats.draft?.accepted ?? 0;
    }
    assert.equal(accepted, 0, 'the fixture draft never agrees');
    assert.ok(rejected > 0, 'it did try to draft');
    assert.ok(rejected <= 10, `drafted ${rejected} tokens that were all rejected`);
  });
});

describe('KV reuse (the LRU prompt cache)', () => {
  it('a request that extends the previous prompt evaluates only the new tokens', async () => {
    const prompt = fimPrompt(samplePrefixes[0], '\n}\n');
    const first = await wide.completeFim(fim('kv-doc', prompt, { maxTokens: 8 }));
    assert.equal(first.stats.reusedTokens + first.stats.evaluatedTokens, first.stats.promptTokens);

    // A special token starts the extension, so the old prompt's tokens stay a prefix.
    const extended = prompt + '<|file_sep|>more text after the old prompt';
    const second = await wide.completeFim(fim('kv-doc', extended, { maxTokens: 8 }));
    const newTokens = (await wide.countTokens(extended)) - (await wide.countTokens(prompt));
    assert.equal(second.stats.evaluatedTokens, newTokens);
    assert.equal(second.stats.reusedTokens, first.stats.promptTokens);

    const repeat = await wide.completeFim(fim('kv-doc', extended, { maxTokens: 8 }));
    assert.equal(repeat.stats.evaluatedTokens, 1, 'an identical prompt re-evaluates only its last token');
    assert.equal(repeat.text, second.text);
  });

  it('typing in the prefix re-evaluates from the change, not the whole prompt', async () => {
    const suffix = '\n}\n'.repeat(20);
    let prefix = repetitiveCode(4);
    const cold = await runtime.completeFim(fim('typing', fimPrompt(prefix, suffix), { maxTokens: 4 }));
    for (const ch of 'const x') {
      prefix += ch;
      const warm = await runtime.completeFim(fim('typing', fimPrompt(prefix, suffix), { maxTokens: 4 }));
      assert.ok(
        warm.stats.evaluatedTokens < cold.stats.promptTokens * 0.2,
        `evaluated ${warm.stats.evaluatedTokens} of ${warm.stats.promptTokens}`,
      );
      assert.ok(warm.stats.reusedTokens > 0);
    }
  });

  it('the least recently used document is evicted, and returning to it re-evaluates', async () => {
    const before = (await runtime.metrics()).sequenceEvictions;
    const prompts = ['a', 'b', 'c', 'd', 'e'].map((d) => [d, fimPrompt(`// file ${d}\n${samplePrefixes[1]}`, '\n')] as const);
    for (const [doc, prompt] of prompts.slice(0, 4)) await runtime.completeFim(fim(`lru-${doc}`, prompt, { maxTokens: 2 }));
    const warmA = await runtime.completeFim(fim('lru-a', prompts[0][1], { maxTokens: 2 }));
    assert.equal(warmA.stats.evaluatedTokens, 1, 'still cached');
    await runtime.completeFim(fim('lru-e', prompts[4][1], { maxTokens: 2 })); // evicts b, the least recent
    const warmC = await runtime.completeFim(fim('lru-c', prompts[2][1], { maxTokens: 2 }));
    assert.equal(warmC.stats.evaluatedTokens, 1);
    const coldB = await runtime.completeFim(fim('lru-b', prompts[1][1], { maxTokens: 2 }));
    assert.ok(coldB.stats.evaluatedTokens > 1, 'b was evicted and its prompt is evaluated again');
    assert.ok((await runtime.metrics()).sequenceEvictions >= before + 2);
  });
});

describe('superseded completions', () => {
  it('a newer request for the same document waits for the cancelled one and reuses its sequence', async () => {
    const prompt = fimPrompt(samplePrefixes[1], '\n');
    const extended = prompt + '<|file_sep|>typed a little more';
    const newTokens = (await runtime.countTokens(extended)) - (await runtime.countTokens(prompt));
    let before: Promise<{ sequenceEvictions: number }> | undefined;
    let second: Promise<Awaited<ReturnType<EngineRuntime['completeFim']>>> | undefined;
    let chunks = 0;
    // The first request generates for long; as soon as it streams, the next keystroke's request
    // for the same document arrives and supersedes it.
    const first = runtime.completeFim(fim('superseded', prompt, { maxTokens: 4000, speculative: 'off' }), {
      onText: () => {
        if (++chunks > 1) return;
        before = runtime.metrics(); // the counters as the first request holds its sequence
        second = runtime.completeFim(fim('superseded', extended, { maxTokens: 4, speculative: 'off' }));
      },
    });
    await assert.rejects(first, (err: EngineError) => err.code === 'CANCELLED');
    assert.ok(second, 'the first request streamed');
    const result = await second;
    assert.equal(result.stats.evaluatedTokens, newTokens, `evaluated ${result.stats.evaluatedTokens} of ${result.stats.promptTokens}`);
    assert.ok(result.stats.reusedTokens >= result.stats.promptTokens - newTokens, `reused ${result.stats.reusedTokens}`);
    assert.equal(
      (await runtime.metrics()).sequenceEvictions,
      (await before!).sequenceEvictions,
      'no other sequence was taken for the document',
    );
  });
});

describe('FIM stopping', () => {
  it('stops at a stop string (not included, never streamed), at maxTokens and at maxTimeMs', async () => {
    const prompt = fimPrompt(samplePrefixes[1], '\n');
    const full = await wide.completeFim(fim('stop', prompt, { maxTokens: 24, speculative: 'off' }));
    assert.equal(full.stats.stopReason, 'maxTokens');
    assert.equal(full.stats.generatedTokens, 24);
    const cut = Math.floor(full.text.length / 2);
    const stop = full.text.slice(cut, cut + 2);
    const expected = full.text.slice(0, full.text.indexOf(stop));
    let streamed = '';
    const stopped = await wide.completeFim(fim('stop', prompt, { maxTokens: 24, stop: ['\u0000never', stop], speculative: 'lookup' }), {
      onText: (t) => (streamed += t),
    });
    assert.equal(stopped.stats.stopReason, 'stop');
    assert.equal(stopped.text, expected);
    assert.equal(streamed, expected, 'held-back text that became the stop string is never streamed');

    const timed = await wide.completeFim(fim('stop', prompt, { maxTokens: 2000, maxTimeMs: 1, speculative: 'off' }));
    assert.equal(timed.stats.stopReason, 'maxTime');
    assert.ok(timed.stats.generatedTokens < 50);

    const tooLong = fimPrompt('let value = 1;\n'.repeat(600), '');
    await assert.rejects(
      wide.completeFim(fim('stop', tooLong)),
      (err: EngineError) => err.code === 'BAD_REQUEST' && /context size 2048/.test(err.message),
    );
  });
});

describe('cancellation', () => {
  it('stops a long generation within a bound and leaks no output after the abort', async () => {
    for (const mode of ['off', 'draft'] as const) {
      const controller = new AbortController();
      const chunks: string[] = [];
      let abortedAt = 0;
      let afterAbort = 0;
      const request = runtime.completeFim(fim(`cancel-${mode}`, fimPrompt(samplePrefixes[2], ''), { maxTokens: 4000, speculative: mode }), {
        signal: controller.signal,
        onText: (chunk) => {
          chunks.push(chunk);
          if (abortedAt) afterAbort++;
          if (chunks.length === 5) {
            abortedAt = performance.now();
            controller.abort();
          }
        },
      });
      await assert.rejects(request, (err: EngineError) => err.code === 'CANCELLED');
      const stoppedMs = performance.now() - abortedAt;
      assert.ok(abortedAt > 0, 'generation streamed before the abort');
      assert.equal(afterAbort, 0, 'no chunk after the abort');
      assert.ok(stoppedMs < 500, `stopped ${Math.round(stoppedMs)} ms after the abort`);
    }
    const next = await runtime.completeFim(fim('cancel-off', fimPrompt(samplePrefixes[2], ''), { maxTokens: 4 }));
    assert.equal(next.stats.generatedTokens, 4, 'the engine keeps working after a cancel');
  });

  it('streams chat text that adds up to the result, and cancels chat', async () => {
    let streamed = '';
    const result = await runtime.chat(
      { messages: [{ role: 'user', content: 'Say hi' }], maxTokens: 12 },
      { onText: (c) => (streamed += c) },
    );
    assert.equal(streamed, result.text);
    assert.ok(result.stats.generatedTokens > 0 && result.stats.promptTokens > 0);

    const controller = new AbortController();
    const chunks: string[] = [];
    const request = runtime.chat(
      { messages: [{ role: 'user', content: 'Write a long story' }], maxTokens: 2000 },
      {
        signal: controller.signal,
        onText: (c) => {
          chunks.push(c);
          if (chunks.length === 3) controller.abort();
        },
      },
    );
    await assert.rejects(request, (err: EngineError) => err.code === 'CANCELLED');
    assert.equal(chunks.length, 3);
  });
});

describe('structured output', () => {
  it('always parses and matches the schema, over many seeds', async () => {
    const schema = {
      type: 'object',
      properties: {
        severity: { enum: ['info', 'warning', 'error'] },
        line: { type: 'integer' },
        fixable: { type: 'boolean' },
      },
      required: ['severity', 'line', 'fixable'],
    } as const;
    for (let seed = 1; seed <= 8; seed++) {
      const result = await runtime.generateStructured({
        messages: [{ role: 'user', content: 'Review this code: let x = 1' }],
        schema,
        maxTokens: 80,
        temperature: 1,
        seed,
      });
      const value = JSON.parse(result.text) as Record<string, unknown>;
      assert.deepEqual(result.value, value);
      assert.ok(['info', 'warning', 'error'].includes(value.severity as string), result.text);
      assert.ok(Number.isInteger(value.line), result.text);
      assert.equal(typeof value.fixable, 'boolean');
    }
  });
  it('accepts a string at its length limit that holds an astral character (grammar counts code points)', async () => {
    // node-llama-cpp 3.21's grammar bounds strings in code points while its parser counts UTF-16
    // units: 24 one-character strings per answer make an emoji-like astral character likely.
    const schema = {
      type: 'object',
      properties: { s: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 1 }, minItems: 24, maxItems: 24 } },
    } as const;
    let astral = 0;
    for (let seed = 1; seed <= 8; seed++) {
      const result = await runtime.generateStructured({
        messages: [{ role: 'user', content: 'emoji 😀🎉🚀' }],
        schema,
        maxTokens: 300,
        temperature: 1,
        seed,
      });
      const value = result.value as { s: string[] };
      assert.deepEqual(value, JSON.parse(result.text));
      assert.equal(value.s.length, 24);
      for (const item of value.s) assert.equal([...item].length, 1, JSON.stringify(item));
      if (value.s.some((item) => item.length === 2)) astral++;
    }
    assert.ok(astral > 0, 'some answer held an astral character at the limit (the case node-llama-cpp rejects)');
  });
});

describe('scheduling', () => {
  it('concurrent completion, chat and structured requests all finish, the completion first', async () => {
    const single = await EngineRuntime.load(settingsFor(paths, { sequences: 4 }), { parallel: 1 });
    try {
      const finished: string[] = [];
      const note = <T>(name: string, p: Promise<T>) => p.then((v) => (finished.push(name), v));
      const chat1 = note('chat', single.chat({ messages: [{ role: 'user', content: 'one' }], maxTokens: 24 }));
      const structured = note(
        'structured',
        single.generateStructured({
          messages: [{ role: 'user', content: 'json' }],
          schema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] },
          maxTokens: 20,
        }),
      );
      const chat2 = note('chat2', single.chat({ messages: [{ role: 'user', content: 'two' }], maxTokens: 24 }));
      const completion = note('completion', single.completeFim(fim('sched', fimPrompt('let a = ', ';'), { maxTokens: 8 })));
      const results = await Promise.all([chat1, structured, chat2, completion]);
      assert.equal(results.length, 4);
      assert.equal(finished[0], 'chat', 'the chat that was already running finishes first');
      assert.equal(finished[1], 'completion', `the queued completion goes before queued chat/review: ${finished}`);
      assert.ok(results[3].stats.queuedMs >= 0);
    } finally {
      await single.dispose();
    }
  });
  it("chat and the API's completions pause while an editor completion runs, then finish", async () => {
    // The wide model never stops on EOS, so the chat streams all its tokens.
    let chunks = 0;
    let started!: () => void;
    const streaming = new Promise<void>((resolve) => (started = resolve));
    const chat = wide.chat(
      { messages: [{ role: 'user', content: 'stream for a while' }], maxTokens: 120 },
      { onText: () => ++chunks >= 3 && started() },
    );
    await streaming;
    let apiTokens = 0;
    const api = wide.completeFim(
      fim('server:someone', fimPrompt('const api = ', ';'), { maxTokens: 60, yieldToEditor: true, speculative: 'off' }),
      {
        onText: () => apiTokens++,
      },
    );
    while (apiTokens < 2) await new Promise((r) => setTimeout(r, 5));
    for (let round = 0; round < 2; round++) {
      const chatBefore = chunks;
      const apiBefore = apiTokens;
      const editor = await wide.completeFim(
        fim('file:///editor.ts', fimPrompt(`let x${round} = `, ';'), { maxTokens: 24, speculative: 'off' }),
      );
      assert.equal(editor.stats.generatedTokens, 24);
      // At most the step each had in flight when the completion started (plus one it had queued).
      assert.ok(chunks - chatBefore <= 3, `chat went on during the editor completion: ${chunks - chatBefore} chunks`);
      assert.ok(apiTokens - apiBefore <= 3, `the API completion went on during the editor completion: ${apiTokens - apiBefore} tokens`);
    }
    const [chatResult, apiResult] = await Promise.all([chat, api]);
    assert.equal(chatResult.stats.generatedTokens, 120, 'the paused chat still finishes');
    assert.equal(apiResult.stats.generatedTokens, 60, 'the paused API completion still finishes');
  });
});

describe('LoRA adapters', () => {
  it('switching adapters changes the output without reloading the model, and back restores it', async () => {
    const prompt = fimPrompt(samplePrefixes[1], '\n');
    const base = await runtime.completeFim(fim('lora', prompt, { maxTokens: 24 }));
    const switched = await runtime.setAdapters([{ path: paths.loraA, scale: 1 }]);
    assert.equal(switched.modelReloaded, false);
    assert.ok(switched.switchMs >= 0);
    assert.deepEqual((await runtime.info()).adapters, [{ path: paths.loraA, scale: 1 }]);
    const withA = await runtime.completeFim(fim('lora', prompt, { maxTokens: 24 }));
    assert.equal(withA.stats.reusedTokens, 0, 'the new context starts with empty sequences');
    await runtime.setAdapters([{ path: paths.loraB, scale: 1 }]);
    const withB = await runtime.completeFim(fim('lora', prompt, { maxTokens: 24 }));
    assert.ok(withA.text !== base.text || withB.text !== base.text, 'an adapter changes the greedy output');
    await runtime.setAdapters([]);
    const again = await runtime.completeFim(fim('lora', prompt, { maxTokens: 24 }));
    assert.equal(again.text, base.text);
  });

  it('refuses an adapter made for another model with ADAPTER_MISMATCH and the reason', async () => {
    await assert.rejects(runtime.setAdapters([{ path: paths.loraMismatch, scale: 1 }]), (err: EngineError) => {
      assert.equal(err.code, 'ADAPTER_MISMATCH');
      assert.match(err.message, /lora-mismatch\.gguf/);
      assert.match(err.message, /\[256, 256\]/, 'names the shapes');
      return true;
    });
    await assert.rejects(
      runtime.setAdapters([{ path: paths.draft, scale: 1 }]),
      (err: EngineError) => err.code === 'ADAPTER_MISMATCH' && /adapter/.test(err.message),
    );
    assert.deepEqual((await runtime.info()).adapters, [], 'the previous adapters stay');
  });
});

describe('loading', () => {
  it('reports the model: name, architecture, FIM family, threads, layers', async () => {
    const info = await runtime.info();
    assert.equal(info.backend, 'local');
    assert.equal(info.architecture, 'qwen2');
    assert.equal(info.modelName, 'Enclave demo (random weights)');
    assert.equal(info.fimFamily, 'qwen');
    assert.equal(info.threads, 1);
    assert.equal(info.gpu, 'cpu');
    assert.ok(info.totalLayers >= 4);
    assert.equal(info.contextSize, 2048);
  });

  it('fails with a code and the path for missing, non-GGUF and truncated files', async () => {
    const missing = join(tmp, 'nope', 'model.gguf');
    await assert.rejects(EngineRuntime.load(settingsFor(paths, { modelPath: missing })), (err: EngineError) => {
      assert.equal(err.code, 'MODEL_NOT_FOUND');
      assert.ok(err.message.includes(missing));
      return true;
    });
    const text = join(tmp, 'notes.gguf');
    await writeFile(text, 'this is not a model at all');
    await assert.rejects(
      EngineRuntime.load(settingsFor(paths, { modelPath: text })),
      (err: EngineError) => err.code === 'MODEL_INVALID' && err.message.includes(text),
    );
    for (const keep of [1024, 20_000_000]) {
      const truncated = join(tmp, `truncated-${keep}.gguf`);
      await copyFile(paths.model, truncated);
      const handle = await open(truncated, 'r+');
      await handle.truncate(keep);
      await handle.close();
      await assert.rejects(
        EngineRuntime.load(settingsFor(paths, { modelPath: truncated })),
        (err: EngineError) => err.code === 'MODEL_INVALID' && err.message.includes(truncated),
      );
    }
  });

  it('refuses a draft model with another vocabulary, and FIM on a model without FIM tokens', async () => {
    await assert.rejects(
      EngineRuntime.load(settingsFor(paths, { draftModelPath: paths.draftMismatch, speculative: 'draft' })),
      (err: EngineError) => {
        assert.equal(err.code, 'DRAFT_MISMATCH');
        assert.ok(err.message.includes(paths.draftMismatch));
        return true;
      },
    );
    const noFim = await EngineRuntime.load(settingsFor(paths, { modelPath: paths.noFim, sequences: 2 }));
    try {
      assert.equal((await noFim.info()).fimFamily, null);
      await assert.rejects(noFim.completeFim(fim('x', fimPrompt('a', 'b'))), (err: EngineError) => err.code === 'NO_FIM');
    } finally {
      await noFim.dispose();
    }
  });
});
