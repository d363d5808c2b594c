import assert from 'node:assert/strict';
import { test } from 'node:test';

import { CompletionCore, defaultCompletionSettings, type CompletionRequest } from '../../src/completion/core';
import { ExtraContextRing } from '../../src/completion/context';
import { buildPrompt, CharsPerTokenEstimator } from '../../src/completion/prompt';
import { fimTemplate } from '../../src/completion/templates';
import type { Backend, EngineInfo, EngineState, FimRequest, GenerationResult, RequestOptions } from '../../src/engine/protocol';

/** A hand-written Backend: answers FIM requests from a script, honours abort, records calls. */
class ScriptedBackend implements Backend {
  readonly kind = 'local' as const;
  readonly requests: FimRequest[] = [];
  aborted = 0;
  running = 0;
  maxRunning = 0;
  fimFamily: EngineInfo['fimFamily'] = 'qwen';
  delayMs = 0;
  private listeners = new Set<(s: EngineState) => void>();

  constructor(private readonly answer: (request: FimRequest) => string) {}

  async info(): Promise<EngineInfo> {
    return { modelPath: '/m.gguf', modelName: 'Scripted', fimFamily: this.fimFamily, adapters: [] } as unknown as EngineInfo;
  }

  completeFim(request: FimRequest, options: RequestOptions = {}): Promise<GenerationResult> {
    this.requests.push(request);
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    return new Promise<GenerationResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        const text = this.answer(request);
        resolve({
          text,
          stats: { promptTokens: 10, evaluatedTokens: 10, reusedTokens: 0, generatedTokens: 3, timeToFirstTokenMs: 1, totalMs: this.delayMs, queuedMs: 0, stopReason: 'eos' },
        });
      }, this.delayMs);
      options.signal?.addEventListener('abort', () => {
        clearTimeout(timer);
        this.aborted++;
        reject(new Error('aborted'));
      });
    }).finally(() => this.running--);
  }

  emit(state: EngineState): void {
    for (const l of this.listeners) l(state);
  }
  onState(listener: (s: EngineState) => void) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  chat = () => Promise.reject(new Error('unused'));
  generateStructured = () => Promise.reject(new Error('unused'));
  countTokens = async (text: string) => text.length;
  setAdapters = () => Promise.reject(new Error('unused'));
  metrics = () => Promise.reject(new Error('unused'));
  dispose = async () => {};
}

const settings = { ...defaultCompletionSettings, debounceMs: 0 };
const text = 'function sum(xs: number[]) {\n  return \n}\n';
const offset = text.indexOf('return ') + 'return '.length;
const request = (over: Partial<CompletionRequest> = {}): CompletionRequest => ({ text, offset, languageId: 'typescript', uri: 'file:///sum.ts', trigger: 'automatic', ...over });

function core(backend: Backend, extra: Partial<ConstructorParameters<typeof CompletionCore>[0]> = {}) {
  return new CompletionCore({ backend: () => backend, settings: () => settings, prefetchAccepted: false, ...extra });
}

test('a model call builds the FIM prompt for the document and returns an item at the cursor', async () => {
  const backend = new ScriptedBackend(() => 'xs.reduce((a, b) => a + b, 0);');
  const outcome = await core(backend).provide(request());
  assert.equal(outcome.source, 'model');
  assert.deepEqual(outcome.items, [{ text: 'xs.reduce((a, b) => a + b, 0);', start: offset, end: offset }]);
  assert.equal(backend.requests.length, 1);
  const sent = backend.requests[0];
  assert.equal(sent.documentKey, 'file:///sum.ts');
  assert.equal(sent.prompt, '<|fim_prefix|>function sum(xs: number[]) {\n<|fim_suffix|>\n}\n<|fim_middle|>  return ');
  assert.ok(sent.stop?.includes('<|endoftext|>'));
  assert.ok(outcome.overheadMs >= 0 && outcome.overheadMs <= outcome.totalMs);
});

test('the same position again and typing along the suggestion need no model call', async () => {
  const backend = new ScriptedBackend(() => 'xs.length;');
  const c = core(backend);
  await c.provide(request());
  const again = await c.provide(request());
  assert.equal(again.source, 'cache');
  const typed = text.slice(0, offset) + 'xs.' + text.slice(offset);
  const through = await c.provide(request({ text: typed, offset: offset + 3 }));
  assert.equal(through.source, 'typeThrough');
  assert.deepEqual(through.items.map((i) => i.text), ['length;']);
  assert.equal(backend.requests.length, 1);
  assert.equal(c.counters.typeThroughHits, 1);
});

