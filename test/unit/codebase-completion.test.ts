// The completion core with a context source (definitions near the cursor): its chunks reach the
// prompt after the ring's, and the prompt waits for `prepare`.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { CompletionCore, defaultCompletionSettings, type CompletionContextSource } from '../../src/completion/core';
import { ExtraContextRing } from '../../src/completion/extraContext';
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
