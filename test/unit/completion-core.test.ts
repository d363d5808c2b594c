import assert from 'node:assert/strict';
import { test } from 'node:test';

import { CompletionCore, defaultCompletionSettings, type CompletionRequest } from '../../src/completion/core';
import { ExtraContextRing } from '../../src/completion/extraContext';
import { buildPrompt, CharsPerTokenEstimator } from '../../src/completion/prompt';
import { fimTemplate } from '../../src/completion/templates';
import type { EngineInfo, FimRequest } from '../../src/engine/protocol';
import { FakeBackend, FakeClock, settle } from './fakes';

/** A backend answering FIM requests with `answer`, its waits on `clock`. */
function scripted(
  answer: (request: FimRequest) => string,
  clock = new FakeClock(),
  info: () => Partial<EngineInfo> = () => ({}),
  countTokens = (t: string) => t.length,
) {
  return new FakeBackend({
    fim: (r) => answer(r),
    clock,
    countTokens,
    info: () => ({ modelPath: '/m.gguf', modelName: 'Scripted', ...info() }),
  });
}

/** `promise`'s value if it settles without any time passing; fails the test if it waits for time. */
async function withoutWaiting<T>(promise: Promise<T>): Promise<T> {
  const pending = Symbol('pending');
  const first = await Promise.race([promise, settle().then(() => pending)]);
  if (first === pending) assert.fail('it waited for time to pass');
  return first as T;
}

const settings = { ...defaultCompletionSettings, debounceMs: 0 };
const text = 'function sum(xs: number[]) {\n  return \n}\n';
const offset = text.indexOf('return ') + 'return '.length;
const request = (over: Partial<CompletionRequest> = {}): CompletionRequest => ({
  text,
  offset,
  languageId: 'typescript',
  uri: 'file:///sum.ts',
  trigger: 'automatic',
  ...over,
});

function core(backend: FakeBackend, extra: Partial<ConstructorParameters<typeof CompletionCore>[0]> = {}) {
  return new CompletionCore({ backend: () => backend, settings: () => settings, prefetchAccepted: false, clock: backend.clock, ...extra });
}

test('a model call builds the FIM prompt for the document and returns an item at the cursor', async () => {
  const backend = scripted(() => 'xs.reduce((a, b) => a + b, 0);');
  const outcome = await core(backend).provide(request());
  assert.equal(outcome.source, 'model');
  assert.deepEqual(outcome.items, [{ text: 'xs.reduce((a, b) => a + b, 0);', start: offset, end: offset }]);
  assert.equal(backend.fimRequests.length, 1);
  const sent = backend.fimRequests[0];
  assert.equal(sent.documentKey, 'file:///sum.ts');
  assert.equal(sent.prompt, '<|fim_prefix|>function sum(xs: number[]) {\n<|fim_suffix|>\n}\n<|fim_middle|>  return ');
  assert.ok(sent.stop?.includes('<|endoftext|>'));
  assert.ok(outcome.overheadMs >= 0 && outcome.overheadMs <= outcome.totalMs);
});

test('the same position again and typing along the suggestion need no model call', async () => {
  const backend = scripted(() => 'xs.length;');
  const c = core(backend);
  await c.provide(request());
  const again = await c.provide(request());
  assert.equal(again.source, 'cache');
  const typed = text.slice(0, offset) + 'xs.' + text.slice(offset);
  const through = await c.provide(request({ text: typed, offset: offset + 3 }));
  assert.equal(through.source, 'typeThrough');
  assert.deepEqual(
    through.items.map((i) => i.text),
    ['length;'],
  );
  assert.equal(backend.fimRequests.length, 1);
  assert.equal(c.counters.typeThroughHits, 1);
});

