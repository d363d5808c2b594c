import assert from 'node:assert/strict';
import { test } from 'node:test';

import { AdaptiveDebounce, sleep } from '../../src/completion/debounce';

test('a fixed delay is used as is', () => {
  const debounce = new AdaptiveDebounce({ fixedMs: 75 });
  debounce.record(1000);
  assert.equal(debounce.delayMs(), 75);
});

test('adaptive: initial delay, then a share of the measured latency', () => {
  const debounce = new AdaptiveDebounce({ initialMs: 60, factor: 0.5, minMs: 10, maxMs: 200 });
  assert.equal(debounce.delayMs(), 60);
  debounce.record(100);
  assert.equal(debounce.delayMs(), 50);
  debounce.record(200); // EMA: 100·0.7 + 200·0.3 = 130
  assert.equal(debounce.latencyMs, 130);
  assert.equal(debounce.delayMs(), 65);
});

test('adaptive: clamped to [min, max]', () => {
  const fast = new AdaptiveDebounce({ minMs: 10, maxMs: 200 });
  fast.record(4);
  assert.equal(fast.delayMs(), 10);
  const slow = new AdaptiveDebounce({ minMs: 10, maxMs: 200 });
  slow.record(5000);
  assert.equal(slow.delayMs(), 200);
});

test('bad measurements are ignored', () => {
  const debounce = new AdaptiveDebounce({ initialMs: 60 });
  debounce.record(Number.NaN);
  debounce.record(-5);
  assert.equal(debounce.delayMs(), 60);
});

test('sleep resolves false as soon as the signal aborts', async () => {
  const controller = new AbortController();
  const started = performance.now();
  setTimeout(() => controller.abort(), 10);
  assert.equal(await sleep(5000, controller.signal), false);
  assert.ok(performance.now() - started < 1000);
  assert.equal(await sleep(1), true);
  assert.equal(await sleep(10, AbortSignal.abort()), false);
});

test('a cancelled request counts as a lower bound of the latency', () => {
  const debounce = new AdaptiveDebounce({ factor: 0.5, maxMs: 500 });
  debounce.recordAtLeast(300);
  assert.equal(debounce.delayMs(), 150);
  debounce.recordAtLeast(50); // shorter than what is known: no news
  assert.equal(debounce.delayMs(), 150);
  debounce.recordAtLeast(600); // 300·0.7 + 600·0.3 = 390
  assert.equal(debounce.delayMs(), 195);
});
