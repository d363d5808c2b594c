import assert from 'node:assert/strict';
import { test } from 'node:test';

import { EngineError } from '../../src/engine/protocol';
import { chatHistory, grammarSchema, validateTools } from '../../src/engine/toolCalls';

test('schemas keep what a grammar can enforce and drop the rest', () => {
  const schema = grammarSchema({
    type: 'object',
    properties: {
      path: { type: 'string', pattern: '^src/', format: 'uri', maxLength: 200, description: 'a file' },
      mode: { enum: ['read', 'write'] },
      lines: { type: 'array', items: { type: 'integer' }, maxItems: 3 },
      either: { anyOf: [{ type: 'string' }, { type: 'null' }] },
      many: { type: ['string', 'number'] },
      ref: { $ref: '#/definitions/x' },
      free: { type: 'object' },
    },
    required: ['path'],
    $schema: 'http://json-schema.org/draft-07/schema#',
  });
  assert.deepEqual(schema, {
    type: 'object',
    properties: {
      path: { type: 'string', maxLength: 200, description: 'a file' },
      mode: { enum: ['read', 'write'] },
      lines: { type: 'array', items: { type: 'integer' }, maxItems: 3 },
      either: { oneOf: [{ type: 'string' }, { type: 'null' }] },
      many: { type: ['string', 'number'] },
      ref: { type: ['string', 'number', 'boolean', 'null'] },
      free: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean', 'null'] } },
    },
  });
  assert.deepEqual(grammarSchema(null), { type: ['string', 'number', 'boolean', 'null'] });
  // Nesting beyond the limit ends in a scalar rather than an unbounded grammar.
  let deep: object = { type: 'string' };
  for (let i = 0; i < 20; i++) deep = { type: 'array', items: deep };
  assert.ok(JSON.stringify(grammarSchema(deep)).length < 400);
});

test('tool calls with their results become function-call history; ending in results continues that reply', () => {
  const history = chatHistory([
    { role: 'system', content: 's' },
    { role: 'user', content: 'q' },
    { role: 'assistant', content: 'Let me look.', toolCalls: [{ id: 'call_1', name: 'find', arguments: { q: 'x' }, result: 'found' }] },
  ]);
  assert.deepEqual(history, [
    { type: 'system', text: 's' },
    { type: 'user', text: 'q' },
    { type: 'model', response: ['Let me look.', { type: 'functionCall', name: 'find', params: { q: 'x' }, result: 'found' }] },
  ]);
  const plain = chatHistory([{ role: 'user', content: 'q' }]);
  assert.deepEqual(plain.at(-1), { type: 'model', response: [] }, 'a plain question opens a new reply');
  const missing = chatHistory([{ role: 'assistant', content: '', toolCalls: [{ id: 'c', name: 'find', arguments: {} }] }]);
  const item = missing[0];
  assert.ok(item.type === 'model' && typeof item.response[0] === 'object');
  assert.equal(typeof (item.response[0] as { result: unknown }).result, 'string', 'a call without a result still renders');
});

test('tool lists are validated: names, duplicates, count, schema size', () => {
  validateTools(undefined);
  validateTools([{ name: 'enclave_readFile', description: 'x', parameters: { type: 'object' } }]);
  const bad = [
    'tools',
    [{ name: '', description: '' }],
    [{ name: 'a.b', description: '' }],
    [
      { name: 'a', description: '' },
      { name: 'a', description: '' },
    ],
    Array.from({ length: 129 }, (_, i) => ({ name: `t${i}`, description: '' })),
    [{ name: 'big', description: '', parameters: { description: 'x'.repeat(70_000) } }],
  ];
  for (const tools of bad)
    assert.throws(
      () => validateTools(tools),
      (err: unknown) => err instanceof EngineError && err.code === 'BAD_REQUEST',
    );
});