test('after a suggestion, the accepted state is computed ahead and then served from the cache', async () => {
  const backend = scripted((r) => (r.prompt.endsWith('xs.length;') ? '// done' : 'xs.length;'));
  const c = core(backend, { prefetchAccepted: true });
  await c.provide(request());
  await settle();
  assert.equal(backend.fimRequests.length, 2, 'one prefetch');
  const accepted = text.slice(0, offset) + 'xs.length;' + text.slice(offset);
  const next = await c.provide(request({ text: accepted, offset: offset + 'xs.length;'.length }));
  assert.equal(next.source, 'cache');
  assert.deepEqual(
    next.items.map((i) => i.text),
    ['// done'],
  );
  assert.equal(backend.fimRequests.length, 2, 'served without a model call');
  await settle();
  assert.equal(backend.fimRequests.length, 3, 'and what follows the prefetched suggestion is prefetched in turn');
  assert.ok(backend.fimRequests[2].prompt.endsWith('xs.length;// done'));
  await c.provide(request({ text: accepted, offset: offset + 'xs.length;'.length }));
  await settle();
  assert.equal(backend.fimRequests.length, 3, 'the same state again starts no second prefetch');
});

test('automatic triggers are skipped in the middle of code; manual ones are not', async () => {
  const backend = scripted(() => 'x');
  const busy = 'const value = compute(alpha, beta, gamma);\n';
  const c = core(backend);
  const skipped = await c.provide(request({ text: busy, offset: busy.indexOf('compute') }));
  assert.equal(skipped.source, 'skipped');
  assert.equal(backend.fimRequests.length, 0);
  const manual = await c.provide(request({ text: busy, offset: busy.indexOf('compute'), trigger: 'manual' }));
  assert.equal(manual.source, 'model');
  assert.deepEqual(backend.fimRequests[0].stop?.includes('\n'), true, 'code right of the cursor: one line');
});

test('a cancelled keystroke shows nothing; its engine call goes on and answers the next one from the cache', async () => {
  const clock = new FakeClock();
  const backend = scripted(() => 'late;', clock);
  backend.fimDelayMs = 50;
  const c = core(backend);
  const controller = new AbortController();
  const pending = c.provide(request(), controller.signal);
  await clock.advance(10);
  controller.abort();
  const outcome = await pending;
  assert.equal(outcome.source, 'cancelled');
  assert.deepEqual(outcome.items, []);
  assert.equal(backend.aborted, 0, 'the engine call was not cancelled');
  const next = c.provide(request());
  await clock.advance(40);
  assert.equal((await next).source, 'cache');
  assert.deepEqual(
    (await next).items.map((i) => i.text),
    ['late;'],
  );
  assert.equal(backend.fimRequests.length, 1);
});

test('a cancelled manual request cancels its engine call and caches nothing', async () => {
  const clock = new FakeClock();
  const backend = scripted(() => 'late;', clock);
  backend.fimDelayMs = 50;
  const c = core(backend);
  const controller = new AbortController();
  const pending = c.provide(request({ trigger: 'manual' }), controller.signal);
  await clock.advance(10);
  controller.abort();
  assert.equal((await pending).source, 'cancelled');
  assert.equal(backend.aborted, 1);
  assert.equal(c.cache.size, 0);
});

test('with cancelSuperseded false a newer keystroke waits for the engine call in flight: calls never overlap', async () => {
  const clock = new FakeClock();
  const backend = scripted((r) => (r.prompt.endsWith('return q') ? 'q + 1;' : 'a;'), clock);
  backend.fimDelayMs = 40;
  const c = core(backend, { cancelSuperseded: false });
  const first = new AbortController();
  const firstOutcome = c.provide(request(), first.signal);
  await clock.advance(5);
  first.abort(); // VS Code cancels the older request when the user types
  const typed = text.slice(0, offset) + 'q' + text.slice(offset);
  const pending = c.provide(request({ text: typed, offset: offset + 1 }));
  await clock.advance(34);
  assert.equal(backend.fimRequests.length, 1, 'the second call waits for the first');
  await clock.advance(41);
  const second = await pending;
  assert.equal((await firstOutcome).source, 'cancelled');
  assert.equal(second.source, 'model');
  assert.deepEqual(
    second.items.map((i) => i.text),
    ['q + 1;'],
  );
  assert.equal(backend.fimRequests.length, 2);
  assert.equal(backend.maxRunning, 1);
  assert.equal(backend.aborted, 0);
});

