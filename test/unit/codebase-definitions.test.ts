import assert from 'node:assert/strict';
import { test } from 'node:test';

import { DefinitionContext, type DefinitionLocation, type DefinitionLookup } from '../../src/codebase/definitions';
import { identifiersNear, maskCommentsAndStrings } from '../../src/codebase/identifiers';
import { definitionSnippet } from '../../src/codebase/snippet';

const at = (text: string, marker = '|') => ({ text: text.replace(marker, ''), offset: text.indexOf(marker) });

test('identifiers near the cursor: nearest first, no keywords, no comment or string words, not the word being typed', () => {
  const { text, offset } = at(
    [
      'import { Cart } from "./cartModel";',
      '// helperInComment',
      'function totalOf(cart: Cart): Cents {',
      '  const sum = priceOf|',
      '}',
    ].join('\n'),
  );
  const names = identifiersNear(text, offset).map((n) => n.name);
  assert.equal(names[0], 'sum', 'the cursor line first');
  assert.ok(names.includes('totalOf') && names.includes('Cart') && names.includes('Cents'));
  assert.ok(!names.includes('priceOf'), 'the word under the cursor is still being typed');
  assert.ok(!names.includes('helperInComment') && !names.includes('cartModel'));
  assert.ok(!names.includes('function') && !names.includes('const') && !names.includes('import'));
  assert.ok(names.indexOf('totalOf') < names.indexOf('Cart') || names.indexOf('Cart') > 0);
});

test('identifiers near the cursor are bounded: lines, count, and a long minified line', () => {
  const far = Array.from({ length: 20 }, (_, i) => `farName${i} = 1;`).join('\n');
  const { text, offset } = at(`${far}\nnearName = other|;\n`);
  const names = identifiersNear(text, offset, { linesBefore: 2, max: 3 }).map((n) => n.name);
  assert.equal(names.length, 3);
  assert.ok(!names.includes('farName0'));
  const minified = 'aaa=bbb;'.repeat(200_000);
  const started = performance.now();
  identifiersNear(minified, minified.length / 2);
  assert.ok(performance.now() - started < 200, 'a minified line costs little');
});

test("'#' is a comment only where the language says so", () => {
  assert.equal(maskCommentsAndStrings('x = 1 # note', true).trim(), 'x = 1');
  assert.equal(maskCommentsAndStrings('this.#count = 1', false), 'this.#count = 1');
  const { text, offset } = at('class A {\n  #secretField = 1;\n  get() { return this.#sec|');
  assert.ok(identifiersNear(text, offset).some((n) => n.name === 'secretField'));
  assert.ok(!identifiersNear(text, offset, { hashComments: true }).some((n) => n.name === 'secretField'));
});

test('snippet: doc comment and a short declaration whole', () => {
  const file = [
    'import x from "y";',
    '',
    '/** Money in cents. */',
    'export interface Cents {',
    '  value: number;',
    '}',
    '',
    'const other = 1;',
  ].join('\n');
  const snippet = definitionSnippet(file, 3);
  assert.equal(snippet.text, ['/** Money in cents. */', 'export interface Cents {', '  value: number;', '}'].join('\n'));
  assert.equal(snippet.startLine, 2);
});

