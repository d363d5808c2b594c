// The completion core against the real engine (the engine process, node-llama-cpp on the generated
// fixture model, over JSON-RPC):
// the prompt it builds is one the engine evaluates incrementally, cancellation leaves nothing
// behind, and the cache answers without the model. Random weights: no assertions on wording.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { CompletionCore, defaultCompletionSettings, type CompletionRequest } from '../../src/completion/core';
import { EngineClient } from '../../src/engine/client';
import type { Backend } from '../../src/engine/protocol';
import { nullLogger } from '../../src/logger';
import type { FixturePaths } from '../fixtures/generate';
import { buildBundles, fixtures, settingsFor, workerPath } from './helpers';

let paths: FixturePaths;
let backend: EngineClient;
// A real source file nobody here wrote.
let source: string;

const settings = { ...defaultCompletionSettings, debounceMs: 0, maxTokens: 12, extraContext: false, speculative: 'off' as const };

function newCore(prefetchAccepted = false) {
  return new CompletionCore({ backend: () => backend, settings: () => settings, prefetchAccepted });
}

function at(text: string, offset: number, trigger: CompletionRequest['trigger'] = 'automatic'): CompletionRequest {
  return { text, offset, languageId: 'javascript', uri: 'file:///work/lru-cache.js', trigger };
}

before(async () => {
  buildBundles();
  paths = await fixtures();
  backend = new EngineClient(settingsFor(paths, { contextSize: 4096, sequences: 2, batchSize: 512 }), nullLogger, { workerPath });
  const full = await readFile(join(__dirname, '..', '..', 'node_modules', 'lru-cache', 'dist', 'commonjs', 'index.js'), 'utf8');
  source = full.slice(0, 6000);
});

after(async () => {
  await backend?.dispose();
});

test('the next keystroke re-evaluates only the tail of the prompt (KV reuse)', async () => {
  const core = newCore();
  const lineEnd = source.indexOf('\n', 3000);
  const text = source.slice(0, lineEnd) + '\n' + source.slice(lineEnd);
  let offset = lineEnd + 1;
  const first = await core.provide(at(text, offset));
  assert.equal(first.source, 'model');
  const cold = first.stats!;
  assert.ok(cold.promptTokens > 500, `a real prompt (${cold.promptTokens} tokens)`);

  // Type characters that are not what was suggested, so each one needs the model.
  let typed = text;
  let reuseChecks = 0;
  for (const ch of '/*q') {
    typed = typed.slice(0, offset) + ch + typed.slice(offset);
    offset++;
    const next = await core.provide(at(typed, offset));
    if (next.source !== 'model') continue;
    const stats = next.stats!;
    reuseChecks++;
    assert.ok(stats.reusedTokens >= stats.promptTokens - 20, `reused ${stats.reusedTokens} of ${stats.promptTokens}`);
    assert.ok(stats.evaluatedTokens <= 20, `evaluated ${stats.evaluatedTokens} tokens after one keystroke`);
  }
  assert.ok(reuseChecks >= 2, `keystrokes that needed the model: ${reuseChecks}`);
});

test('a warmed document: the engine evaluates its prompt without generating, and the first keystroke evaluates only its own tail', async () => {
  const core = newCore();
  const lineEnd = source.indexOf('\n', 4000);
  const text = source.slice(0, lineEnd) + '\n' + source.slice(lineEnd);
  const offset = lineEnd + 1;
  const warmUri = 'file:///work/warm.js';
  const request = { ...at(text, offset), uri: warmUri };
  // What the engine did for the warm-up, seen through its own counters.
  const before = await backend.metrics();
  assert.ok(await core.warm(request));
  const after = await backend.metrics();
  assert.equal(after.generatedTokens - before.generatedTokens, 0, 'a warm-up generates nothing');
  const warmedTokens = after.evaluatedTokens - before.evaluatedTokens;
  assert.ok(warmedTokens > 500, `the warm-up evaluated the prompt (${warmedTokens} tokens)`);

  const typed = text.slice(0, offset) + 'i' + text.slice(offset);
  const first = await core.provide({ ...at(typed, offset + 1), uri: warmUri });
  assert.equal(first.source, 'model');
  const stats = first.stats!;
  assert.ok(stats.evaluatedTokens <= 20, `the first keystroke evaluated ${stats.evaluatedTokens} of ${stats.promptTokens} tokens`);
  assert.ok(stats.generatedTokens > 0);
});

test('a cancelled request leaves no completion, and the next one still works', async () => {
  const controller = new AbortController();
  // Cancel once the engine call is under way (as a keystroke does while the model is generating).
  const core = new CompletionCore({
    backend: () => backend,
    settings: () => ({ ...settings, maxTokens: 64 }),
    prefetchAccepted: false,
    onEvent: (event) => {
      if (event.kind === 'generating') setTimeout(() => controller.abort(), 5);
    },
  });
  const offset = source.indexOf('\n', 4000) + 1;
  const text = source.slice(0, offset) + '\n' + source.slice(offset);
  const cancelledBefore = (await backend.metrics()).cancelled;
  const outcome = await core.provide(at(text, offset, 'manual'), controller.signal);
  assert.equal(outcome.source, 'cancelled');
  assert.equal(outcome.modelCalls, 1, 'cancelled during the engine call');
  assert.deepEqual(outcome.items, []);
  assert.equal(core.cache.size, 0, 'nothing cached from a cancelled request');
  // The engine learns of the cancellation over IPC a moment after the client gave up on the call.
  let cancelled = cancelledBefore;
  for (let i = 0; i < 40 && cancelled === cancelledBefore; i++) {
    await new Promise((r) => setTimeout(r, 50));
    cancelled = (await backend.metrics()).cancelled;
  }
  assert.equal(cancelled, cancelledBefore + 1, 'the engine stopped the request');

  const again = await newCore().provide(at(text, offset));
  assert.equal(again.source, 'model');
});