test('a newer keystroke cancels the engine call in flight for its document (the default)', async () => {
  const clock = new FakeClock();
  const backend = scripted((r) => (r.prompt.endsWith('return q') ? 'q + 1;' : 'a;'), clock);
  backend.fimDelayMs = 200;
  const c = core(backend);
  const first = new AbortController();
  const firstOutcome = c.provide(request(), first.signal);
  await clock.advance(5);
  first.abort();
  backend.fimDelayMs = 0;
  const typed = text.slice(0, offset) + 'q' + text.slice(offset);
  const second = await withoutWaiting(c.provide(request({ text: typed, offset: offset + 1 })));
  assert.equal((await firstOutcome).source, 'cancelled');
  assert.deepEqual(
    second.items.map((i) => i.text),
    ['q + 1;'],
  );
  assert.equal(backend.aborted, 1);
  assert.equal(backend.maxRunning, 1, 'the superseded call ended before the next one started');
});

test('waiting (cancelSuperseded false), typing along an answer that arrives meanwhile is served without a new call', async () => {
  const clock = new FakeClock();
  const backend = scripted(() => 'xs.length;', clock);
  backend.fimDelayMs = 40;
  const c = core(backend, { cancelSuperseded: false });
  const first = new AbortController();
  const firstOutcome = c.provide(request(), first.signal);
  await clock.advance(5);
  first.abort();
  const typed = text.slice(0, offset) + 'x' + text.slice(offset);
  const pending = c.provide(request({ text: typed, offset: offset + 1 }));
  await clock.advance(35);
  const second = await pending;
  assert.equal((await firstOutcome).source, 'cancelled');
  assert.equal(second.source, 'typeThrough');
  assert.deepEqual(
    second.items.map((i) => i.text),
    ['s.length;'],
  );
  assert.equal(backend.fimRequests.length, 1);
});

test('a call for another document is cancelled rather than waited for', async () => {
  const clock = new FakeClock();
  const backend = scripted(() => 'a;', clock);
  backend.fimDelayMs = 200;
  const c = core(backend);
  const first = new AbortController();
  const pending = c.provide(request({ uri: 'file:///other.ts' }), first.signal);
  await clock.advance(5);
  first.abort();
  backend.fimDelayMs = 0;
  assert.equal((await withoutWaiting(c.provide(request()))).source, 'model');
  assert.equal(backend.aborted, 1);
  await pending;
});

test('the debounce waits before an automatic call and gives way to cancellation', async () => {
  const clock = new FakeClock();
  const backend = scripted(() => 'a;', clock);
  const c = core(backend, { settings: () => ({ ...settings, debounceMs: 30 }) });
  const controller = new AbortController();
  const pending = c.provide(request(), controller.signal);
  await clock.advance(5);
  controller.abort();
  assert.equal((await pending).source, 'cancelled');
  assert.equal(backend.fimRequests.length, 0, 'cancelled during the debounce: no model call');
  const next = c.provide(request());
  await clock.advance(29);
  assert.equal(backend.fimRequests.length, 0, 'still waiting');
  await clock.advance(1);
  const outcome = await next;
  assert.equal(backend.fimRequests.length, 1);
  assert.equal(outcome.debounceMs, 30);
});

test('manual triggers offer up to three different alternatives', async () => {
  let n = 0;
  const backend = scripted(() => ['xs.length;', 'xs.length;', 'xs[0];'][n++]);
  const outcome = await core(backend).provide(request({ trigger: 'manual' }));
  assert.equal(backend.fimRequests.length, 3);
  assert.deepEqual(
    outcome.items.map((i) => i.text),
    ['xs.length;', 'xs[0];'],
    'duplicates removed',
  );
  assert.ok(backend.fimRequests[1].stop?.includes('\n'));
  assert.ok(backend.fimRequests[2].maxTokens > backend.fimRequests[0].maxTokens);
});

