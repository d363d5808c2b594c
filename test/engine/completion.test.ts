// The completion core against the real engine (node-llama-cpp on the generated fixture model):
// the prompt it builds is one the engine evaluates incrementally, cancellation leaves nothing
// behind, and the cache answers without the model. Random weights: no assertions on wording.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { CompletionCore, defaultCompletionSettings, type CompletionRequest } from '../../src/completion/core';
import { EngineRuntime } from '../../src/engine/runtime';
import type { Backend, EngineSettings } from '../../src/engine/protocol';
import { ensureFixtures, type FixturePaths } from '../fixtures/generate';

/** The in-process engine as a Backend (what the engine process serves over IPC). */
function asBackend(runtime: EngineRuntime): Backend {
  return {
    kind: 'local',
    info: () => runtime.info(),
    completeFim: (r, o) => runtime.completeFim(r, o),
    chat: (r, o) => runtime.chat(r, o),
    generateStructured: (r, o) => runtime.generateStructured(r, o),
    countTokens: (t) => runtime.countTokens(t),
    setAdapters: (a) => runtime.setAdapters(a),
    metrics: () => runtime.metrics(),
    onState: () => () => {},
    dispose: () => runtime.dispose(),
  };
}

function engineSettings(modelPath: string): EngineSettings {
  return { modelPath, speculative: 'off', contextSize: 4096, sequences: 2, threads: 0, batchSize: 512, gpu: 'cpu', adapters: [] };
}

let paths: FixturePaths;
let runtime: EngineRuntime;
let backend: Backend;
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
  paths = await ensureFixtures();
  runtime = await EngineRuntime.load(engineSettings(paths.model));
  backend = asBackend(runtime);
  const full = await readFile(join(__dirname, '..', '..', 'node_modules', 'lru-cache', 'dist', 'commonjs', 'index.js'), 'utf8');
  source = full.slice(0, 6000);
});

after(async () => {
  await runtime?.dispose();
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

test('a cancelled request leaves no completion, and the next one still works', async () => {
  const core = newCore();
  const offset = source.indexOf('\n', 4000) + 1;
  const text = source.slice(0, offset) + '\n' + source.slice(offset);
  const cancelledBefore = (await backend.metrics()).cancelled;
  const controller = new AbortController();
  const pending = core.provide(at(text, offset, 'manual'), controller.signal);
  setTimeout(() => controller.abort(), 1);
  const outcome = await pending;
  assert.equal(outcome.source, 'cancelled');
  assert.deepEqual(outcome.items, []);
  assert.equal(core.cache.size, 0, 'nothing cached from a cancelled request');
  assert.ok((await backend.metrics()).cancelled > cancelledBefore || outcome.modelCalls === 0 || outcome.stats === undefined);

  const again = await core.provide(at(text, offset));
  assert.equal(again.source, 'model');
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
  const noFim = await EngineRuntime.load({ ...engineSettings(paths.noFim), contextSize: 512, sequences: 2 });
  try {
    const core = new CompletionCore({ backend: () => asBackend(noFim), settings: () => settings });
    const outcome = await core.provide(at('const x = ', 10));
    assert.equal(outcome.source, 'error');
    assert.match(outcome.error ?? '', /fill-in-the-middle/);
  } finally {
    await noFim.dispose();
  }
});
