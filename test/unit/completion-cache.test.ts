import assert from 'node:assert/strict';
import { test } from 'node:test';

import { CompletionCache } from '../../src/completion/cache';

const before = 'function greet(name: string) {\n  return ';
const after = '\n}\n';

test('an exact hit for the same text around the cursor and the same model', () => {
  const cache = new CompletionCache();
  const text = before + after;
  cache.set(cache.key('m1', text, before.length), ['`Hello, ${name}`;']);
  assert.deepEqual(cache.lookup('m1', text, before.length), { texts: ['`Hello, ${name}`;'], typed: 0 });
  assert.equal(cache.lookup('m2', text, before.length), undefined, 'another model (or adapter) misses');
  assert.equal(cache.lookup('m1', before + '\n}\n// more', before.length), undefined, 'other text after the cursor misses');
});

test('type-through: typing the start of a suggestion answers with the rest', () => {
  const cache = new CompletionCache();
  cache.set(cache.key('m', before + after, before.length), ['`Hello, ${name}`;', 'name;']);
  const typed = '`Hel';
  const text = before + typed + after;
  const hit = cache.lookup('m', text, before.length + typed.length);
  assert.deepEqual(hit, { texts: ['lo, ${name}`;'], typed: 4 }, 'only the alternatives that match what was typed');
});

test('type-through misses when the typed text differs or the suggestion is used up', () => {
  const cache = new CompletionCache();
  cache.set(cache.key('m', before + after, before.length), ['abc']);
  assert.equal(cache.lookup('m', before + 'abd' + after, before.length + 3), undefined);
  assert.equal(cache.lookup('m', before + 'abc' + after, before.length + 3), undefined);
  assert.equal(cache.lookup('m', before + 'ab' + after, before.length + 2, 1), undefined, 'beyond maxTyped');
});

test('empty completions are not cached; the LRU keeps at most max entries', () => {
  const cache = new CompletionCache(2);
  cache.set('k0', ['']);
  assert.equal(cache.size, 0);
  cache.set('k1', ['a']);
  cache.set('k2', ['b']);
  cache.set('k3', ['c']);
  assert.equal(cache.size, 2);
});