test("the suggest widget's selected item is extended and its range replaced", async () => {
  const doc = 'const n = xs.le\n';
  const backend = scripted(() => ' * 2;');
  const at = doc.indexOf('le') + 2;
  const outcome = await core(backend).provide(
    request({ text: doc, offset: at, selected: { start: doc.indexOf('le'), end: at, text: 'length' } }),
  );
  assert.ok(backend.fimRequests[0].prompt.endsWith('<|fim_middle|>const n = xs.length'));
  assert.deepEqual(outcome.items, [{ text: 'length * 2;', start: doc.indexOf('le'), end: at }]);
});

test('a model without FIM tokens is a clear error, not garbage', async () => {
  const backend = scripted(
    () => 'x',
    new FakeClock(),
    () => ({ fimFamily: null }),
  );
  const outcome = await core(backend).provide(request());
  assert.equal(outcome.source, 'error');
  assert.match(outcome.error ?? '', /fill-in-the-middle/);
  assert.equal(backend.fimRequests.length, 0);
});

test('other files from the ring go first in the prompt; the current file is left out', async () => {
  const ring = new ExtraContextRing();
  ring.add({ uri: 'file:///util.ts', path: 'util.ts', text: 'export const one = 1;\nexport const two = 2;\nexport const three = 3;' });
  ring.add({ uri: 'file:///sum.ts', path: 'sum.ts', text: 'old\ncopy\nof\nsum' });
  const backend = scripted(() => 'x;');
  await core(backend, { ring }).provide(request({ repoName: 'demo', path: 'src/sum.ts' }));
  const prompt = backend.fimRequests[0].prompt;
  assert.ok(prompt.startsWith('<|repo_name|>demo\n<|file_sep|>util.ts\nexport const one = 1;'));
  assert.ok(!prompt.includes('old\ncopy'));
  assert.ok(prompt.includes('<|file_sep|>src/sum.ts\n<|fim_prefix|>'));
});

test('after a reload the model is read again (a new model is a new cache key)', async () => {
  let fimFamily: EngineInfo['fimFamily'] = 'qwen';
  const backend = scripted(
    () => 'x;',
    new FakeClock(),
    () => ({ fimFamily }),
  );
  const c = core(backend);
  await c.provide(request());
  backend.emit({ kind: 'loading', progress: 0, file: '/other.gguf' });
  fimFamily = null;
  assert.equal((await c.provide(request())).source, 'error');
});

test('on a slow engine the accepted state is prefetched once the user types along, not when shown', async () => {
  const clock = new FakeClock();
  const backend = scripted((r) => (r.prompt.endsWith('xs.length;') ? '// next' : 'xs.length;'), clock);
  backend.fimDelayMs = 60;
  const c = core(backend, { prefetchAccepted: true, eagerPrefetchMaxLatencyMs: 30 });
  const first = c.provide(request());
  await clock.advance(60);
  await first;
  await clock.advance(100);
  assert.equal(backend.fimRequests.length, 1, 'no prefetch while the user may ignore the suggestion');
  const typed = text.slice(0, offset) + 'xs' + text.slice(offset);
  assert.equal((await c.provide(request({ text: typed, offset: offset + 2 }))).source, 'typeThrough');
  await clock.advance(100);
  assert.equal(backend.fimRequests.length, 2, 'typing along starts the prefetch');
  assert.ok(backend.fimRequests[1].prompt.endsWith('xs.length;'));
  const accepted = text.slice(0, offset) + 'xs.length;' + text.slice(offset);
  const next = await c.provide(request({ text: accepted, offset: offset + 'xs.length;'.length }));
  assert.equal(next.source, 'cache');
  assert.deepEqual(
    next.items.map((i) => i.text),
    ['// next'],
  );
});