test('after a suggestion, the accepted state is computed ahead and then served from the cache', async () => {
  const backend = new ScriptedBackend((r) => (r.prompt.endsWith('xs.length;') ? '// done' : 'xs.length;'));
  const c = core(backend, { prefetchAccepted: true });
  await c.provide(request());
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(backend.requests.length, 2, 'one prefetch');
  const accepted = text.slice(0, offset) + 'xs.length;' + text.slice(offset);
  const next = await c.provide(request({ text: accepted, offset: offset + 'xs.length;'.length }));
  assert.equal(next.source, 'cache');
  assert.deepEqual(next.items.map((i) => i.text), ['// done']);
  assert.equal(backend.requests.length, 2, 'served without a model call');
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(backend.requests.length, 3, 'and what follows the prefetched suggestion is prefetched in turn');
  assert.ok(backend.requests[2].prompt.endsWith('xs.length;// done'));
  await c.provide(request({ text: accepted, offset: offset + 'xs.length;'.length }));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(backend.requests.length, 3, 'the same state again starts no second prefetch');
});

test('automatic triggers are skipped in the middle of code; manual ones are not', async () => {
  const backend = new ScriptedBackend(() => 'x');
  const busy = 'const value = compute(alpha, beta, gamma);\n';
  const c = core(backend);
  const skipped = await c.provide(request({ text: busy, offset: busy.indexOf('compute') }));
  assert.equal(skipped.source, 'skipped');
  assert.equal(backend.requests.length, 0);
  const manual = await c.provide(request({ text: busy, offset: busy.indexOf('compute'), trigger: 'manual' }));
  assert.equal(manual.source, 'model');
  assert.deepEqual(backend.requests[0].stop?.includes('\n'), true, 'code right of the cursor: one line');
});

test('a cancelled keystroke shows nothing; its engine call goes on and answers the next one from the cache', async () => {
  const backend = new ScriptedBackend(() => 'late;');
  backend.delayMs = 50;
  const c = core(backend);
  const controller = new AbortController();
  const pending = c.provide(request(), controller.signal);
  setTimeout(() => controller.abort(), 10);
  const outcome = await pending;
  assert.equal(outcome.source, 'cancelled');
  assert.deepEqual(outcome.items, []);
  assert.equal(backend.aborted, 0, 'the engine call was not cancelled');
  const next = await c.provide(request());
  assert.equal(next.source, 'cache');
  assert.deepEqual(next.items.map((i) => i.text), ['late;']);
  assert.equal(backend.requests.length, 1);
});

test('a cancelled manual request cancels its engine call and caches nothing', async () => {
  const backend = new ScriptedBackend(() => 'late;');
  backend.delayMs = 50;
  const c = core(backend);
  const controller = new AbortController();
  const pending = c.provide(request({ trigger: 'manual' }), controller.signal);
  setTimeout(() => controller.abort(), 10);
  assert.equal((await pending).source, 'cancelled');
  assert.equal(backend.aborted, 1);
  assert.equal(c.cache.size, 0);
});

test('with cancelSuperseded false a newer keystroke waits for the engine call in flight: calls never overlap', async () => {
  const backend = new ScriptedBackend((r) => (r.prompt.endsWith('return q') ? 'q + 1;' : 'a;'));
  backend.delayMs = 40;
  const c = core(backend, { cancelSuperseded: false });
  const first = new AbortController();
  const firstOutcome = c.provide(request(), first.signal);
  await new Promise((r) => setTimeout(r, 5));
  first.abort(); // VS Code cancels the older request when the user types
  const typed = text.slice(0, offset) + 'q' + text.slice(offset);
  const second = await c.provide(request({ text: typed, offset: offset + 1 }));
  assert.equal((await firstOutcome).source, 'cancelled');
  assert.equal(second.source, 'model');
  assert.deepEqual(second.items.map((i) => i.text), ['q + 1;']);
  assert.equal(backend.requests.length, 2);
  assert.equal(backend.maxRunning, 1);
  assert.equal(backend.aborted, 0);
});

