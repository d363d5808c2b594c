import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { CATEGORIES, findingsSchema, SEVERITIES, validateReviewOutput, type RawFinding } from '../../src/review/schema';

const good: RawFinding = {
  file: 'src/a.ts',
  startLine: 3,
  endLine: 4,
  severity: 'warning',
  category: 'bug',
  message: 'off by one',
  replacement: null,
};

describe('findings schema', () => {
  test('names every field as required and pins the enums', () => {
    const schema = findingsSchema() as {
      properties: { findings: { items: { required: string[]; properties: Record<string, { enum?: unknown[] }> } } };
    };
    const item = schema.properties.findings.items;
    assert.deepEqual([...item.required].sort(), ['category', 'endLine', 'file', 'message', 'replacement', 'severity', 'startLine']);
    assert.deepEqual(item.properties.severity.enum, [...SEVERITIES]);
    assert.deepEqual(item.properties.category.enum, [...CATEGORIES]);
  });

  test('narrowed to the files and lines a request shows', () => {
    const schema = findingsSchema({ files: ['a.ts'], lines: [3, 4, 5], maxFindings: 2 }) as {
      properties: { findings: { maxItems: number; items: { properties: Record<string, { enum?: unknown[] }> } } };
    };
    assert.equal(schema.properties.findings.maxItems, 2);
    assert.deepEqual(schema.properties.findings.items.properties.file.enum, ['a.ts']);
    assert.deepEqual(schema.properties.findings.items.properties.startLine.enum, [3, 4, 5]);
  });
});

describe('validateReviewOutput', () => {
  test('accepts a valid answer as is', () => {
    const value = { findings: [good, { ...good, replacement: 'x + 1', severity: 'error', category: 'security' }] };
    assert.deepEqual(validateReviewOutput(value), { findings: value.findings, errors: [] });
    assert.deepEqual(validateReviewOutput({ findings: [] }), { findings: [], errors: [] });
  });

  test('rejects answers that are not an object with findings', () => {
    for (const value of [null, 'text', [], {}, { findings: 'none' }]) {
      const r = validateReviewOutput(value);
      assert.equal(r.findings.length, 0);
      assert.equal(r.errors.length, 1, JSON.stringify(value));
    }
  });

  test('leaves out each malformed finding and says why, keeping the rest', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ ...good, file: '' }, /file/],
      [{ ...good, startLine: 2.5 }, /startLine must be an integer/],
      [{ ...good, endLine: '4' }, /endLine must be an integer/],
      [{ ...good, startLine: 0 }, /at least 1/],
      [{ ...good, severity: 'fatal' }, /severity/],
      [{ ...good, category: 'naming' }, /category/],
      [{ ...good, message: '' }, /message/],
      [{ ...good, message: 'x'.repeat(201) }, /message longer/],
      [{ ...good, replacement: 3 }, /replacement/],
      [{ ...good, extra: true }, /unexpected property "extra"/],
      [Object.fromEntries(Object.entries(good).filter(([k]) => k !== 'category')), /category/],
    ];
    for (const [finding, why] of bad) {
      const r = validateReviewOutput({ findings: [good, finding] });
      assert.deepEqual(r.findings, [good], JSON.stringify(finding));
      assert.equal(r.errors.length, 1, JSON.stringify(r.errors));
      assert.match(r.errors[0], why);
      assert.match(r.errors[0], /^findings\[1\]/);
    }
  });

  test('checks the request-specific limits (files, lines, counts)', () => {
    const opts = { files: ['src/a.ts'], lines: [3, 4], maxFindings: 1 };
    assert.deepEqual(validateReviewOutput({ findings: [good] }, opts).errors, []);
    assert.match(validateReviewOutput({ findings: [{ ...good, file: 'b.ts' }] }, opts).errors[0], /not one of the files/);
    assert.match(validateReviewOutput({ findings: [{ ...good, endLine: 9 }] }, opts).errors[0], /not a line shown/);
    assert.match(validateReviewOutput({ findings: [good, good] }, opts).errors[0], /more than 1/);
    assert.match(validateReviewOutput({ findings: [] }, { minFindings: 1 }).errors[0], /fewer than 1/);
    assert.equal(
      (findingsSchema({ minFindings: 1 }) as { properties: { findings: { minItems?: number } } }).properties.findings.minItems,
      1,
    );
    assert.equal('minItems' in (findingsSchema() as { properties: { findings: object } }).properties.findings, false);
  });

  test('no replacement allowed when its limit is 0', () => {
    const schema = findingsSchema({ maxReplacementChars: 0 }) as {
      properties: { findings: { items: { properties: { replacement: unknown } } } };
    };
    assert.deepEqual(schema.properties.findings.items.properties.replacement, { type: 'null' });
    assert.deepEqual(validateReviewOutput({ findings: [good] }, { maxReplacementChars: 0 }).errors, []);
    assert.match(validateReviewOutput({ findings: [{ ...good, replacement: '' }] }, { maxReplacementChars: 0 }).errors[0], /must be null/);
  });

  test('lengths count characters, as the grammar does, not UTF-16 units', () => {
    const emoji = '😀'.repeat(200);
    assert.deepEqual(validateReviewOutput({ findings: [{ ...good, message: emoji }] }).errors, []);
  });
});
