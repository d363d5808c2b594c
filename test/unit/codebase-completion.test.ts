// The completion core with a context source (definitions near the cursor, the index's best chunk):
// its chunks reach the prompt after the ring's, the prompt waits for `prepare` only within its
// budget, and the index's chunk goes after the definitions.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { CompletionCore, defaultCompletionSettings, type CompletionContextSource } from '../../src/completion/core';
import { ExtraContextRing } from '../../src/completion/extraContext';
import { CodebaseCompletionContext } from '../../src/codebase/completionContext';
import { DefinitionContext, type DefinitionLookup } from '../../src/codebase/definitions';
import { FakeBackend, settle } from './fakes';

const text = 'function total(cart: Cart) {\n  return \n}\n';
const offset = text.indexOf('return ') + 'return '.length;

test("a context source's chunks go into the prompt after the ring's, once prepare has settled", async () => {
  const backend = new FakeBackend({
    fim: () => 'x;',
    countTokens: (t) => t.length,
    info: () => ({ modelPath: '/m.gguf', modelName: 'Scripted' }),
  });
  const ring = new ExtraContextRing();
  ring.add({ uri: 'file:///util.ts', path: 'util.ts', text: 'export const one = 1;\nexport const two = 2;\nexport const three = 3;' });
  let release!: () => void;
  const prepared = new Promise<void>((resolve) => (release = resolve));
  const seen: string[] = [];
  const source: CompletionContextSource = {
    prepare: async (request) => {
      seen.push(request.uri);
      await prepared;
    },
    chunks: () => [{ path: 'cart.ts', text: 'export interface Cart {\n  items: number[];\n}' }],
  };
  const core = new CompletionCore({
    backend: () => backend,
    settings: () => ({ ...defaultCompletionSettings, debounceMs: 0 }),
    prefetchAccepted: false,
    clock: backend.clock,
    ring,
    contextSource: source,
  });
  const outcome = core.provide({ text, offset, languageId: 'typescript', uri: 'file:///main.ts', trigger: 'automatic' });
  await settle();
  assert.deepEqual(seen, ['file:///main.ts']);
  assert.equal(backend.fimRequests.length, 0, 'no prompt before prepare settles');
  release();
  await outcome;
  const prompt = backend.fimRequests[0].prompt;
  assert.ok(prompt.includes('export interface Cart'), prompt);
  assert.ok(prompt.indexOf('export const one') < prompt.indexOf('export interface Cart'), 'the ring (most stable) first');
  assert.ok(prompt.indexOf('export interface Cart') < prompt.indexOf('function total'));
});

test('with extra context off, a context source adds nothing', async () => {
  const backend = new FakeBackend({
    fim: () => 'x;',
    countTokens: (t) => t.length,
    info: () => ({ modelPath: '/m.gguf', modelName: 'Scripted' }),
  });
  const core = new CompletionCore({
    backend: () => backend,
    settings: () => ({ ...defaultCompletionSettings, debounceMs: 0, extraContext: false }),
    prefetchAccepted: false,
    clock: backend.clock,
    contextSource: { prepare: async () => {}, chunks: () => [{ path: 'cart.ts', text: 'export interface Cart {}' }] },
  });
  await core.provide({ text, offset, languageId: 'typescript', uri: 'file:///main.ts', trigger: 'automatic' });
  assert.ok(!backend.fimRequests[0].prompt.includes('interface Cart'));
});

const report = 'import type { StockLevel } from "./inventory";\nexport function describe(level: StockLevel) {\n  return \n}\n';
const reportOffset = report.indexOf('return ') + 'return '.length;
const stockLevel = '/** Units on hand. */\nexport interface StockLevel {\n  unitsOnHand: number;\n}\n\nexport function restock() {}\n';

/** A language server stand-in: StockLevel is defined in inventory.ts, or it never answers. */
function lookup(answer: 'inventory' | 'hang'): DefinitionLookup {
  return {
    find: async (_uri, _offset, name) => {
      if (answer === 'hang') return new Promise(() => {});
      return name === 'StockLevel' ? [{ uri: 'file:///w/inventory.ts', path: 'inventory.ts', line: 1 }] : [];
    },
    read: async (uri) => (uri === 'file:///w/inventory.ts' ? stockLevel : undefined),
  };
}