test('a newer keystroke cancels the engine call in flight for its document (the default)', async () => {
  const backend = new ScriptedBackend((r) => (r.prompt.endsWith('return q') ? 'q + 1;' : 'a;'));
  backend.delayMs = 200;
  const c = core(backend);
  const first = new AbortController();
  const firstOutcome = c.provide(request(), first.signal);
  await new Promise((r) => setTimeout(r, 5));
  first.abort();
  backend.delayMs = 0;
  const typed = text.slice(0, offset) + 'q' + text.slice(offset);
  const started = performance.now();
  const second = await c.provide(request({ text: typed, offset: offset + 1 }));
  assert.ok(performance.now() - started < 150, 'did not wait for the superseded call');
  assert.equal((await firstOutcome).source, 'cancelled');
  assert.deepEqual(second.items.map((i) => i.text), ['q + 1;']);
  assert.equal(backend.aborted, 1);
  assert.equal(backend.maxRunning, 1, 'the superseded call ended before the next one started');
});

test('waiting (cancelSuperseded false), typing along an answer that arrives meanwhile is served without a new call', async () => {
  const backend = new ScriptedBackend(() => 'xs.length;');
  backend.delayMs = 40;
  const c = core(backend, { cancelSuperseded: false });
  const first = new AbortController();
  const firstOutcome = c.provide(request(), first.signal);
  await new Promise((r) => setTimeout(r, 5));
  first.abort();
  const typed = text.slice(0, offset) + 'x' + text.slice(offset);
  const second = await c.provide(request({ text: typed, offset: offset + 1 }));
  assert.equal((await firstOutcome).source, 'cancelled');
  assert.equal(second.source, 'typeThrough');
  assert.deepEqual(second.items.map((i) => i.text), ['s.length;']);
  assert.equal(backend.requests.length, 1);
});

test('a call for another document is cancelled rather than waited for', async () => {
  const backend = new ScriptedBackend(() => 'a;');
  backend.delayMs = 200;
  const c = core(backend);
  const first = new AbortController();
  const pending = c.provide(request({ uri: 'file:///other.ts' }), first.signal);
  await new Promise((r) => setTimeout(r, 5));
  first.abort();
  backend.delayMs = 0;
  const started = performance.now();
  assert.equal((await c.provide(request())).source, 'model');
  assert.ok(performance.now() - started < 150, 'did not wait for the other document');
  assert.equal(backend.aborted, 1);
  await pending;
});

test('the debounce waits before an automatic call and gives way to cancellation', async () => {
  const backend = new ScriptedBackend(() => 'a;');
  const c = new CompletionCore({ backend: () => backend, settings: () => ({ ...settings, debounceMs: 30 }), prefetchAccepted: false });
  const controller = new AbortController();
  const pending = c.provide(request(), controller.signal);
  setTimeout(() => controller.abort(), 5);
  assert.equal((await pending).source, 'cancelled');
  assert.equal(backend.requests.length, 0, 'cancelled during the debounce: no model call');
  const outcome = await c.provide(request());
  assert.ok(outcome.debounceMs >= 25, `debounced ${outcome.debounceMs} ms`);
});

test('manual triggers offer up to three different alternatives', async () => {
  let n = 0;
  const backend = new ScriptedBackend(() => ['xs.length;', 'xs.length;', 'xs[0];'][n++]);
  const outcome = await core(backend).provide(request({ trigger: 'manual' }));
  assert.equal(backend.requests.length, 3);
  assert.deepEqual(outcome.items.map((i) => i.text), ['xs.length;', 'xs[0];'], 'duplicates removed');
  assert.ok(backend.requests[1].stop?.includes('\n'));
  assert.ok(backend.requests[2].maxTokens > backend.requests[0].maxTokens);
});

test("the suggest widget's selected item is extended and its range replaced", async () => {
  const doc = 'const n = xs.le\n';
  const backend = new ScriptedBackend(() => ' * 2;');
  const at = doc.indexOf('le') + 2;
  const outcome = await core(backend).provide(
    request({ text: doc, offset: at, selected: { start: doc.indexOf('le'), end: at, text: 'length' } }),
  );
  assert.ok(backend.requests[0].prompt.endsWith('<|fim_middle|>const n = xs.length'));
  assert.deepEqual(outcome.items, [{ text: 'length * 2;', start: doc.indexOf('le'), end: at }]);
});

