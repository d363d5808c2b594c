import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { MetricEvent } from '../../src/metrics/events';
import { histogramPercentile, LATENCY_BOUNDS_MS, percentile, summarize, summarizeBy, timeline } from '../../src/metrics/stats';

const d = { language: 'typescript', model: 'qwen', adapter: '' };
const shown = (t: number, latencyMs: number, extra: Partial<Extract<MetricEvent, { kind: 'shown' }>> = {}): MetricEvent => ({
  kind: 'shown',
  t,
  source: 'model',
  latencyMs,
  chars: 10,
  ...d,
  ...extra,
});
const accepted = (t: number, chars: number, partial = false, extra: Partial<typeof d> = {}): MetricEvent => ({
  kind: 'accepted',
  t,
  chars,
  partial,
  ...d,
  ...extra,
});

test('percentiles are nearest-rank: p50 and p95 of 1..100 ms are 50 and 95; of one value, that value', () => {
  const values = Array.from({ length: 100 }, (_, i) => 100 - i);
  assert.equal(percentile(values, 50), 50);
  assert.equal(percentile(values, 95), 95);
  assert.equal(percentile(values, 100), 100);
  assert.equal(percentile([42], 95), 42);
  assert.equal(percentile([], 50), undefined);
  assert.deepEqual(values.slice(0, 2), [100, 99], 'the input is not sorted in place');
});

test('a histogram percentile is the upper bound of the bucket the rank falls in', () => {
  const histogram = new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0);
  histogram[LATENCY_BOUNDS_MS.indexOf(100)] = 90; // 90 requests in (75, 100]
  histogram[LATENCY_BOUNDS_MS.indexOf(750)] = 10; // 10 in (500, 750]
  assert.equal(histogramPercentile(histogram, 50), 100);
  assert.equal(histogramPercentile(histogram, 90), 100);
  assert.equal(histogramPercentile(histogram, 95), 750);
  assert.equal(histogramPercentile(new Array<number>(21).fill(0), 95), undefined);
});

test('acceptance: 10 shown, 3 accepted, 2 partly accepted; typing along a suggestion shows nothing new', () => {
  const log: MetricEvent[] = [];
  for (let i = 0; i < 10; i++) log.push(shown(i * 1000, 100 + i * 10, { source: i < 2 ? 'cache' : 'model' }));
  log.push(shown(10_500, 1, { source: 'typeThrough' }), shown(10_600, 1, { source: 'typeThrough' }));
  log.push(accepted(11_000, 20), accepted(12_000, 5), accepted(13_000, 7), accepted(14_000, 4, true), accepted(15_000, 6, true));
  const s = summarize(log);
  assert.equal(s.shown, 10);
  assert.equal(s.accepted, 3);
  assert.equal(s.partlyAccepted, 2);
  assert.equal(s.acceptanceRate, 0.3);
  assert.equal(s.anyAcceptanceRate, 0.5);
  assert.equal(s.cacheShare, 0.2);
  assert.equal(s.latencyP50, 140, 'the 5th of 100,110,…,190');
  assert.equal(s.latencyP95, 190);
  assert.equal(s.exact, true);
});

test('retention: characters still present over characters checked, a retained count never above what was inserted', () => {
  const log: MetricEvent[] = [
    { kind: 'retained', t: 1, chars: 40, retained: 40, ...d },
    { kind: 'retained', t: 2, chars: 60, retained: 20, ...d },
    { kind: 'retained', t: 3, chars: 10, retained: 99, ...d },
  ];
  assert.equal(summarize(log).retention, (40 + 20 + 10) / (40 + 60 + 10));
  assert.equal(summarize([]).retention, undefined, 'no acceptance checked: no rate, not 0');
});

test('tokens per second, first-token percentiles, draft acceptance, chat and review throughput, restarts and errors', () => {
  const log: MetricEvent[] = [
    shown(1, 300, { firstTokenMs: 40, generatedTokens: 30, generationMs: 250, draft: { accepted: 24, rejected: 6 } }),
    shown(2, 200, { firstTokenMs: 20, generatedTokens: 20, generationMs: 250, draft: { accepted: 6, rejected: 4 } }),
    shown(3, 5, { source: 'cache' }),
    { kind: 'generation', t: 4, feature: 'chat', tokens: 100, ms: 2000, firstTokenMs: 300, ...d },
    { kind: 'generation', t: 5, feature: 'review', tokens: 60, ms: 3000, firstTokenMs: 500, ...d },
    { kind: 'engine', t: 6, what: 'restart', ...d },
    { kind: 'engine', t: 7, what: 'error', message: 'boom', ...d },
    { kind: 'engine', t: 8, what: 'error', message: 'boom', ...d },
  ];
  const s = summarize(log);
  assert.equal(s.tokensPerSecond, 100, '50 tokens in 500 ms');
  assert.equal(s.firstTokenP50, 20);
  assert.equal(s.firstTokenP95, 40);
  assert.equal(s.draftAcceptance, 0.75);
  assert.equal(s.chatRequests, 1);
  assert.equal(s.chatTokensPerSecond, 50);
  assert.equal(s.reviewTokensPerSecond, 20);
  assert.equal(s.restarts, 1);
  assert.equal(s.errors, 2);
});

test('by language: each language summarized alone; events without a language are left out', () => {
  const log: MetricEvent[] = [
    shown(1, 100),
    shown(2, 100, { language: 'python' }),
    shown(3, 100, { language: 'python' }),
    accepted(4, 3, false, { language: 'python' }),
    { kind: 'engine', t: 5, what: 'restart', language: '', model: 'qwen', adapter: '' },
  ];
  const by = summarizeBy(log, 'language');
  assert.deepEqual(Object.keys(by).sort(), ['python', 'typescript']);
  assert.equal(by.python.acceptanceRate, 0.5);
  assert.equal(by.typescript.acceptanceRate, 0);
  assert.deepEqual(Object.keys(summarizeBy(log, 'adapter')), ['(none)']);
});

test('a timeline cuts the range into buckets and leaves out what is outside it', () => {
  const log = [shown(0, 100), shown(5, 300), shown(15, 200), accepted(16, 1), shown(25, 1), shown(-1, 1)];
  const points = timeline(log, 0, 20, 2);
  assert.deepEqual(
    points.map((p) => [p.t, p.shown, p.accepted, p.latencyP95]),
    [
      [0, 2, 0, 300],
      [10, 1, 1, 200],
    ],
  );
});
