import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import type { MetricEvent } from '../../src/metrics/events';
import { loadVersioned, writeAtomic } from '../../src/metrics/jsonFile';
import { partlyAcceptedChars, retainedChars, shiftRange } from '../../src/metrics/retention';
import { METRICS_FORMAT, MetricsStore, validateMetrics, type MetricsData } from '../../src/metrics/store';

const d = { language: 'go', model: 'm', adapter: '' };
const DAY = 86_400_000;
const shown = (t: number, latencyMs = 100): MetricEvent => ({ kind: 'shown', t, source: 'model', latencyMs, chars: 3, ...d });

test('the ring is bounded; totals of dropped events stay in the daily rollups', () => {
  const store = new MetricsStore(undefined, { maxEvents: 10, maxDays: 400, maxBytes: 1e9 });
  for (let i = 0; i < 25; i++) store.record(shown(i * 1000, 10 + i));
  assert.equal(store.eventCount, 10);
  assert.equal(store.summary(-Infinity).shown, 25, 'all 25 from the rollup');
  assert.equal(store.summary(-Infinity).exact, false);
  const recent = store.summary(20_000);
  assert.equal(recent.shown, 5, 'a range the ring still holds is exact');
  assert.equal(recent.exact, true);
  assert.equal(recent.latencyP95, 34);
});

test('the store stays under its byte limit', () => {
  const store = new MetricsStore(undefined, { maxEvents: 100_000, maxDays: 400, maxBytes: 50_000 });
  for (let i = 0; i < 2000; i++) store.record(shown(i));
  assert.ok(JSON.stringify(store.toJSON()).length <= 50_000 + 500 * 120, 'checked every 500 events');
  assert.ok(store.eventCount < 2000);
  assert.equal(store.summary(-Infinity).shown, 2000);
});

test('rollups older than maxDays go; a summary filters by model', () => {
  const store = new MetricsStore(undefined, { maxEvents: 1, maxDays: 2, maxBytes: 1e9 });
  store.record(shown(0));
  store.record(shown(DAY));
  store.record({ ...shown(2 * DAY), model: 'other' });
  assert.equal(store.summary(-Infinity).shown, 2);
  assert.equal(store.summary(-Infinity, Infinity, { model: 'other' }).shown, 1);
});

test('save and load round-trip through validation', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'metrics-'));
  const store = new MetricsStore();
  store.record(shown(1));
  store.record({ kind: 'accepted', t: 2, chars: 3, partial: false, ...d });
  await writeAtomic(join(dir, 'metrics.json'), store.toJSON());
  const loaded = await loadVersioned(join(dir, 'metrics.json'), METRICS_FORMAT, validateMetrics);
  assert.equal(loaded.kind, 'loaded');
  const again = new MetricsStore(loaded.kind === 'loaded' ? loaded.data : undefined);
  assert.equal(again.summary(-Infinity).acceptanceRate, 1);
  assert.deepEqual(readdirSync(dir), ['metrics.json'], 'no temporary file left');
});

test('a corrupt file, a future version and a malformed event are set aside, never overwritten', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'metrics-'));
  const file = join(dir, 'metrics.json');
  const cases: Array<[string, RegExp]> = [
    ['{"version": 1, "events": [', /JSON/],
    [JSON.stringify({ version: 99, events: [], rollups: [] }), /newer/],
    [JSON.stringify({ version: 1, events: [{ kind: 'shown', t: 'x' }], rollups: [] }), /event/],
    ['[]', /object/],
  ];
  for (const [i, [content, why]] of cases.entries()) {
    writeFileSync(file, content);
    const result = await loadVersioned(file, METRICS_FORMAT, validateMetrics, 1_000_000 * (i + 1));
    assert.equal(result.kind, 'setAside');
    if (result.kind !== 'setAside') continue;
    assert.match(result.reason, why);
    assert.equal(readFileSync(result.setAsidePath, 'utf8'), content, 'the bad file is kept as it was');
  }
  assert.equal(readdirSync(dir).filter((f) => f.startsWith('metrics.json.bad-')).length, 4);
  assert.deepEqual(await loadVersioned(file, METRICS_FORMAT, validateMetrics), { kind: 'missing' });
});

test('a loaded store keeps counting from where it was', () => {
  const data: MetricsData = new MetricsStore().toJSON();
  const first = new MetricsStore(data);
  first.record(shown(5));
  const second = new MetricsStore(validateMetrics(JSON.parse(JSON.stringify(first.toJSON())) as Record<string, unknown>));
  second.record(shown(6));
  assert.equal(second.summary(-Infinity).shown, 2);
});

test('retention: a range follows edits before it and inside it', () => {
  const range = { start: 10, end: 20 };
  assert.deepEqual(shiftRange(range, { offset: 0, removed: 0, inserted: 5 }), { start: 15, end: 25 }, 'typed before');
  assert.deepEqual(shiftRange(range, { offset: 25, removed: 3, inserted: 0 }), range, 'deleted after');
  assert.deepEqual(shiftRange(range, { offset: 12, removed: 2, inserted: 6 }), { start: 10, end: 24 }, 'edited inside');
  assert.deepEqual(shiftRange(range, { offset: 15, removed: 10, inserted: 0 }), { start: 10, end: 15 }, 'cut across the end');
  assert.deepEqual(shiftRange(range, { offset: 5, removed: 10, inserted: 1 }), { start: 6, end: 11 }, 'cut across the start');
  assert.deepEqual(shiftRange(range, { offset: 0, removed: 30, inserted: 0 }), { start: 0, end: 0 }, 'deleted with its surroundings');
});

test('retention: characters still there count, an edit in the middle costs only what it changed', () => {
  assert.equal(retainedChars('return a + b;', 'return a + b;'), 13);
  assert.equal(retainedChars('return a + b;', 'return a - b;'), 12);
  assert.equal(retainedChars('return a + b;', ''), 0);
  assert.equal(retainedChars('abc', 'xxabcxx'), 3);
  const long = 'line of code\n'.repeat(400);
  assert.equal(retainedChars(long, long), long.length);
});

test('a partial acceptance is a leading part of the suggestion inserted at its start in one edit', () => {
  const shown = { offset: 100, text: 'const total = items.length;' };
  assert.equal(partlyAcceptedChars(shown, { offset: 100, removed: 0, text: 'const ' }), 6, 'a word');
  assert.equal(partlyAcceptedChars(shown, { offset: 100, removed: 0, text: 'c' }), 0, 'one typed character is typing');
  assert.equal(partlyAcceptedChars(shown, { offset: 100, removed: 0, text: shown.text }), 0, 'all of it is a full acceptance');
  assert.equal(partlyAcceptedChars(shown, { offset: 101, removed: 0, text: 'onst' }), 0, 'elsewhere');
  assert.equal(partlyAcceptedChars(shown, { offset: 100, removed: 3, text: 'const ' }), 0, 'a replacement');
  assert.equal(partlyAcceptedChars(shown, { offset: 100, removed: 0, text: 'let x' }), 0, 'other text');
});