test('a model without FIM tokens is a clear error, not garbage', async () => {
  const backend = new ScriptedBackend(() => 'x');
  backend.fimFamily = null;
  const outcome = await core(backend).provide(request());
  assert.equal(outcome.source, 'error');
  assert.match(outcome.error ?? '', /fill-in-the-middle/);
  assert.equal(backend.requests.length, 0);
});

test('other files from the ring go first in the prompt; the current file is left out', async () => {
  const ring = new ExtraContextRing();
  ring.add({ uri: 'file:///util.ts', path: 'util.ts', text: 'export const one = 1;\nexport const two = 2;\nexport const three = 3;' });
  ring.add({ uri: 'file:///sum.ts', path: 'sum.ts', text: 'old\ncopy\nof\nsum' });
  const backend = new ScriptedBackend(() => 'x;');
  await core(backend, { ring }).provide(request({ repoName: 'demo', path: 'src/sum.ts' }));
  const prompt = backend.requests[0].prompt;
  assert.ok(prompt.startsWith('<|repo_name|>demo\n<|file_sep|>util.ts\nexport const one = 1;'));
  assert.ok(!prompt.includes('old\ncopy'));
  assert.ok(prompt.includes('<|file_sep|>src/sum.ts\n<|fim_prefix|>'));
});

test('after a reload the model is read again (a new model is a new cache key)', async () => {
  const backend = new ScriptedBackend(() => 'x;');
  const c = core(backend);
  await c.provide(request());
  backend.emit({ kind: 'loading', progress: 0, file: '/other.gguf' });
  backend.fimFamily = null;
  assert.equal((await c.provide(request())).source, 'error');
});

test('on a slow engine the accepted state is prefetched once the user types along, not when shown', async () => {
  const backend = new ScriptedBackend((r) => (r.prompt.endsWith('xs.length;') ? '// next' : 'xs.length;'));
  backend.delayMs = 60;
  const c = core(backend, { prefetchAccepted: true, eagerPrefetchMaxLatencyMs: 30 });
  await c.provide(request());
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(backend.requests.length, 1, 'no prefetch while the user may ignore the suggestion');
  const typed = text.slice(0, offset) + 'xs' + text.slice(offset);
  assert.equal((await c.provide(request({ text: typed, offset: offset + 2 }))).source, 'typeThrough');
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(backend.requests.length, 2, 'typing along starts the prefetch');
  assert.ok(backend.requests[1].prompt.endsWith('xs.length;'));
  const accepted = text.slice(0, offset) + 'xs.length;' + text.slice(offset);
  const next = await c.provide(request({ text: accepted, offset: offset + 'xs.length;'.length }));
  assert.equal(next.source, 'cache');
  assert.deepEqual(next.items.map((i) => i.text), ['// next']);
});

test("the first prompt's windows in each language are sized with the model's token count, asked once per language", async () => {
  class Counting extends ScriptedBackend {
    countCalls = 0;
    override countTokens = async (t: string) => {
      this.countCalls++;
      return Math.ceil(t.length / 2.5);
    };
  }
  const backend = new Counting(() => 'a;');
  const c = core(backend, { settings: () => ({ ...settings, extraContext: false }) });
  const long = Array.from({ length: 600 }, (_, i) => `  const v${i} = f(${i});`).join('\n');
  const at = long.indexOf('\n', long.indexOf('  const v300 '));
  const first = await c.provide(request({ text: long, offset: at }));
  assert.equal(first.source, 'model');
  const expected = buildPrompt(
    fimTemplate('qwen'),
    { text: long, offset: at, languageId: 'typescript', path: 'sum.ts', repoName: '', files: [] },
    { contextTokens: settings.contextTokens, extraTokens: 0 },
    new CharsPerTokenEstimator(2.5),
  );
  assert.equal(backend.requests[0].prompt, expected.prompt);
  await c.provide(request({ text: long.slice(0, at) + 'x' + long.slice(at), offset: at + 1 }));
  assert.equal(backend.countCalls, 1);
  const py = long.replaceAll('const ', '');
  const python = await c.provide(request({ text: py, offset: py.indexOf('\n', py.indexOf('  v300 ')), languageId: 'python', uri: 'file:///sum.py' }));
  assert.equal(python.source, 'model');
  assert.equal(backend.countCalls, 2, 'another language has its own ratio');
  assert.equal(c.estimatorFor('typescript').calibrated, true);
});