test("the first prompt's windows in each language are sized with the model's token count, asked once per language", async () => {
  const backend = scripted(
    () => 'a;',
    new FakeClock(),
    () => ({}),
    (t) => Math.ceil(t.length / 2.5),
  );
  const countCalls = () => backend.calls.filter((c) => c === 'countTokens').length;
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
  assert.equal(backend.fimRequests[0].prompt, expected.prompt);
  await c.provide(request({ text: long.slice(0, at) + 'x' + long.slice(at), offset: at + 1 }));
  assert.equal(countCalls(), 1);
  const py = long.replaceAll('const ', '');
  const python = await c.provide(
    request({ text: py, offset: py.indexOf('\n', py.indexOf('  v300 ')), languageId: 'python', uri: 'file:///sum.py' }),
  );
  assert.equal(python.source, 'model');
  assert.equal(countCalls(), 2, 'another language has its own ratio');
  assert.equal(c.estimatorFor('typescript').calibrated, true);
});

test('warming a document sends its prompt with nothing to generate; the first keystroke then extends that prompt', async () => {
  const backend = scripted(() => 'xs.length;');
  const c = core(backend);
  assert.ok(await c.warm(request()));
  assert.equal(backend.fimRequests.length, 1);
  const warmed = backend.fimRequests[0];
  assert.equal(warmed.maxTokens, 0);
  assert.equal(warmed.documentKey, 'file:///sum.ts');
  // The user types one character where the cursor was: the same windows, the prompt only grows.
  const typed = text.slice(0, offset) + 'x' + text.slice(offset);
  const outcome = await c.provide(request({ text: typed, offset: offset + 1 }));
  assert.equal(outcome.source, 'model');
  const sent = backend.fimRequests[1];
  assert.ok(sent.maxTokens > 0);
  assert.equal(sent.prompt, warmed.prompt + 'x', 'the keystroke prompt is the warmed one plus the typed character');
  // A warm-up is not counted as one of the user's model calls.
  assert.equal(c.counters.modelCalls, 1);
});

test('warming does not cancel or wait behind the user: skipped while a call runs, cancelled by the next keystroke', async () => {
  const clock = new FakeClock();
  const backend = scripted(() => 'a;', clock);
  backend.fimDelayMs = 200;
  const c = core(backend);
  const running = c.provide(request());
  await clock.advance(5);
  assert.equal(await withoutWaiting(c.warm(request({ uri: 'file:///other.ts' }))), undefined, 'skipped while the keystroke runs');
  await clock.advance(200);
  await running;
  const calls = backend.fimRequests.length;
  const warming = c.warm(request({ uri: 'file:///other.ts' }));
  await clock.advance(5);
  assert.equal(backend.fimRequests.length, calls + 1);
  backend.fimDelayMs = 0;
  const typed = text.slice(0, offset) + 'q' + text.slice(offset);
  assert.equal((await withoutWaiting(c.provide(request({ text: typed, offset: offset + 1 })))).source, 'model');
  assert.equal(await warming, undefined, 'the warm-up was cancelled');
  assert.equal(backend.aborted, 1);
  assert.equal(backend.maxRunning, 1);
});

test('a warm-up replaces one still running for a file the user has left', async () => {
  const clock = new FakeClock();
  const backend = scripted(() => 'a;', clock);
  backend.fimDelayMs = 200;
  const c = core(backend);
  const left = c.warm(request({ uri: 'file:///left.ts' }));
  await clock.advance(5);
  assert.equal(backend.fimRequests.length, 1);
  const switched = c.warm(request({ uri: 'file:///switched.ts' }));
  await clock.advance(5);
  assert.equal(await left, undefined, 'the first warm-up was cancelled');
  assert.equal(backend.aborted, 1);
  assert.equal(backend.fimRequests.length, 2);
  assert.equal(backend.fimRequests[1].maxTokens, 0);
  await clock.advance(200);
  assert.ok(await switched, 'the file switched to was warmed');
  assert.equal(backend.maxRunning, 1);
});

test('a place where no suggestion would be asked for is not warmed', async () => {
  const backend = scripted(() => 'a;');
  const mid = text.indexOf('number');
  assert.equal(await core(backend).warm(request({ offset: mid + 2 })), undefined);
  assert.equal(backend.fimRequests.length, 0);
});