test('waiting (cancelSuperseded false), a keystroke that cancels the previous one finds the KV cache that call built', async () => {
  const previous = new AbortController();
  const core = new CompletionCore({
    backend: () => backend,
    settings: () => settings,
    prefetchAccepted: false,
    cancelSuperseded: false,
    onEvent: (event) => {
      if (event.kind === 'generating') setTimeout(() => previous.abort(), 5);
    },
  });
  const lineEnd = source.indexOf('\n', 5000);
  const text = source.slice(0, lineEnd) + '\n' + source.slice(lineEnd);
  const offset = lineEnd + 1;
  const first = await core.provide(at(text, offset), previous.signal);
  assert.equal(first.source, 'cancelled');
  assert.deepEqual(first.items, [], 'a cancelled keystroke shows nothing');
  // The user typed on: the next request waits for the engine call in flight, then reuses its work.
  const typed = text.slice(0, offset) + '~' + text.slice(offset);
  const next = await core.provide(at(typed, offset + 1));
  assert.equal(next.source, 'model');
  const stats = next.stats!;
  assert.ok(stats.evaluatedTokens <= 20, `evaluated ${stats.evaluatedTokens} of ${stats.promptTokens} prompt tokens`);
});

test('typing along a suggestion and accepting it are answered without the model', async () => {
  const core = newCore(true);
  // Find a position where the random model suggests something non-empty.
  let found: { text: string; offset: number; suggestion: string } | undefined;
  for (let from = 1000; from < 5000 && !found; from += 400) {
    const offset = source.indexOf('\n', from);
    const text = source.slice(0, offset) + '\n' + source.slice(offset);
    const outcome = await core.provide(at(text, offset + 1));
    if ((outcome.items[0]?.text.length ?? 0) > 1) found = { text, offset: offset + 1, suggestion: outcome.items[0].text };
  }
  assert.ok(found, 'the model suggested something at some position');
  const calls = core.counters.modelCalls;
  const { text, offset, suggestion } = found;
  const typed = text.slice(0, offset) + suggestion[0] + text.slice(offset);
  const through = await core.provide(at(typed, offset + 1));
  assert.equal(through.source, 'typeThrough');
  assert.equal(through.items[0].text, suggestion.slice(1));
  assert.equal(core.counters.modelCalls, calls, 'no model call');
  assert.ok(through.overheadMs < 50, `own time ${through.overheadMs.toFixed(2)} ms`);
});

test('a model without FIM tokens gives a clear error instead of a completion', async () => {
  const noFim: Backend = new EngineClient(settingsFor(paths, { modelPath: paths.noFim, contextSize: 512, sequences: 2 }), nullLogger, {
    workerPath,
  });
  try {
    const core = new CompletionCore({ backend: () => noFim, settings: () => settings });
    const outcome = await core.provide(at('const x = ', 10));
    assert.equal(outcome.source, 'error');
    assert.match(outcome.error ?? '', /fill-in-the-middle/);
  } finally {
    await noFim.dispose();
  }
});

test('a keystroke cancels the call in flight for its document and still finds its KV cache', async () => {
  const core = new CompletionCore({ backend: () => backend, settings: () => ({ ...settings, maxTokens: 48 }), prefetchAccepted: false });
  const lineEnd = source.indexOf('\n', 4000);
  const text = source.slice(0, lineEnd) + '\n' + source.slice(lineEnd);
  const offset = lineEnd + 1;
  assert.equal((await core.provide(at(text, offset))).source, 'model'); // warm: the document's prompt is evaluated
  // Two keystrokes in quick succession: the second cancels the first's engine call while it generates.
  const typed1 = text.slice(0, offset) + '~' + text.slice(offset);
  const cancelledBefore = (await backend.metrics()).cancelled;
  const previous = new AbortController();
  const core1 = core.provide(at(typed1, offset + 1), previous.signal);
  await new Promise((r) => setTimeout(r, 30));
  previous.abort();
  const typed2 = typed1.slice(0, offset + 1) + '~' + typed1.slice(offset + 1);
  const next = await core.provide(at(typed2, offset + 2));
  assert.equal((await core1).source, 'cancelled');
  assert.equal(next.source, 'model');
  assert.equal((await backend.metrics()).cancelled, cancelledBefore + 1, 'the engine call in flight was cancelled, not waited for');
  const stats = next.stats!;
  assert.ok(
    stats.evaluatedTokens <= 20,
    `evaluated ${stats.evaluatedTokens} of ${stats.promptTokens} prompt tokens after a cancelled call`,
  );
});
