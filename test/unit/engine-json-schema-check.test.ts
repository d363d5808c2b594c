// The code-point schema check behind structured output (src/engine/jsonSchemaCheck.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { codePointLength, schemaMismatch } from '../../src/engine/jsonSchemaCheck';

const finding = {
  type: 'object',
  properties: {
    findings: {
      type: 'array',
      minItems: 1,
      maxItems: 2,
      items: {
        type: 'object',
        properties: {
          line: { type: 'integer' },
          severity: { enum: ['info', 'warning', 'error'] },
          message: { type: 'string', minLength: 1, maxLength: 4 },
          replacement: { oneOf: [{ type: 'null' }, { type: 'string', maxLength: 3 }] },
        },
      },
    },
  },
};

describe('schemaMismatch', () => {
  it('counts string length in code points: emoji at the limit pass, one more fails', () => {
    assert.equal(codePointLength('😀😀'), 2);
    assert.equal(schemaMismatch({ findings: [{ line: 1, severity: 'info', message: '😀😀😀😀', replacement: 'a😀😀' }] }, finding), null);
    assert.match(
      schemaMismatch({ findings: [{ line: 1, severity: 'info', message: '😀😀😀😀😀', replacement: null }] }, finding) ?? '',
      /at most 4 characters, got 5/,
    );
    assert.match(
      schemaMismatch({ findings: [{ line: 1, severity: 'info', message: 'ok', replacement: '😀😀😀😀' }] }, finding) ?? '',
      /none of 2 options/,
    );
  });

  it('checks types, enums, required and extra keys, item counts', () => {
    const ok = { line: 3, severity: 'error', message: 'x', replacement: null };
    assert.equal(schemaMismatch({ findings: [ok] }, finding), null);
    assert.match(schemaMismatch({ findings: [] }, finding)!, /at least 1 items/);
    assert.match(schemaMismatch({ findings: [ok, ok, ok] }, finding)!, /at most 2 items/);
    assert.match(schemaMismatch({ findings: [{ ...ok, line: 1.5 }] }, finding)!, /expected integer/);
    assert.match(schemaMismatch({ findings: [{ ...ok, severity: 'fatal' }] }, finding)!, /one of/);
    assert.match(schemaMismatch({ findings: [{ ...ok, extra: 1 }] }, finding)!, /unexpected keys "extra"/);
    const { message: _, ...noMessage } = ok;
    assert.match(schemaMismatch({ findings: [noMessage] }, finding)!, /missing keys "message"/);
    assert.match(schemaMismatch({ findings: [{ ...ok, message: '' }] }, finding)!, /at least 1 characters/);
  });

  it('follows $ref into $defs, type arrays, const and string formats', () => {
    const schema = {
      $defs: { n: { type: ['integer', 'null'] } },
      type: 'object',
      properties: { a: { $ref: '#/$defs/n' }, k: { const: 'v' }, d: { type: 'string', format: 'date' } },
    };
    assert.equal(schemaMismatch({ a: null, k: 'v', d: '2026-11-26' }, schema), null);
    assert.match(schemaMismatch({ a: 'x', k: 'v', d: '2026-11-26' }, schema)!, /types integer, null/);
    assert.match(schemaMismatch({ a: 1, k: 'w', d: '2026-11-26' }, schema)!, /expected "v"/);
    assert.match(schemaMismatch({ a: 1, k: 'v', d: 'tomorrow' }, schema)!, /valid date/);
  });
});