function coreWith(source: CompletionContextSource) {
  const backend = new FakeBackend({
    fim: () => 'level.unitsOnHand;',
    countTokens: (t) => t.length,
    info: () => ({ modelPath: '/m.gguf', modelName: 'Scripted' }),
  });
  const core = new CompletionCore({
    backend: () => backend,
    settings: () => ({ ...defaultCompletionSettings, debounceMs: 0 }),
    prefetchAccepted: false,
    contextSource: source,
  });
  return { backend, core };
}

const request = { text: report, offset: reportOffset, languageId: 'typescript', uri: 'file:///w/report.ts', path: 'report.ts' };

test('a language server that never answers does not hold back the completion', async () => {
  const definitions = new DefinitionContext({ lookup: lookup('hang'), budgetMs: 20, lookupTimeoutMs: 50 });
  const source = new CodebaseCompletionContext({ definitions, useDefinitions: () => true, useIndex: () => false, search: async () => [] });
  const { backend, core } = coreWith(source);
  const outcome = await core.provide({ ...request, trigger: 'automatic' });
  assert.equal(outcome.source, 'model');
  assert.deepEqual(
    outcome.items.map((i) => i.text),
    ['level.unitsOnHand;'],
  );
  assert.equal(backend.fimRequests.length, 1);
  assert.ok(!backend.fimRequests[0].prompt.includes('interface StockLevel'), 'no definition: the lookup is still pending');
});

test("the index's chunk for the names near the cursor follows the definitions and gives way to a definition from its file", async () => {
  const queries: string[] = [];
  const index = (path: string, text: string) => async (query: string) => (queries.push(query), [{ path, uri: `file:///w/${path}`, text }]);
  const none = new DefinitionContext({ lookup: lookup('hang'), budgetMs: 1, lookupTimeoutMs: 50 });
  const onlyIndex = new CodebaseCompletionContext({
    definitions: none,
    useDefinitions: () => true,
    useIndex: () => true,
    search: index('inventory.ts', stockLevel),
  });
  const signal = new AbortController().signal;
  await onlyIndex.prepare({ ...request, trigger: 'automatic' }, report, reportOffset, signal);
  await settle();
  assert.ok(queries[0].split(' ').includes('StockLevel'), queries[0]);
  assert.deepEqual(
    onlyIndex.chunks({ ...request, trigger: 'automatic' }, report, reportOffset),
    [{ path: 'inventory.ts', text: stockLevel.split('\n').slice(0, 40).join('\n') }],
    'used from the next keystroke',
  );

  // A definition from the same file: the definition alone (the index's chunk is the whole file).
  const definitions = new DefinitionContext({ lookup: lookup('inventory'), budgetMs: 500 });
  const both = new CodebaseCompletionContext({
    definitions,
    useDefinitions: () => true,
    useIndex: () => true,
    search: index('inventory.ts', stockLevel),
  });
  await both.prepare({ ...request, trigger: 'automatic' }, report, reportOffset, signal);
  await settle();
  const chunks = both.chunks({ ...request, trigger: 'automatic' }, report, reportOffset);
  assert.equal(chunks.length, 1);
  assert.ok(chunks[0].text.includes('export interface StockLevel'));
  assert.ok(!chunks[0].text.includes('restock'));

  // A chunk of another file goes after the definitions (they change less often: the prompt head keeps its cache).
  const other = new CodebaseCompletionContext({
    definitions,
    useDefinitions: () => true,
    useIndex: () => true,
    search: index('stock.ts', 'a\nb\nc'),
  });
  await other.prepare({ ...request, trigger: 'automatic' }, report, reportOffset, signal);
  await settle();
  assert.deepEqual(
    other.chunks({ ...request, trigger: 'automatic' }, report, reportOffset).map((c) => c.path),
    ['inventory.ts', 'stock.ts'],
  );

  // enclave.index.completion off: the index is not asked.
  const asked = queries.length;
  const off = new CodebaseCompletionContext({
    definitions: none,
    useDefinitions: () => true,
    useIndex: () => false,
    search: index('stock.ts', 'a'),
  });
  await off.prepare({ ...request, trigger: 'automatic' }, report, reportOffset, signal);
  await settle();
  assert.equal(queries.length, asked);
  assert.deepEqual(off.chunks({ ...request, trigger: 'automatic' }, report, reportOffset), []);
});