test('snippet: a long function keeps its signature only', () => {
  const body = Array.from({ length: 40 }, (_, i) => `  step${i}();`);
  const file = ['/**', ' * Adds up a cart.', ' */', 'export function totalOf(', '  cart: Cart,', '): Cents {', ...body, '}'].join('\n');
  const snippet = definitionSnippet(file, 3);
  assert.match(snippet.text, /^\/\*\*\n \* Adds up a cart\.\n \*\/\nexport function totalOf\(\n {2}cart: Cart,\n\): Cents \{\n/);
  assert.ok(!snippet.text.includes('step0'));
  assert.ok(snippet.text.endsWith('…'));
});

test('snippet: Python def with docstring, bounded by indentation', () => {
  const file = ['def mean(xs):', '    """The mean."""', '    return sum(xs) / len(xs)', '', 'def other():', '    pass'].join('\n');
  const snippet = definitionSnippet(file, 0);
  assert.equal(snippet.text, ['def mean(xs):', '    """The mean."""', '    return sum(xs) / len(xs)'].join('\n'));
});

test('snippet: a huge one-line declaration is cut to the character cap', () => {
  const snippet = definitionSnippet(`export const table = [${'1,'.repeat(10_000)}];`, 0, { maxChars: 300 });
  assert.ok(snippet.text.length <= 301);
});

/** A language server stand-in: named answers after a delay, or never, or an error. */
class ScriptedServer implements DefinitionLookup {
  calls: string[] = [];
  constructor(
    readonly files: Record<string, string>,
    readonly answers: Record<string, DefinitionLocation[] | 'hang' | 'throw'>,
    readonly delayMs = 0,
  ) {}
  async find(_uri: string, _offset: number, name: string): Promise<DefinitionLocation[]> {
    this.calls.push(name);
    const answer = this.answers[name] ?? [];
    if (answer === 'hang') return new Promise(() => {});
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    if (answer === 'throw') throw new Error('server crashed');
    return answer;
  }
  async read(uri: string): Promise<string | undefined> {
    return this.files[uri];
  }
}

const cartFile = [
  '/** A shopping cart. */',
  'export interface Cart {',
  '  items: Item[];',
  '}',
  '',
  '/** An item. */',
  'export interface Item {',
  '  price: number;',
  '}',
].join('\n');
const doc = at(['const cart: Cart = load();', 'const first: Item = cart.items[0];', 'total(|'].join('\n'));
const loc = (line: number): DefinitionLocation[] => [{ uri: 'file:///w/cart.ts', path: 'cart.ts', line }];

test('definitions from another file become chunks, cached per symbol', async () => {
  const server = new ScriptedServer({ 'file:///w/cart.ts': cartFile }, { Cart: loc(1), Item: loc(6) });
  const context = new DefinitionContext({ lookup: server, budgetMs: 500 });
  await context.prepare('file:///w/main.ts', doc.text, doc.offset);
  const chunks = context.chunks('file:///w/main.ts', doc.text, doc.offset);
  assert.deepEqual(chunks.map((c) => c.text).sort(), [
    '/** A shopping cart. */\nexport interface Cart {\n  items: Item[];\n}',
    '/** An item. */\nexport interface Item {\n  price: number;\n}',
  ]);
  assert.ok(chunks.every((c) => c.path === 'cart.ts'));
  const calls = server.calls.length;
  await context.prepare('file:///w/main.ts', doc.text, doc.offset);
  assert.equal(server.calls.length, calls, 'a second request asks the server nothing');
  context.invalidateFile('file:///w/cart.ts');
  await context.prepare('file:///w/main.ts', doc.text, doc.offset);
  assert.ok(server.calls.length > calls, 'a change to the definitions file asks again');
});

test('chunks keep the order in which symbols were first resolved (the prompt head stays put)', async () => {
  const server = new ScriptedServer({ 'file:///w/cart.ts': cartFile }, { Cart: loc(1), Item: loc(6) });
  const context = new DefinitionContext({ lookup: server, budgetMs: 500 });
  const a = at('const c: Cart = x;\n\n\nfoo|');
  await context.prepare('file:///w/main.ts', a.text, a.offset);
  const b = at('const c: Cart = x;\nconst i: Item = y;\nfoo|');
  await context.prepare('file:///w/main.ts', b.text, b.offset);
  // Item is nearer the cursor now, but Cart was resolved first: it stays first.
  assert.deepEqual(
    context.chunks('file:///w/main.ts', b.text, b.offset).map((c) => c.text.split('\n')[1]),
    ['export interface Cart {', 'export interface Item {'],
  );
});

test('a hanging language server costs at most the budget, then is paused', async () => {
  const server = new ScriptedServer(
    {},
    { Cart: 'hang', Item: 'hang', load: 'hang', cart: 'hang', first: 'hang', items: 'hang', total: 'hang' },
  );
  const context = new DefinitionContext({ lookup: server, budgetMs: 30, lookupTimeoutMs: 60, timeoutsBeforePause: 2, pauseMs: 60_000 });
  const started = performance.now();
  await context.prepare('file:///w/main.ts', doc.text, doc.offset);
  assert.ok(performance.now() - started < 200, 'prepare returns within its budget');
  assert.deepEqual(context.chunks('file:///w/main.ts', doc.text, doc.offset), []);
  await new Promise((r) => setTimeout(r, 120));
  assert.ok(context.counters.timeouts >= 2);
  const calls = server.calls.length;
  context.clear();
  await context.prepare('file:///w/main.ts', doc.text, doc.offset);
  assert.equal(server.calls.length, calls, 'paused after timeouts in a row: the hung server is not asked');
});

test('a throwing language server gives no chunks and no error', async () => {
  const server = new ScriptedServer({}, { Cart: 'throw', Item: 'throw' });
  const context = new DefinitionContext({ lookup: server, budgetMs: 100 });
  await context.prepare('file:///w/main.ts', doc.text, doc.offset);
  assert.deepEqual(context.chunks('file:///w/main.ts', doc.text, doc.offset), []);
  assert.ok(context.counters.failures >= 2);
});

test('a slow answer arrives after the budget and is used by the next request', async () => {
  const server = new ScriptedServer({ 'file:///w/cart.ts': cartFile }, { Cart: loc(1) }, 80);
  const context = new DefinitionContext({ lookup: server, budgetMs: 10 });
  await context.prepare('file:///w/main.ts', doc.text, doc.offset);
  assert.equal(context.chunks('file:///w/main.ts', doc.text, doc.offset).length, 0, 'not ready within the budget');
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(context.chunks('file:///w/main.ts', doc.text, doc.offset).length, 1, 'ready for the next keystroke');
});

test("definitions inside the current document's window are left out, those far away kept", async () => {
  const lines = Array.from({ length: 300 }, (_, i) => `const filler${i} = ${i};`);
  lines[2] = 'interface Near { a: number; }';
  lines[250] = 'interface Far { b: number; }';
  lines[20] = 'const x: Near = y; const z: Far = w;';
  lines[21] = 'go(';
  const text = lines.join('\n');
  const offset = text.indexOf('go(') + 3;
  const self = 'file:///w/self.ts';
  const server = new ScriptedServer(
    { [self]: text },
    { Near: [{ uri: self, path: 'self.ts', line: 2 }], Far: [{ uri: self, path: 'self.ts', line: 250 }] },
  );
  const context = new DefinitionContext({ lookup: server, budgetMs: 200 });
  await context.prepare(self, text, offset);
  assert.deepEqual(
    context.chunks(self, text, offset).map((c) => c.text),
    ['interface Far { b: number; }'],
  );
});

test('the cache is bounded', async () => {
  const server = new ScriptedServer({}, {});
  const context = new DefinitionContext({ lookup: server, budgetMs: 100, capacity: 5, near: { max: 50, linesBefore: 50 } });
  const text = Array.from({ length: 40 }, (_, i) => `name${i}x = 1;`).join('\n');
  for (let i = 0; i < 5; i++) await context.prepare('file:///w/a.ts', text, text.length);
  assert.ok(context.size <= 5 + 4, `size ${context.size}`);
});
